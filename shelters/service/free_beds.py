"""Free beds across the network, read from the counts each shelter keeps.

A shelter keeps its beds and cots in service that no open-ended period holds
(`shelter.beds_unoccupied`, `shelter.cots_unoccupied`, recounted by every flush that changes its
beds or occupancies: `shelters.models.free_beds`). Free now is that, less the beds in service held
now by a period with an end (holds, which lapse at their time with nothing written): one index
range over the periods that end after now, a few rows, never the network's beds and stays.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from core.db import UTCDateTime
from core.models import Organisation
from shelters.models import Bed, BedKind, BedOccupancy, Group, Sex, Shelter, store_free_beds
from shelters.models import recount as recount_query
from shelters.service import board_cache
from shelters.service.board_cache import Kept, Window
from shelters.service.placement import Criteria, eligibility_failures

MAX_ALTERNATIVES = 50
Counts = dict[uuid.UUID, tuple[int, int]]  # shelter id -> (beds, cots)


@dataclass(frozen=True)
class Availability:
    shelter_id: uuid.UUID
    shelter_name: str
    organisation_id: uuid.UUID
    organisation_name: str
    free_beds: int
    free_cots: int


def _held_now(now: Any) -> Any:
    """Beds (other than cots) and cots in service held at `now` by a period with an end, per
    shelter: the periods that end after now (an index range), never the open-ended ones; each
    period's bed looked up by its key (a scalar subquery, which the planner cannot turn into a
    pass over the network's beds)."""
    kind_in_service = (
        sa.select(col(Bed.kind))
        .where(col(Bed.id) == col(BedOccupancy.bed_id), col(Bed.out_of_service).is_(False))
        .scalar_subquery()
    )
    held = (
        sa.select(col(BedOccupancy.shelter_id).label("shelter_id"), kind_in_service.label("kind"))
        .where(col(BedOccupancy.ends_at) > now, col(BedOccupancy.starts_at) <= now)
        .subquery("held_periods")
    )
    is_cot = held.c.kind == BedKind.COT
    return (
        sa.select(
            held.c.shelter_id,
            sa.func.sum(sa.case((is_cot, 0), (held.c.kind.is_(None), 0), else_=1)).label("beds"),
            sa.func.sum(sa.case((is_cot, 1), else_=0)).label("cots"),
        )
        .group_by(held.c.shelter_id)
        .subquery("held")
    )


def _free_now(now: Any) -> tuple[Any, Any, Any]:
    """The held-now subquery to join, and free beds and free cots at `now` (SQL expressions)."""
    held = _held_now(now)
    beds = col(Shelter.beds_unoccupied) - sa.func.coalesce(held.c.beds, 0)
    cots = col(Shelter.cots_unoccupied) - sa.func.coalesce(held.c.cots, 0)
    return held, beds, cots


@functools.cache
def _free_counts_query(*, some: bool) -> Any:
    """Free beds and cots at `:now` of the shelters with any (of those in `:ids` when `some`)."""
    held, beds, cots = _free_now(sa.bindparam("now", type_=UTCDateTime))
    query = (
        sa.select(col(Shelter.id), beds, cots)
        .outerjoin(held, held.c.shelter_id == col(Shelter.id))
        .where(beds + cots > 0)
    )
    if some:
        query = query.where(col(Shelter.id).in_(sa.bindparam("ids", expanding=True)))
    return query


def free_bed_counts(
    session: Session, *, now: datetime, shelter_ids: Sequence[uuid.UUID] | None = None
) -> Counts:
    """Free, in-service (beds, cots) per shelter, for the shelters with any."""
    query = _free_counts_query(some=shelter_ids is not None)
    values = {"now": now, "ids": list(shelter_ids or ())}
    return {
        shelter_id: (int(free), int(free_cots))
        for shelter_id, free, free_cots in session.connection().execute(query, values)
    }


def recount_free_beds(session: Session, *, shelter_ids: Sequence[uuid.UUID] | None = None) -> None:
    """Recount and keep the free beds of these shelters (all when None): for rows written
    without the ORM, which keeps them itself (a bulk load, a repair)."""
    if shelter_ids is None:
        shelter_ids = list(session.connection().execute(sa.select(col(Shelter.id))).scalars())
    store_free_beds(session.connection(), shelter_ids)


def kept_and_counted(session: Session) -> tuple[Counts, Counts]:
    """(what the shelters keep, what a recount says), for every shelter: equal unless something
    wrote beds or periods without the ORM."""
    kept = {
        shelter_id: (beds, cots)
        for shelter_id, beds, cots in session.connection().execute(
            sa.select(col(Shelter.id), col(Shelter.beds_unoccupied), col(Shelter.cots_unoccupied))
        )
    }
    counted = dict.fromkeys(kept, (0, 0))
    for shelter_id, beds, cots in session.connection().execute(recount_query(kept)):
        counted[shelter_id] = (int(beds), int(cots))
    return kept, counted


