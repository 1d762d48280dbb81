"""The organisation's figures per shelter: bed nights (a person in a bed at 00:00 local),
occupancy, admissions, stays ended, extensions and turn-aways, each an aggregate in the database."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, or_, select

from core.errors import InvalidInput
from core.localtime import local_midnight, nights
from shelters import errors
from shelters.models import (
    AdmissionChannel,
    BedOccupancy,
    ExtensionStatus,
    OccupancyKind,
    Shelter,
    Stay,
    StayExtension,
    TurnAway,
)

MAX_FIGURES_DAYS = 366


@dataclass
class ShelterFigures:
    shelter_id: uuid.UUID
    shelter_name: str
    nights_in_period: int
    hard_capacity: int
    bed_nights: int = 0
    child_bed_nights: int = 0
    admissions: int = 0
    people_admitted: int = 0
    children_admitted: int = 0
    admissions_by_channel: dict[str, int] = field(default_factory=dict)
    at_distance_admissions: int = 0
    stays_ended: int = 0
    average_length_of_stay_days: float | None = None
    extensions_approved: int = 0
    turn_aways: int = 0
    turned_away_children: int = 0

    @property
    def occupancy_rate(self) -> float:
        available = self.hard_capacity * self.nights_in_period
        return round(self.bed_nights / available, 4) if available else 0.0


def period_bounds(first: date, last: date, zone: str) -> tuple[datetime, datetime]:
    """[00:00 local on `first`, 00:00 local on the day after `last`)."""
    return local_midnight(first, zone), local_midnight(last + timedelta(days=1), zone)


def check_period(first: date, last: date) -> None:
    if last < first:
        raise InvalidInput(errors.PERIOD_BACKWARDS)
    if (last - first).days + 1 > MAX_FIGURES_DAYS:
        raise InvalidInput(errors.PERIOD_TOO_LONG.format(days=MAX_FIGURES_DAYS))


def figures(
    session: Session,
    *,
    shelters: Sequence[Shelter],
    first: date,
    last: date,
    now: datetime,
) -> list[ShelterFigures]:
    """Bed nights (a person in a bed at 00:00 local), occupancy, stays, extensions, turn-aways.

    Nights still to come are not counted: a stay that is open counts up to `now`. Every count is
    an aggregate in the database, one query per figure and time zone, whatever the period.
    """
    check_period(first, last)
    if not shelters:
        return []
    bounds = {s.id: period_bounds(first, last, s.time_zone) for s in shelters}
    span = (last - first).days + 1
    into = {s.id: ShelterFigures(s.id, s.name, span, s.hard_capacity) for s in shelters}
    bed_nights(session, shelters=shelters, bounds=bounds, now=now, into=into)
    # Shelters in one zone share the period's bounds, so each zone is one set of queries.
    zones: dict[tuple[datetime, datetime], list[uuid.UUID]] = defaultdict(list)
    for shelter_id, period in bounds.items():
        zones[period].append(shelter_id)
    seconds = _seconds_between(session)
    for (start, end), ids in zones.items():
        _admissions(session, ids=ids, start=start, end=end, into=into)
        _ended(session, ids=ids, start=start, end=end, seconds=seconds, into=into)
    return [into[s.id] for s in shelters]


def _admissions(
    session: Session,
    *,
    ids: list[uuid.UUID],
    start: datetime,
    end: datetime,
    into: dict[uuid.UUID, ShelterFigures],
) -> None:
    """Admissions in the period (by their real date), by channel, with their people."""
    for shelter_id, channel, count, distance, people, children in (
        session.connection()
        .execute(
            sa.select(
                col(Stay.shelter_id),
                col(Stay.channel),
                func.count(),
                func.sum(sa.case((col(Stay.at_distance), 1), else_=0)),
                func.sum(col(Stay.people)),
                func.sum(col(Stay.children)),
            )
            .where(
                col(Stay.shelter_id).in_(ids),
                col(Stay.admitted_at) >= start,
                col(Stay.admitted_at) < end,
            )
            .group_by(col(Stay.shelter_id), col(Stay.channel))
        )
        .all()
    ):
        f = into[shelter_id]
        f.admissions += count
        f.admissions_by_channel[AdmissionChannel(channel).value] = count
        f.at_distance_admissions += int(distance or 0)
        f.people_admitted += int(people or 0)
        f.children_admitted += int(children or 0)


def _ended(
    session: Session,
    *,
    ids: list[uuid.UUID],
    start: datetime,
    end: datetime,
    seconds: Any,
    into: dict[uuid.UUID, ShelterFigures],
) -> None:
    """Stays ended in the period (and their average length), extensions approved, turn-aways."""
    for shelter_id, count, average in session.exec(
        select(Stay.shelter_id, func.count(), func.avg(seconds))
        .where(
            col(Stay.shelter_id).in_(ids),
            col(Stay.ended_at) >= start,
            col(Stay.ended_at) < end,
        )
        .group_by(col(Stay.shelter_id))
    ).all():
        f = into[shelter_id]
        f.stays_ended = count
        f.average_length_of_stay_days = round(float(average) / 86_400, 2)
    for shelter_id, count in session.exec(
        select(Stay.shelter_id, func.count())
        .join(StayExtension, col(StayExtension.stay_id) == col(Stay.id))
        .where(
            col(Stay.shelter_id).in_(ids),
            StayExtension.status == ExtensionStatus.APPROVED,
            col(StayExtension.decided_at) >= start,
            col(StayExtension.decided_at) < end,
        )
        .group_by(col(Stay.shelter_id))
    ).all():
        into[shelter_id].extensions_approved = count
    for shelter_id, count, children in session.exec(
        select(TurnAway.shelter_id, func.count(), func.sum(TurnAway.children))
        .where(
            col(TurnAway.shelter_id).in_(ids),
            TurnAway.occurred_at >= start,
            TurnAway.occurred_at < end,
        )
        .group_by(col(TurnAway.shelter_id))
    ).all():
        into[shelter_id].turn_aways = count
        into[shelter_id].turned_away_children = int(children or 0)


def _seconds_between(session: Session) -> Any:
    """A stay's length in seconds, as each database computes it."""
    ended, admitted = col(Stay.ended_at), col(Stay.admitted_at)
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", ended - admitted)
    return (func.julianday(ended) - func.julianday(admitted)) * 86_400


