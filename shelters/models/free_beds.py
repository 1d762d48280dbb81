"""The free beds each shelter keeps: `shelter.beds_unoccupied` and `shelter.cots_unoccupied`.

A kept count is, by definition, what a recount says: the shelter's beds in service of that kind
(beds: every kind but cots) with no open-ended occupancy (`ends_at` NULL). Every flush of a
session that adds, changes or removes a bed or an occupancy recounts the shelters it touched, in
the flush's own transaction (so the counts commit, or roll back, with the change):

- first it takes those shelters' row locks, in id order (where the service took them already, as
  every change to a shelter's beds does first, `shelters.service.common.lock_shelter`, this
  waits for nothing);
- then it recounts them from their beds and open periods (one index range each, never the whole
  network) and writes the counts.

Under PostgreSQL's read committed, a statement that runs once the lock is held sees every change
committed by whoever held it before, and whoever comes next recounts after this transaction has
committed: concurrent changes never write counts of each other's half-done work, and a recount
repairs whatever came before it. On SQLite writers are serialised anyway.

Holds (periods with an end) are not kept: they lapse at their time, with nothing written. Whoever
reads the counts subtracts the holds in force at that instant (`shelters.service.free_beds`).

The listener is registered when this package is imported, so no session writes a bed or an
occupancy without it. Writes that bypass the ORM (COPY, Core statements) must call
`store_free_beds` themselves, as the benchmark's seed and migration 0011 do.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, UOWTransaction
from sqlmodel import col

from shelters.models.shelters import Bed, BedKind, Shelter
from shelters.models.stays import BedOccupancy

# The columns a recount depends on: a change to any other column leaves the counts as they are.
COUNTED: dict[type[Any], tuple[str, ...]] = {
    Bed: ("shelter_id", "kind", "out_of_service"),
    BedOccupancy: ("shelter_id", "bed_id", "ends_at"),
}


def recount(shelter_ids: Iterable[uuid.UUID]) -> sa.Select[uuid.UUID, Any, Any]:
    """(shelter id, beds, cots) in service with no open-ended period, for these shelters; a
    shelter without any is absent."""
    ids = list(shelter_ids)
    is_cot = col(Bed.kind) == BedKind.COT
    open_ended = sa.select(col(BedOccupancy.bed_id)).where(
        col(BedOccupancy.shelter_id).in_(ids), col(BedOccupancy.ends_at).is_(None)
    )
    return (
        sa.select(
            col(Bed.shelter_id),
            sa.func.sum(sa.case((is_cot, 0), else_=1)),
            sa.func.sum(sa.case((is_cot, 1), else_=0)),
        )
        .where(
            col(Bed.shelter_id).in_(ids),
            col(Bed.out_of_service).is_(False),
            col(Bed.id).not_in(open_ended),
        )
        .group_by(col(Bed.shelter_id))
    )


def store_free_beds(connection: sa.Connection, shelter_ids: Iterable[uuid.UUID]) -> None:
    """Recount these shelters under their row locks and keep the counts."""
    ids = sorted(set(shelter_ids))
    if not ids:
        return
    connection.execute(
        sa.select(col(Shelter.id))
        .where(col(Shelter.id).in_(ids))
        .order_by(col(Shelter.id))
        # FOR NO KEY UPDATE: it waits for another recount or a `lock_shelter` (FOR UPDATE), but
        # not for the key-share locks that inserting a row referring to the shelter takes (two
        # writers that each inserted a bed and then asked for FOR UPDATE would deadlock).
        .with_for_update(key_share=True)
    )
    counted = {row[0]: (int(row[1]), int(row[2])) for row in connection.execute(recount(ids))}
    connection.execute(
        sa.update(Shelter)
        .where(col(Shelter.id) == sa.bindparam("shelter"))
        .values(beds_unoccupied=sa.bindparam("beds"), cots_unoccupied=sa.bindparam("cots")),
        [
            {"shelter": shelter_id, "beds": beds, "cots": cots}
            for shelter_id in ids
            for beds, cots in [counted.get(shelter_id, (0, 0))]
        ],
    )


def touched_shelters(session: Session) -> set[uuid.UUID]:
    """The shelters whose beds or occupancies this flush adds, removes or changes in a way that
    can move their counts (before and after, if a row moved to another shelter)."""
    found: set[uuid.UUID] = set()
    for row in itertools.chain(session.new, session.deleted):
        if type(row) in COUNTED:
            found.add(row.shelter_id)
    for row in session.dirty:
        counted = COUNTED.get(type(row))
        if counted is None:
            continue
        attributes = sa.inspect(row).attrs
        if any(attributes[name].history.has_changes() for name in counted):
            found.add(row.shelter_id)
            found.update(attributes["shelter_id"].history.deleted or ())
    return found


@event.listens_for(Session, "after_flush")
def _keep_free_beds(session: Session, _flush: UOWTransaction) -> None:
    touched = touched_shelters(session)
    if touched:
        store_free_beds(session.connection(), touched)