@functools.cache
def _availability_query(*, postgresql: bool, children: bool, exclude: bool) -> Any:
    """The shelters with room for the group at `:now`, most free places first (then by name and
    id), with their eligibility columns (the JSON lists as text): built once for each shape, a
    request binds its values. The age and children rules and the room needed are taken off the
    top here; `eligibility_failures` still decides every shelter listed."""
    held, beds, cots = _free_now(sa.bindparam("now", type_=UTCDateTime))
    infants = sa.bindparam("infants", type_=sa.Integer)
    age = sa.bindparam("age", type_=sa.Integer)
    # Names as Python orders them (by code point), whatever the database's collation:
    # PostgreSQL's "C" compares UTF-8 bytes, SQLite's default (binary) already does.
    name = col(Shelter.name).collate("C") if postgresql else col(Shelter.name)
    query = (
        sa.select(
            col(Shelter.id),
            col(Shelter.name),
            col(Shelter.organisation_id),
            col(Organisation.name),
            sa.cast(col(Shelter.sexes), sa.Text),
            col(Shelter.min_age),
            col(Shelter.max_age),
            sa.cast(col(Shelter.groups), sa.Text),
            col(Shelter.accepts_children),
            beds,
            cots,
        )
        .join(Organisation, col(Organisation.id) == col(Shelter.organisation_id))
        .outerjoin(held, held.c.shelter_id == col(Shelter.id))
        .where(
            beds >= sa.bindparam("need_beds"),
            beds + sa.case((cots < infants, cots), else_=infants) >= sa.bindparam("people"),
            col(Shelter.min_age) <= age,
            sa.or_(col(Shelter.max_age).is_(None), col(Shelter.max_age) >= age),
        )
        .order_by((beds + cots).desc(), name, col(Shelter.id))
    )
    if children:
        query = query.where(col(Shelter.accepts_children).is_(True))
    if exclude:
        query = query.where(col(Shelter.id) != sa.bindparam("exclude"))
    return query


def network_availability(
    session: Session,
    *,
    now: datetime,
    sex: Sex,
    age: int,
    group: Group | None,
    children: int,
    infants: int = 0,
    exclude: uuid.UUID | None = None,
) -> list[Availability]:
    """Shelters of the whole network with enough free eligible beds: counts, never places.

    Children under three (`infants`) may take cots, everyone else needs a bed. The 50 shelters
    with most free places are listed (then by name and id): the database orders those with room,
    `eligibility_failures` decides each (once for each distinct set of rules), and the walk
    stops at the 50th. The answer is kept (`board_cache`) while no shelter's board version
    changes and no hold ends: a request then reads the versions' sum instead.
    """
    infants = min(infants, children)
    question = (sex, age, group, children, infants, exclude)
    if not board_cache.may_keep(session):
        return _available(session, now, question)
    version = tuple(session.connection().execute(_network_version_query()).one())
    kept = ANSWERS.get(question, version=version, now=now)
    if kept is not None:
        return list(kept)
    found = _available(session, now, question)
    changes = session.connection().execute(_next_change_query(), {"now": now}).one()
    ANSWERS.put(question, Window(version, now, board_cache.window_until(now, changes)), found)
    return list(found)


Question = tuple[Sex, int, Group | None, int, int, uuid.UUID | None]
# Each process's kept answers (`board_cache`): by question, while the network's versions and the
# next hold's end allow.
ANSWERS: Kept[Question, list[Availability]] = Kept(board_cache.ANSWERS)


@functools.cache
def _network_version_query() -> Any:
    """How many shelters there are and the sum of their board versions: any committed change
    to what the network's free beds are read from changes the sum."""
    return sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(col(Shelter.board_version)), 0))


@functools.cache
def _next_change_query() -> Any:
    """The first end after `:now` of a period of the network, and the first start after it of
    one with an end (open-ended ones are in the kept counts from their start): the index range
    of the periods that end after now."""
    now = sa.bindparam("now", type_=UTCDateTime)
    starts_at = col(BedOccupancy.starts_at)
    later_start = sa.case((starts_at > now, starts_at), else_=None)
    return sa.select(sa.func.min(col(BedOccupancy.ends_at)), sa.func.min(later_start)).where(
        col(BedOccupancy.ends_at) > now
    )


def _available(session: Session, now: datetime, question: Question) -> list[Availability]:
    sex, age, group, children, infants, exclude = question
    query = _availability_query(
        postgresql=session.get_bind().dialect.name == "postgresql",
        children=children > 0,
        exclude=exclude is not None,
    )
    values = {
        "now": now,
        "age": age,
        "infants": infants,
        "need_beds": 1 + children - infants,
        "people": 1 + children,
        "exclude": exclude,
    }
    eligible: dict[tuple[Any, ...], bool] = {}
    found: list[Availability] = []
    rows = session.connection().execute(query, values)
    try:
        for shelter_id, name, organisation_id, organisation_name, *rules, free, free_cots in rows:
            key = tuple(rules)
            if key not in eligible:
                failures = eligibility_failures(
                    _criteria(*rules), sex=sex, age=age, group=group, children=children
                )
                eligible[key] = not failures
            if eligible[key]:
                found.append(
                    Availability(
                        shelter_id,
                        name,
                        organisation_id,
                        organisation_name,
                        int(free),
                        int(free_cots),
                    )
                )
                if len(found) == MAX_ALTERNATIVES:
                    break
    finally:
        rows.close()
    found.sort(key=lambda a: (-(a.free_beds + a.free_cots), a.shelter_name, a.shelter_id))
    return found


def _criteria(
    sexes: str, min_age: int, max_age: int | None, groups: str, accepts_children: bool
) -> Criteria:
    """A shelter's eligibility columns as read (the JSON lists as their text)."""
    return Criteria(
        [Sex(x) for x in json.loads(sexes)],
        min_age,
        max_age,
        [Group(g) for g in json.loads(groups)],
        accepts_children,
    )