def bed_nights(
    session: Session,
    *,
    shelters: Sequence[Shelter],
    bounds: dict[uuid.UUID, tuple[datetime, datetime]],
    now: datetime,
    into: dict[uuid.UUID, ShelterFigures],
) -> None:
    """Add each shelter's bed nights (and children's) in its period to `into`.

    PostgreSQL counts in SQL with the same rule as `core.localtime.nights`; SQLite, which has no
    time zones, streams the occupancies through that function.
    """
    if session.get_bind().dialect.name == "postgresql":
        _bed_nights_sql(session, shelters=shelters, bounds=bounds, now=now, into=into)
        return
    for shelter in shelters:
        start, end = bounds[shelter.id]
        rows = session.exec(
            select(BedOccupancy.starts_at, BedOccupancy.ends_at, BedOccupancy.child).where(
                BedOccupancy.shelter_id == shelter.id,
                BedOccupancy.kind == OccupancyKind.OCCUPIED,
                BedOccupancy.starts_at < end,
                or_(col(BedOccupancy.ends_at).is_(None), col(BedOccupancy.ends_at) > start),
            )
        ).all()
        f = into[shelter.id]
        for starts_at, ends_at, child in rows:
            counted = nights(
                max(starts_at, start), min(ends_at or now, end, now), shelter.time_zone
            )
            f.bed_nights += counted
            if child:
                f.child_bed_nights += counted


_BED_NIGHTS_SQL = sa.text(
    """
    WITH p AS (
        SELECT * FROM unnest(
            CAST(:ids AS uuid[]), CAST(:zones AS text[]),
            CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[])
        ) AS p(shelter_id, zone, period_start, period_end)
    ), clipped AS (
        SELECT o.shelter_id, o.child, p.zone,
               GREATEST(o.starts_at, p.period_start) AS s,
               LEAST(COALESCE(o.ends_at, :now), p.period_end, :now) AS e
        FROM shelter_bed_occupancy o JOIN p ON p.shelter_id = o.shelter_id
        WHERE o.kind = 'occupied' AND o.starts_at < p.period_end
          AND (o.ends_at IS NULL OR o.ends_at > p.period_start)
    )
    SELECT shelter_id, child,
           SUM(((e - interval '1 microsecond') AT TIME ZONE zone)::date
               - ((s - interval '1 microsecond') AT TIME ZONE zone)::date) AS nights
    FROM clipped WHERE e > s GROUP BY shelter_id, child
    """
)


def _bed_nights_sql(
    session: Session,
    *,
    shelters: Sequence[Shelter],
    bounds: dict[uuid.UUID, tuple[datetime, datetime]],
    now: datetime,
    into: dict[uuid.UUID, ShelterFigures],
) -> None:
    params: dict[str, Any] = {
        "now": now,
        "ids": [s.id for s in shelters],
        "zones": [s.time_zone for s in shelters],
        "starts": [bounds[s.id][0] for s in shelters],
        "ends": [bounds[s.id][1] for s in shelters],
    }
    for shelter_id, child, counted in session.connection().execute(_BED_NIGHTS_SQL, params):
        f = into[shelter_id]
        f.bed_nights += int(counted)
        if child:
            f.child_bed_nights += int(counted)
