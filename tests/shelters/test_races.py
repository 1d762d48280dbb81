"""Beds are never double-booked: racing requests with real commits, and the database's own guard.

The races run on PostgreSQL through the real application, each request its own unit of work
that commits (as in production), in a database of this module's own that is dropped afterwards:
nothing they commit, audit events included, reaches the database the other tests share.
The guard tests run on both backends, inside the usual rolled-back transaction.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from core import audit
from core.app import create_app
from core.audit import Actor
from core.auth import SESSION_COOKIE, new_secret, token_digest
from core.clock import FrozenClock
from core.config import Settings
from core.crypto import FieldCipher
from core.db import create_db_engine, unit_of_work, upgrade
from core.models import AuthSession, Role, User
from shelters import service
from shelters.models import AdmissionChannel as Channel
from shelters.models import (
    AdmissionCreate,
    BedKind,
    BedOccupancy,
    ExtensionCreate,
    ExtensionStatus,
    MemberRole,
    OccupancyKind,
    PersonIn,
    Sex,
    Shelter,
    Stay,
    StayExtension,
    StayMember,
    TurnAway,
)
from tests.conftest import (
    T0,
    World,
    drop_postgres_database,
    make_settings,
    private_postgres_url,
    recreate_postgres_database,
)
from tests.shelters.conftest import Place, admission, assign, make_shelter

RACERS = 20
TAKEN = "That bed is already taken: choose another or refresh the bed board."
AT_CAPACITY = (
    "No eligible free bed here: the shelter is at capacity. The partner shelters listed have "
    "free eligible beds; support at distance is also possible. A turn-away has been recorded."
)
NO_FREE_BED = (
    "No eligible free bed here: there is no free bed for every person of the group. The partner "
    "shelters listed have free eligible beds; support at distance is also possible. A turn-away "
    "has been recorded."
)
BEDS = (("A1", BedKind.BED), ("A2", BedKind.BED), ("A3", BedKind.BED))
LAST = "A3"  # A1 and A2 are taken before the race
JUSTIFICATION = "The CSW has not yet found a longer-term placement for the family."


# --- a shelter with one free bed, committed ---------------------------------------------------


@dataclass(frozen=True)
class Committed:
    organisation_id: uuid.UUID
    shelter_id: uuid.UUID
    beds: dict[str, uuid.UUID]
    stays: list[uuid.UUID]  # the two admitted before the race, in A1 and A2
    # One login session per racer, so that no two requests share a session row.
    tokens: list[str]  # the shelter's staff member's
    supervisor_tokens: list[str]

    @property
    def url(self) -> str:
        return f"/organisations/{self.organisation_id}/shelters/{self.shelter_id}"


def _sessions(session: Session, user: User, count: int) -> list[str]:
    tokens = [new_secret() for _ in range(count)]
    session.add_all(
        AuthSession(
            user_id=user.id,
            token_hash=token_digest(token),
            created_at=T0,
            last_seen_at=T0,
            expires_at=T0 + timedelta(hours=12),
        )
        for token in tokens
    )
    session.flush()
    return tokens


def _commit_shelter_with_one_free_bed(
    engine: Engine, cipher: FieldCipher, clock: FrozenClock, password_hash: str, hard: int
) -> Committed:
    with unit_of_work(engine) as session:
        world = World(session, clock, password_hash)
        organisation = world.organisation()
        shelter, beds = make_shelter(world, cipher, organisation, beds=BEDS, hard_capacity=hard)
        staff = world.user(organisation, Role.SHELTER_STAFF, display_name="Shelter Worker")
        supervisor = world.user(organisation, Role.SUPERVISOR, display_name="Shift Supervisor")
        assign(world, shelter, staff)
        stays = []
        for label in ("A1", "A2"):
            bed = next(b for b in beds if b.label == label)
            result = service.admit(
                session,
                now=clock.now(),
                shelter=shelter,
                data=AdmissionCreate(
                    client=PersonIn(name="Earlier Test", sex=Sex.FEMALE, age=30, bed_id=bed.id),
                    channel=Channel.IN_PERSON,
                    municipality="Podgorica",
                ),
                cipher=cipher,
                actor=Actor("user", str(staff.id), organisation.id),
                actor_roles=frozenset({Role.SHELTER_STAFF}),
                user_id=staff.id,
            )
            assert isinstance(result, service.Admitted)
            stays.append(result.stay.id)
        return Committed(
            organisation.id,
            shelter.id,
            {b.label: b.id for b in beds},
            stays,
            _sessions(session, staff, RACERS + 1),
            _sessions(session, supervisor, 3),
        )


@dataclass(frozen=True)
class RaceDatabase:
    settings: Settings
    engine: Engine


@pytest.fixture(scope="module")
def race_db(backend: str) -> Iterator[RaceDatabase]:
    """A PostgreSQL database of this module's own, migrated and dropped afterwards: the races
    commit for real, and what they commit (audit events included, which are never deleted)
    never meets the other tests' shared database."""
    assert backend == "postgresql"
    url = private_postgres_url("_races")
    recreate_postgres_database(url)
    settings = make_settings(url)
    engine = create_db_engine(settings)
    try:
        upgrade(settings, engine)
        yield RaceDatabase(settings, engine)
    finally:
        engine.dispose()
        drop_postgres_database(url)


