"""What each shelter keeps of its beds: its free beds (`shelter.beds_unoccupied` and
`shelter.cots_unoccupied`) and its board version (`shelter.board_version`).

A kept count is, by definition, what a recount says: the shelter's beds in service of that kind
(beds: every kind but cots) with no open-ended occupancy (`ends_at` NULL). The board version is
drawn anew (a random 40-bit number) by every change to what the shelter's bed board or the
network's free beds are read from: the columns shown of the shelter's own row, its rooms, beds,
occupancies, stays and their people, and its organisation's name (`BOARD_INPUTS`). Every flush
of a session that adds, changes or removes such a row does both for the shelters it touched, in
the flush's own transaction (so they commit, or roll back, with the change):

- first it takes those shelters' row locks, in id order (where the service took them already, as
  every change to a shelter's beds does first, `shelters.service.common.lock_shelter`, this
  waits for nothing);
- then it recounts them from their beds and open periods (one index range each, never the whole
  network), writes the counts and draws the versions.

Under PostgreSQL's read committed, a statement that runs once the lock is held sees every change
committed by whoever held it before, and whoever comes next recounts after this transaction has
committed: concurrent changes never write counts of each other's half-done work, and a recount
repairs whatever came before it. On SQLite writers are serialised anyway. A board read at a
version is the board until that version changes (`shelters.service.board_cache`). Random rather
than counted, so that no two histories share one (a history rolled back, as every test's is, or
another database served by the same process): two versions of a shelter, or two sums of the
network's, are equal by chance once in 2^40.

Holds (periods with an end) are not kept: they lapse at their time, with nothing written. Whoever
reads the counts subtracts the holds in force at that instant (`shelters.service.free_beds`), and
a kept board or network answer is good only until the next of them ends.

The listener is registered when this package is imported, so no session writes these rows
without it. Writes that bypass the ORM (COPY, Core statements) must call `store_free_beds`
themselves, as the benchmark's seed and migration 0011 do. The session that flushed is marked
(`wrote_board`) until its transaction ends: what it reads is not yet anyone else's, so it is
never kept.
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

from core.models import Organisation
from shelters.models.shelters import Bed, BedKind, Room, Shelter, new_board_version
from shelters.models.stays import BedOccupancy, Stay, StayMember

# The rows a shelter's board and its free beds are read from: for each, its shelter's column and
# the columns shown (None: all of them). A change to another column (a stay's status, its CSW
# decision) changes no board, and takes no lock on the shelter's row.
BOARD_INPUTS: dict[type[Any], tuple[str, frozenset[str] | None]] = {
    Shelter: (
        "id",
        frozenset(
            {"name", "organisation_id", "sexes", "min_age", "max_age", "groups", "accepts_children"}
        ),
    ),
    Room: ("shelter_id", frozenset({"name", "shelter_id"})),
    Bed: ("shelter_id", None),
    BedOccupancy: ("shelter_id", None),
    Stay: ("shelter_id", frozenset({"reference", "shelter_id"})),
    StayMember: ("stay_id", frozenset({"stay_id", "role", "name_key_id", "name_sealed"})),
}
# A session that flushed a change to a board's rows, until its transaction ends.
WROTE_BOARD = "wrote_board"


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
    """Recount these shelters under their row locks, keep the counts and give each a new board
    version."""
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
        .values(
            beds_unoccupied=sa.bindparam("beds"),
            cots_unoccupied=sa.bindparam("cots"),
            board_version=sa.bindparam("version"),
        ),
        [
            {"shelter": shelter_id, "beds": beds, "cots": cots, "version": new_board_version()}
            for shelter_id in ids
            for beds, cots in [counted.get(shelter_id, (0, 0))]
        ],
    )


def _changed(session: Session, row: Any, shown: frozenset[str] | None) -> bool:
    """Whether a row of the flush is new or gone, or changed in a column that is `shown`."""
    if row in session.new or row in session.deleted:
        return True
    attributes = sa.inspect(row).attrs
    return any(a.history.has_changes() for a in attributes if shown is None or a.key in shown)


def touched_shelters(session: Session) -> set[uuid.UUID]:
    """The shelters whose board or free beds this flush may change (before and after, if a row
    moved to another shelter)."""
    found: set[uuid.UUID] = set()
    stays: set[uuid.UUID] = set()
    organisations: set[uuid.UUID] = set()
    for row in itertools.chain(session.new, session.deleted, session.dirty):
        kind = type(row)
        if kind is Organisation:
            if row not in session.new and sa.inspect(row).attrs["name"].history.has_changes():
                organisations.add(row.id)
            continue
        if kind not in BOARD_INPUTS or (kind is Shelter and row in session.new):
            continue
        column, shown = BOARD_INPUTS[kind]
        if not _changed(session, row, shown):
            continue
        into = stays if kind is StayMember else found
        into.add(getattr(row, column))
        into.update(sa.inspect(row).attrs[column].history.deleted or ())
    connection = session.connection()
    if stays:
        found.update(
            connection.execute(
                sa.select(col(Stay.shelter_id)).where(col(Stay.id).in_(sorted(stays)))
            ).scalars()
        )
    if organisations:
        found.update(
            connection.execute(
                sa.select(col(Shelter.id)).where(
                    col(Shelter.organisation_id).in_(sorted(organisations))
                )
            ).scalars()
        )
    return found


@event.listens_for(Session, "after_flush")
def _keep_free_beds(session: Session, _flush: UOWTransaction) -> None:
    touched = touched_shelters(session)
    if touched:
        session.info[WROTE_BOARD] = True
        store_free_beds(session.connection(), touched)


@event.listens_for(Session, "after_transaction_end")
def _forget_writes(session: Session, transaction: Any) -> None:
    """A transaction ended (committed or rolled back): its writes are everyone's, or nobody's."""
    if transaction.parent is None:
        session.info.pop(WROTE_BOARD, None)
