"""Boards and network answers kept in memory (`shelters.service.board_cache`): the rule as a
table, the store, and the cases a random sequence seldom makes: a hold that lapses with nothing
written, a session that wrote and then rolled back, a clock that reads earlier. That every change
to what a board shows is seen at once is the free-beds state machine's (`test_free_beds`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from core.audit import Actor
from core.crypto import FieldCipher
from shelters import service
from shelters.models import BedState, HoldCreate, Sex
from shelters.models.free_beds import WROTE_BOARD
from shelters.service.board_cache import (
    MAX_AGE,
    Kept,
    Window,
    may_keep,
    still_good,
    window_until,
)
from tests.shelters.conftest import Place

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
S = timedelta(seconds=1)
MIN = timedelta(minutes=1)


# --- the rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "until"),
    [
        ([], AT + MAX_AGE),
        ([None], AT + MAX_AGE),
        ([AT + 30 * S], AT + 30 * S),  # a hold ends before the age limit
        ([AT + 30 * S, AT + 10 * S, None], AT + 10 * S),  # the first of them
        ([AT - MIN, AT], AT + MAX_AGE),  # ended already, or ending as it is read: no limit
        ([AT + 2 * MAX_AGE], AT + MAX_AGE),  # a hold ending later: the age limit
    ],
)
def test_a_kept_answer_is_good_until_the_first_change_after_it_was_read(
    changes: list[datetime | None], until: datetime
) -> None:
    assert window_until(AT, changes) == until


WINDOW = Window(version=7, read_at=AT, until=AT + 10 * MIN)


@pytest.mark.parametrize(
    ("version", "now", "good"),
    [
        (7, AT, True),  # as it was read
        (7, AT + 10 * MIN - timedelta(microseconds=1), True),
        (7, AT + 10 * MIN, False),  # the hold has ended
        (7, AT - timedelta(microseconds=1), False),  # an instant before it was read
        (8, AT + MIN, False),  # the shelter changed
        ((3, 7), AT + MIN, False),  # another kind of version altogether
    ],
)
def test_a_kept_answer_stands_while_its_version_and_window_do(
    version: object, now: datetime, good: bool
) -> None:
    assert still_good(WINDOW, version=version, now=now) is good


def test_the_store_forgets_the_least_recently_read_first() -> None:
    kept: Kept[str, str] = Kept(2)
    for key in ("a", "b"):
        kept.put(key, WINDOW, key.upper())
    assert kept.get("a", version=7, now=AT) == "A"  # "b" is now the least recently read
    kept.put("c", WINDOW, "C")
    assert [kept.get(k, version=7, now=AT) for k in ("a", "b", "c")] == ["A", None, "C"]
    assert (kept.hits, kept.misses, len(kept)) == (3, 1, 2)


# --- on the database --------------------------------------------------------------------------


def _as_another_request(db: Session) -> None:
    """What the test wrote counts as committed: a request that wrote nothing reads after it."""
    db.info.pop(WROTE_BOARD, None)


def _states(db: Session, place: Place, now: datetime) -> dict[str, BedState]:
    return {e.bed.label: e.state for e in service.bed_board(db, shelter=place.shelter, now=now)}


def _hold(db: Session, place: Place, cipher: FieldCipher, label: str, held: timedelta) -> None:
    now = place.world.clock.now()
    service.hold_bed(
        db,
        now=now,
        shelter=place.shelter,
        data=HoldCreate(bed_id=place.bed(label).id, until=now + held, note="On her way"),
        cipher=cipher,
        actor=Actor("user", str(place.staff.id), place.organisation.id),
    )


def test_a_hold_lapses_on_a_kept_board_and_in_the_networks_answer_with_nothing_written(
    db: Session, place: Place, cipher: FieldCipher
) -> None:
    _hold(db, place, cipher, "A1", 40 * S)
    _as_another_request(db)
    now = place.world.clock.now()

    def free_beds(at: datetime) -> int:
        found = service.network_availability(
            db, now=at, sex=Sex.FEMALE, age=30, group=None, children=0
        )
        return next(a.free_beds for a in found if a.shelter_id == place.shelter.id)

    assert _states(db, place, now)["A1"] is BedState.RESERVED  # read and kept
    assert free_beds(now) == 1
    hits = service.BOARDS.hits
    answers = service.ANSWERS.hits
    assert _states(db, place, now + 39 * S)["A1"] is BedState.RESERVED
    assert free_beds(now + 39 * S) == 1
    assert (service.BOARDS.hits, service.ANSWERS.hits) == (hits + 1, answers + 1)  # kept
    assert _states(db, place, now + 40 * S)["A1"] is BedState.FREE  # read again
    assert free_beds(now + 40 * S) == 2


def test_what_a_session_read_after_writing_is_never_kept(
    db: Session, place: Place, cipher: FieldCipher
) -> None:
    _as_another_request(db)
    now = place.world.clock.now()
    assert _states(db, place, now)["A2"] is BedState.FREE  # kept
    savepoint = db.begin_nested()
    _hold(db, place, cipher, "A2", MIN)
    assert may_keep(db) is False
    assert _states(db, place, now)["A2"] is BedState.RESERVED  # its own write, read afresh
    savepoint.rollback()  # the request failed: the hold was never anyone's
    _as_another_request(db)
    assert _states(db, place, now)["A2"] is BedState.FREE


def test_a_clock_that_reads_earlier_than_the_kept_board_reads_again(
    db: Session, place: Place, cipher: FieldCipher
) -> None:
    _as_another_request(db)
    now = place.world.clock.now()
    assert _states(db, place, now)["A1"] is BedState.FREE
    misses = service.BOARDS.misses
    assert _states(db, place, now - MIN)["A1"] is BedState.FREE
    assert service.BOARDS.misses == misses + 1