@pytest.fixture
def committed_app(race_db: RaceDatabase, clock: FrozenClock) -> Iterator[TestClient]:
    """The real application: every request commits its own unit of work."""
    app = create_app(race_db.settings, engine=race_db.engine, clock=clock)
    with TestClient(app, base_url="https://testserver") as client:
        yield client


def _cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={token}"}


def _race(
    client: TestClient,
    requests: list[tuple[str, dict[str, Any], str]],
    meanwhile: Callable[[], None] | None = None,
) -> list[Any]:
    """POST every (path, body, login token) at once; the answers in the same order.
    `meanwhile` runs while the requests are under way."""
    start = threading.Barrier(len(requests))
    answers: list[Any] = [None] * len(requests)
    failures: list[BaseException] = []

    def post(index: int) -> None:
        path, body, token = requests[index]
        try:
            start.wait(timeout=30)
            answers[index] = client.post(path, json=body, headers=_cookie(token))
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(len(requests))]
    for thread in threads:
        thread.start()
    try:
        if meanwhile is not None:
            meanwhile()
    finally:
        for thread in threads:
            thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    return answers


@pytest.mark.postgresql_only
@pytest.mark.parametrize(
    ("named", "hard", "refusal"),
    [
        pytest.param(False, 3, ("capacity", AT_CAPACITY), id="any-bed-capacity-binds"),
        pytest.param(False, 5, ("no_free_bed", NO_FREE_BED), id="any-bed-beds-bind"),
        pytest.param(True, 3, ("capacity", AT_CAPACITY), id="named-bed-capacity-binds"),
        pytest.param(True, 5, None, id="named-bed-beds-bind"),
    ],
)
def test_twenty_admissions_racing_for_the_last_bed_give_one_stay(
    race_db: RaceDatabase,
    cipher: FieldCipher,
    clock: FrozenClock,
    fixture_password_hash: str,
    committed_app: TestClient,
    named: bool,
    hard: int,
    refusal: tuple[str, str] | None,
) -> None:
    """One 201; nineteen 409s: a recorded turn-away when capacity or the beds run out, the plain
    "already taken" conflict (nothing recorded) when every racer names the last bed."""
    engine = race_db.engine
    made = _commit_shelter_with_one_free_bed(engine, cipher, clock, fixture_password_hash, hard)
    last = made.beds[LAST]
    with unit_of_work(engine) as session:
        events_before = session.exec(select(func.count()).select_from(audit.AuditEvent)).one()
    bodies = [admission(name=f"Racer {n} Test") for n in range(RACERS)]
    if named:
        for body in bodies:
            body["client"]["bed_id"] = str(last)

    answers = _race(
        committed_app,
        [(made.url + "/stays", body, made.tokens[n]) for n, body in enumerate(bodies)],
    )

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [409] * (RACERS - 1), [a.text for a in answers]
    winner = next(a.json() for a in answers if a.status_code == 201)
    assert [m["bed_id"] for m in winner["members"]] == [str(last)]
    losers = [a.json() for a in answers if a.status_code == 409]
    if refusal is None:
        assert losers == [{"error": "conflict", "message": TAKEN}] * (RACERS - 1)
    else:
        failed, message = refusal
        for body in losers:
            assert sorted(body) == [
                "alternatives",
                "error",
                "failed",
                "message",
                "support_at_distance",
                "turn_away_id",
            ]
            assert (body["error"], body["failed"], body["message"]) == (
                "no_eligible_bed",
                [failed],
                message,
            )
            assert body["support_at_distance"] is True
            assert str(made.shelter_id) not in {a["shelter_id"] for a in body["alternatives"]}
        assert len({body["turn_away_id"] for body in losers}) == RACERS - 1

    board = committed_app.get(made.url + "/board", headers=_cookie(made.tokens[RACERS]))
    assert board.status_code == 200, board.text
    beds = {bed["label"]: bed for bed in board.json()["beds"]}
    assert {label: bed["state"] for label, bed in beds.items()} == {
        "A1": "occupied",
        "A2": "occupied",
        "A3": "occupied",
    }
    occupant = beds[LAST]["occupant"]
    assert (occupant["stay_id"], occupant["member_id"], occupant["name"]) == (
        winner["id"],
        winner["members"][0]["id"],
        winner["members"][0]["name"],
    )
    assert (board.json()["people"], board.json()["free"]) == (3, 0)

    with unit_of_work(engine) as session:
        open_on_last = session.exec(
            select(BedOccupancy).where(
                BedOccupancy.bed_id == last, col(BedOccupancy.ends_at).is_(None)
            )
        ).all()
        assert [(o.stay_id, o.member_id) for o in open_on_last] == [
            (uuid.UUID(winner["id"]), uuid.UUID(winner["members"][0]["id"]))
        ]
        stays = session.exec(
            select(func.count()).select_from(Stay).where(Stay.shelter_id == made.shelter_id)
        ).one()
        turn_aways = session.exec(
            select(func.count()).select_from(TurnAway).where(TurnAway.shelter_id == made.shelter_id)
        ).one()
        assert (stays, turn_aways) == (3, 0 if refusal is None else RACERS - 1)
        checked, problems = audit.verify(session)
        events_after = session.exec(select(func.count()).select_from(audit.AuditEvent)).one()
    assert problems == []
    assert checked == events_after
    # The winner's admission and its referral to the CSW, and one turn-away per loser that was
    # turned away.
    assert events_after - events_before == 2 + (0 if refusal is None else RACERS - 1)


