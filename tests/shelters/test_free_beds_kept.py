"""The kept free beds, by example: each kind of change moves them as it should, a change that is
undone leaves them as they were, migration 0011 counts the shelters it finds, and (PostgreSQL) two
transactions that change one shelter's beds at once, neither holding the shelter's lock, leave
counts that include both."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.audit import Actor
from core.clock import FrozenClock
from core.config import Settings
from core.crypto import FieldCipher
from core.db import alembic_config, create_db_engine, downgrade, unit_of_work, upgrade
from core.models import Role
from shelters import service
from shelters.models import AdmissionChannel as Channel
from shelters.models import (
    AdmissionCreate,
    BedOccupancy,
    Destination,
    DischargeCreate,
    HoldCreate,
    Move,
    OccupancyKind,
    PersonIn,
    Sex,
    Shelter,
    TransferCreate,
)
from tests.conftest import (
    T0,
    World,
    drop_postgres_database,
    make_settings,
    private_postgres_url,
    recreate_postgres_database,
)
from tests.shelters.conftest import make_shelter
from tests.shelters.test_free_beds import BEDS_A, BEDS_B, Counts, kept, recounted
from tests.shelters.test_races import _holding, _when_blocked

# --- each change, with its numbers ------------------------------------------------------------


@dataclass
class Houses:
    """House A (4 beds, 2 cots) and house B (2 beds, 1 cot) of one organisation, and its staff."""

    db: Session
    clock: FrozenClock
    a: Shelter
    b: Shelter
    beds: dict[str, uuid.UUID]  # "A1", "B1", ... (C1 is A's cot; B's is "B:C1")
    staff: uuid.UUID
    actor: Actor

    def counts(self) -> tuple[Counts, Counts]:
        """(what the houses keep, their free beds now), the kept counts checked by a recount."""
        ids = [self.a.id, self.b.id]
        assert kept(self.db, ids) == recounted(self.db, ids)
        free = service.free_bed_counts(self.db, now=self.clock.now(), shelter_ids=ids)
        return kept(self.db, ids), free


@pytest.fixture
def houses(db: Session, world: World, cipher: FieldCipher, clock: FrozenClock) -> Houses:
    organisation = world.organisation()
    a, beds_a = make_shelter(world, cipher, organisation, name="House A", beds=BEDS_A)
    b, beds_b = make_shelter(world, cipher, organisation, name="House B", beds=BEDS_B)
    staff = world.user(organisation, Role.SHELTER_STAFF)
    beds = {bed.label: bed.id for bed in beds_a} | {f"B:{bed.label}": bed.id for bed in beds_b}
    actor = Actor("user", str(staff.id), organisation.id)
    return Houses(db, clock, a, b, beds, staff.id, actor)


def test_an_admission_a_transfer_and_a_discharge_move_the_counts(
    houses: Houses, cipher: FieldCipher
) -> None:
    db, a, b, now = houses.db, houses.a, houses.b, houses.clock.now()
    assert houses.counts() == ({a.id: (4, 2), b.id: (2, 1)}, {a.id: (4, 2), b.id: (2, 1)})

    admitted = service.admit(
        db,
        now=now,
        shelter=a,
        data=AdmissionCreate(
            client=PersonIn(name="Mother Test", sex=Sex.FEMALE, age=30),
            children=[PersonIn(name="Baby Test", sex=Sex.FEMALE, age=1)],
            channel=Channel.IN_PERSON,
            municipality="Podgorica",
        ),
        cipher=cipher,
        actor=houses.actor,
        actor_roles=frozenset({Role.SHELTER_STAFF}),
        user_id=houses.staff,
    )
    assert isinstance(admitted, service.Admitted)
    assert houses.counts() == ({a.id: (3, 1), b.id: (2, 1)}, {a.id: (3, 1), b.id: (2, 1)})

    mother, baby = service.members_of(db, [admitted.stay.id])[admitted.stay.id]
    moves = [
        Move(member_id=mother.id, bed_id=houses.beds["B:B1"]),
        Move(member_id=baby.id, bed_id=houses.beds["B:C1"]),
    ]
    service.transfer(
        db,
        now=now,
        shelter=a,
        target=b,
        stay=admitted.stay,
        data=TransferCreate(to_shelter_id=b.id, moves=moves, reason="Closer to school"),
        cipher=cipher,
        actor=houses.actor,
    )
    assert houses.counts() == ({a.id: (4, 2), b.id: (1, 0)}, {a.id: (4, 2), b.id: (1, 0)})

    service.discharge(
        db,
        now=now,
        shelter=b,
        stay=admitted.stay,
        data=DischargeCreate(destination=Destination.HOME, reason="Went home"),
        cipher=cipher,
        actor=houses.actor,
    )
    assert houses.counts() == ({a.id: (4, 2), b.id: (2, 1)}, {a.id: (4, 2), b.id: (2, 1)})


def test_a_hold_is_subtracted_until_it_lapses_and_a_bed_out_of_service_is_not_counted(
    houses: Houses, cipher: FieldCipher
) -> None:
    db, a, b, clock = houses.db, houses.a, houses.b, houses.clock
    hold = service.hold_bed(
        db,
        now=clock.now(),
        shelter=a,
        data=HoldCreate(
            bed_id=houses.beds["E1"], until=clock.now() + timedelta(hours=2), note="Soon"
        ),
        cipher=cipher,
        actor=houses.actor,
    )
    # A hold is not kept (it lapses on its own): it is subtracted when read, until its end.
    assert houses.counts() == ({a.id: (4, 2), b.id: (2, 1)}, {a.id: (3, 2), b.id: (2, 1)})
    clock.advance(timedelta(hours=2))
    assert houses.counts() == ({a.id: (4, 2), b.id: (2, 1)}, {a.id: (4, 2), b.id: (2, 1)})
    assert db.get_one(BedOccupancy, hold.id).ends_at == clock.now()  # nothing written since

    for bed, out in (("A3", True), ("C1", True), ("A3", False)):
        service.set_bed_service(
            db,
            now=clock.now(),
            shelter=a,
            bed_id=houses.beds[bed],
            out_of_service=out,
            reason="Broken frame",
            cipher=cipher,
            actor=houses.actor,
        )
    assert houses.counts() == ({a.id: (4, 1), b.id: (2, 1)}, {a.id: (4, 1), b.id: (2, 1)})


def test_a_change_that_is_undone_leaves_the_counts_as_they_were(
    db: Session, world: World, cipher: FieldCipher, clock: FrozenClock
) -> None:
    organisation = world.organisation()
    shelter, beds = make_shelter(world, cipher, organisation, beds=BEDS_B)
    savepoint = db.begin_nested()
    db.add(
        BedOccupancy(
            shelter_id=shelter.id,
            bed_id=beds[0].id,
            kind=OccupancyKind.RESERVED,
            starts_at=clock.now(),
        )
    )
    db.flush()
    assert kept(db, [shelter.id]) == {shelter.id: (1, 1)}
    savepoint.rollback()
    assert kept(db, [shelter.id]) == {shelter.id: (2, 1)} == recounted(db, [shelter.id])


# --- migration 0011 ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Fresh:
    settings: Settings
    engine: Engine


@pytest.fixture
def fresh(backend: str, tmp_path: Path) -> Iterator[Fresh]:
    """An empty database of this test's own (the shared one is kept at the head)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'free-beds.db'}"
    else:
        url = private_postgres_url("_free_beds")
        recreate_postgres_database(url)
    settings = make_settings(url)
    engine = create_db_engine(settings)
    try:
        yield Fresh(settings, engine)
    finally:
        engine.dispose()
        if backend == "postgresql":
            drop_postgres_database(url)