# --- requests that meet at a lock --------------------------------------------------------------


@contextmanager
def _holding(engine: Engine, statement: Any) -> Iterator[Callable[[], None]]:
    """Lock rows (SELECT ... FOR UPDATE) in a transaction of the test's own; yields the release."""
    with engine.connect() as connection:
        transaction = connection.begin()
        connection.execute(statement)
        try:
            yield transaction.rollback
        finally:
            if transaction.is_active:
                transaction.rollback()


def _when_blocked(engine: Engine, count: int, release: Callable[[], None]) -> Callable[[], None]:
    """Once `count` requests wait for the lock the test holds, release it (well within the
    server's lock_timeout): every one of them has then done all it does before that lock."""

    def wait_then_release() -> None:
        deadline = time.monotonic() + 4
        try:
            with engine.connect() as connection:
                while True:
                    waiting = connection.execute(
                        sa.text(
                            "SELECT count(*) FROM pg_stat_activity"
                            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                            " AND wait_event_type = 'Lock'"
                        )
                    ).scalar_one()
                    connection.rollback()  # the next look takes a fresh statistics snapshot
                    if waiting >= count:
                        return
                    assert time.monotonic() < deadline, f"only {waiting} reached the lock"
        finally:
            release()

    return wait_then_release


def _extend(
    made: Committed, engine: Engine, clock: FrozenClock, cipher: FieldCipher
) -> tuple[uuid.UUID, datetime, datetime]:
    """A pending extension of the first stay, committed: its id, the previous and new end."""
    with unit_of_work(engine) as session:
        shelter = session.get(Shelter, made.shelter_id)
        stay = session.get(Stay, made.stays[0])
        assert shelter is not None
        assert stay is not None
        staff = stay.admitted_by
        assert staff is not None
        previous_end = stay.planned_end
        extension = service.request_extension(
            session,
            now=clock.now(),
            shelter=shelter,
            stay=stay,
            data=ExtensionCreate(
                new_end=previous_end + timedelta(days=3), justification=JUSTIFICATION
            ),
            cipher=cipher,
            user_id=staff,
            actor=Actor("user", str(staff), made.organisation_id),
        )
        return extension.id, previous_end, extension.new_end


def _decisions(engine: Engine, stay_id: uuid.UUID) -> list[str]:
    with unit_of_work(engine) as session:
        return list(
            session.exec(
                select(audit.AuditEvent.action)
                .where(
                    audit.AuditEvent.subject_id == str(stay_id),
                    col(audit.AuditEvent.action).in_(
                        ["shelter.extension_approved", "shelter.extension_rejected"]
                    ),
                )
                .order_by(col(audit.AuditEvent.id))
            ).all()
        )


@pytest.mark.postgresql_only
def test_an_approval_and_a_rejection_at_once_decide_an_extension_once(
    race_db: RaceDatabase,
    cipher: FieldCipher,
    clock: FrozenClock,
    fixture_password_hash: str,
    committed_app: TestClient,
) -> None:
    """Two supervisors decide the same extension at the same moment: one decision stands and
    the stay's planned end agrees with it; the other is told it has already been decided."""
    engine = race_db.engine
    made = _commit_shelter_with_one_free_bed(engine, cipher, clock, fixture_password_hash, 3)
    extension_id, previous_end, new_end = _extend(made, engine, clock, cipher)
    stay_id = made.stays[0]
    path = made.url + f"/stays/{stay_id}/extensions/{extension_id}/"
    lock = select(Stay).where(Stay.id == stay_id).with_for_update()

    with _holding(engine, lock) as release:
        answers = _race(
            committed_app,
            [
                (path + "approve", {}, made.supervisor_tokens[0]),
                (path + "reject", {}, made.supervisor_tokens[1]),
            ],
            meanwhile=_when_blocked(engine, 2, release),
        )

    with unit_of_work(engine) as session:
        extension = session.get(StayExtension, extension_id)
        stay = session.get(Stay, stay_id)
        assert extension is not None
        assert stay is not None
        decided = (extension.status, stay.planned_end)
    decisions = _decisions(engine, stay_id)
    assert sorted(a.status_code for a in answers) == [200, 409], (decided, decisions)
    refused = next(a for a in answers if a.status_code == 409)
    assert refused.json() == {
        "error": "conflict",
        "message": "This extension has already been decided.",
    }
    assert decided in [
        (ExtensionStatus.APPROVED, new_end),
        (ExtensionStatus.REJECTED, previous_end),
    ]
    assert len(decisions) == 1


@pytest.mark.postgresql_only
def test_extensions_asked_for_at_once_leave_one_waiting_for_a_decision(
    race_db: RaceDatabase,
    cipher: FieldCipher,
    clock: FrozenClock,
    fixture_password_hash: str,
    committed_app: TestClient,
) -> None:
    """Five staff ask at the same moment to extend one stay: one request waits for a decision,
    the other four are told one is already waiting."""
    asking = 5
    engine = race_db.engine
    made = _commit_shelter_with_one_free_bed(engine, cipher, clock, fixture_password_hash, 3)
    stay_id = made.stays[0]
    body = {
        "new_end": (T0 + timedelta(days=9)).isoformat(),
        "justification": JUSTIFICATION,
    }
    # Every request has checked for a pending extension once it waits for the audit chain.
    lock = select(audit.AuditHead).where(audit.AuditHead.id == 1).with_for_update()

    with _holding(engine, lock) as release:
        answers = _race(
            committed_app,
            [
                (made.url + f"/stays/{stay_id}/extensions", body, made.tokens[n])
                for n in range(asking)
            ],
            meanwhile=_when_blocked(engine, asking, release),
        )

    with unit_of_work(engine) as session:
        pending = session.exec(
            select(func.count())
            .select_from(StayExtension)
            .where(
                StayExtension.stay_id == stay_id,
                StayExtension.status == ExtensionStatus.PENDING,
            )
        ).one()
    assert sorted(a.status_code for a in answers) == [201] + [409] * (asking - 1), [
        a.text for a in answers
    ]
    assert [a.json() for a in answers if a.status_code == 409] == [
        {
            "error": "conflict",
            "message": "An extension of this stay is already waiting for a decision.",
        }
    ] * (asking - 1)
    assert pending == 1


# --- the database's own guard, with the service bypassed ------------------------------------