def test_the_migration_counts_the_shelters_there_are(
    fresh: Fresh, cipher: FieldCipher, fixture_password_hash: str
) -> None:
    upgrade(fresh.settings, fresh.engine)
    clock = FrozenClock(T0)
    with unit_of_work(fresh.engine) as session:
        world = World(session, clock, fixture_password_hash)
        organisation = world.organisation()
        shelter, beds = make_shelter(world, cipher, organisation, beds=BEDS_A)
        empty, _ = make_shelter(world, cipher, organisation, name="Empty", beds=())
        session.add_all(
            [
                BedOccupancy(  # open-ended: taken
                    shelter_id=shelter.id,
                    bed_id=beds[0].id,
                    kind=OccupancyKind.RESERVED,
                    starts_at=T0,
                ),
                BedOccupancy(  # ended: free again
                    shelter_id=shelter.id,
                    bed_id=beds[3].id,
                    kind=OccupancyKind.RESERVED,
                    starts_at=T0,
                    ends_at=T0 + timedelta(hours=1),
                ),
            ]
        )
        beds[1].out_of_service = True
        session.add(beds[1])
        ids = [shelter.id, empty.id]
    script = ScriptDirectory.from_config(alembic_config(fresh.settings))
    below = script.get_revision("0011").down_revision
    assert isinstance(below, str)

    downgrade(fresh.settings, fresh.engine, below)
    upgrade(fresh.settings, fresh.engine)

    with Session(fresh.engine) as session:
        assert kept(session, ids) == {shelter.id: (2, 2), empty.id: (0, 0)}
        assert kept(session, ids) == recounted(session, ids)


# --- PostgreSQL: two changes at once -----------------------------------------------------------


@pytest.mark.postgresql_only
def test_two_changes_at_once_without_the_shelters_lock_are_both_counted(
    backend: str, cipher: FieldCipher, fixture_password_hash: str
) -> None:
    """Each transaction adds an open period on its own bed and flushes while another holds the
    shelter's row: both wait at the lock their flush takes, then recount in turn, the second
    after the first has committed. Without that lock each would count only its own period."""
    url = private_postgres_url("_free_beds_race")
    recreate_postgres_database(url)
    settings = make_settings(url)
    engine = create_db_engine(settings)
    try:
        upgrade(settings, engine)
        with unit_of_work(engine) as session:
            world = World(session, FrozenClock(T0), fixture_password_hash)
            shelter, beds = make_shelter(world, cipher, world.organisation(), beds=BEDS_A)
            shelter_id, bed_ids = shelter.id, [bed.id for bed in beds[:2]]
        failures: list[BaseException] = []

        def take(bed_id: uuid.UUID) -> None:
            try:
                with unit_of_work(engine) as session:
                    session.add(
                        BedOccupancy(
                            shelter_id=shelter_id,
                            bed_id=bed_id,
                            kind=OccupancyKind.RESERVED,
                            starts_at=T0,
                        )
                    )
                    session.flush()
            except BaseException as exc:  # reported by the assertion below
                failures.append(exc)

        # The lock a recount takes: the inserts go through, the recounts wait.
        row = select(Shelter.id).where(Shelter.id == shelter_id).with_for_update(key_share=True)
        with _holding(engine, row) as release:
            threads = [threading.Thread(target=take, args=(b,)) for b in bed_ids]
            for thread in threads:
                thread.start()
            _when_blocked(engine, 2, release)()
            for thread in threads:
                thread.join(timeout=30)
        assert failures == []
        with Session(engine) as session:
            assert kept(session, [shelter_id]) == {shelter_id: (2, 2)}
            assert kept(session, [shelter_id]) == recounted(session, [shelter_id])
    finally:
        engine.dispose()
        drop_postgres_database(url)