def _member(db: Session, place: Place, role: MemberRole = MemberRole.CLIENT) -> StayMember:
    now = place.world.clock.now()
    stay = Stay(
        organisation_id=place.organisation.id,
        shelter_id=place.shelter.id,
        reference="ST-" + uuid.uuid4().hex[:8].upper(),
        channel=Channel.IN_PERSON,
        municipality_key_id="k2",
        municipality_sealed=b"sealed",
        admitted_at=now,
        planned_end=now + timedelta(days=7),
        decision_due_at=now + timedelta(days=7),
        created_at=now,
    )
    db.add(stay)
    db.flush()
    member = StayMember(
        stay_id=stay.id,
        role=role,
        name_key_id="k2",
        name_sealed=b"sealed",
        sex=Sex.FEMALE,
        age=30 if role is MemberRole.CLIENT else 5,
    )
    db.add(member)
    db.flush()
    return member


def _period(
    place: Place,
    bed: str,
    member: StayMember | None,
    starts: int,
    ends: int | None,
) -> BedOccupancy:
    """An occupancy of `bed` from T0 + `starts` hours to T0 + `ends` hours (None: open)."""
    return BedOccupancy(
        shelter_id=place.shelter.id,
        bed_id=place.bed(bed).id,
        kind=OccupancyKind.OCCUPIED if member is not None else OccupancyKind.RESERVED,
        stay_id=member.stay_id if member is not None else None,
        member_id=member.id if member is not None else None,
        starts_at=T0 + timedelta(hours=starts),
        ends_at=None if ends is None else T0 + timedelta(hours=ends),
    )


def _refused(db: Session, occupancy: BedOccupancy) -> None:
    savepoint = db.begin_nested()
    db.add(occupancy)
    with pytest.raises(IntegrityError) as refused:
        db.flush()
    savepoint.rollback()
    # The service tells a lost race from other integrity errors by this name.
    assert "no_overlap" in str(refused.value.orig)


def _accepted(db: Session, occupancy: BedOccupancy) -> None:
    db.add(occupancy)
    db.flush()


def _periods(db: Session, place: Place) -> int:
    return db.exec(
        select(func.count())
        .select_from(BedOccupancy)
        .where(BedOccupancy.shelter_id == place.shelter.id)
    ).one()


def test_the_database_refuses_overlapping_periods_for_one_bed_or_one_person(
    db: Session, place: Place
) -> None:
    ana, mira, child = _member(db, place), _member(db, place), _member(db, place)
    _accepted(db, _period(place, "A1", ana, 0, 10))

    _refused(db, _period(place, "A1", mira, 5, 15))  # the same bed, overlapping
    _refused(db, _period(place, "A1", mira, -5, 1))  # overlapping its start
    _refused(db, _period(place, "A1", mira, 2, 3))  # inside it
    _refused(db, _period(place, "A1", mira, -1, None))  # open, from before it
    _refused(db, _period(place, "A1", None, 9, 11))  # a hold on the same bed
    _refused(db, _period(place, "A2", ana, 9, 20))  # the same person in another bed
    _refused(db, _period(place, "A2", ana, 3, None))  # ... open-ended

    _accepted(db, _period(place, "A1", mira, 10, 20))  # [0, 10) then [10, 20): back to back
    _accepted(db, _period(place, "A2", ana, 10, None))  # Ana moves to A2 at 10
    _accepted(db, _period(place, "A3", child, 0, None))
    _accepted(db, _period(place, "A2", None, 7, 10))  # a hold that ends as Ana arrives in A2

    _refused(db, _period(place, "A1", child, 25, None))  # the child is in A3 with no end yet
    _refused(db, _period(place, "A2", mira, 30, 31))  # Ana's open period in A2
    _accepted(db, _period(place, "A1", None, 20, 22))  # a hold after Mira's period
    assert _periods(db, place) == 6


def test_the_database_refuses_an_update_that_makes_periods_overlap(
    db: Session, place: Place
) -> None:
    ana, mira = _member(db, place), _member(db, place)
    first = _period(place, "A1", ana, 0, 10)
    second = _period(place, "A1", mira, 10, None)
    _accepted(db, first)
    _accepted(db, second)

    savepoint = db.begin_nested()
    first.ends_at = T0 + timedelta(hours=11)  # stretched into Mira's period
    db.add(first)
    with pytest.raises(IntegrityError) as refused:
        db.flush()
    savepoint.rollback()
    assert "no_overlap" in str(refused.value.orig)

    db.refresh(first)
    assert first.ends_at == T0 + timedelta(hours=10)
    first.ends_at = T0 + timedelta(hours=9)  # shortened: fine
    db.add(first)
    db.flush()
    assert _periods(db, place) == 2
