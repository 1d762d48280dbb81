"""The free beds each shelter keeps (`shelter.beds_unoccupied`, `shelter.cots_unoccupied`) never
drift from a recount, and what is read from them is what counting every bed said before.

A random sequence of admissions (late ones too), discharges, transfers, holds and releases, beds
in and out of service, beds added (by the service and directly through the ORM), and time passing
(holds lapse), and edits to every other row a board or the network's answer shows (a room's name,
a bed's label, a person's name, the shelter's rules and name, the organisation's name): after
every step the kept counts equal a recount made here from the rows, the network's free beds and
availability equal the old count over every bed and period, and the bed board equals the old
board made from the ORM rows, each read afresh, then twice as another request would read it
(what the process kept: `shelters.service.board_cache`, kept across examples that are rolled
back, as another database's would be). `test_free_beds_kept` has the plain examples, the
migration and the race; `test_board_cache` the kept answers' own cases.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar, TypeVar

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlmodel import Session, col, select

from core.audit import Actor
from core.clock import FrozenClock
from core.crypto import FieldCipher
from core.errors import AppError
from core.models import Organisation, Role
from shelters import service
from shelters.models import AdmissionChannel as Channel
from shelters.models import (
    AdmissionCreate,
    Bed,
    BedCreate,
    BedKind,
    BedOccupancy,
    BedState,
    Destination,
    DischargeCreate,
    Group,
    HoldCreate,
    Move,
    OccupancyKind,
    PersonIn,
    Room,
    Sex,
    Shelter,
    Stay,
    StayMember,
    StayStatus,
    TransferCreate,
)
from shelters.models.free_beds import WROTE_BOARD
from tests.conftest import (
    T0,
    World,
)
from tests.shelters.conftest import assign, make_shelter

Counts = dict[uuid.UUID, tuple[int, int]]
BEDS_A = (
    ("A1", BedKind.BED),
    ("A2", BedKind.BED),
    ("A3", BedKind.BED),
    ("C1", BedKind.COT),
    ("C2", BedKind.COT),
    ("E1", BedKind.EMERGENCY),
)
BEDS_B = (("B1", BedKind.BED), ("B2", BedKind.BED), ("C1", BedKind.COT))
# (sex, age, group, children, infants): what a counselor asks the network for.
ASKED = (
    (Sex.FEMALE, 30, None, 0, 0),
    (Sex.FEMALE, 30, Group.WOMEN_WITH_CHILDREN, 1, 1),
    (Sex.FEMALE, 30, None, 2, 0),
    (Sex.MALE, 20, Group.LGBTI_YOUTH, 0, 0),
    (Sex.FEMALE, 17, None, 0, 0),
)


# --- what the counts must say, counted here ---------------------------------------------------


def kept(db: Session, shelter_ids: list[uuid.UUID]) -> Counts:
    """The counts as stored (read with a query: a loaded row may be older)."""
    rows = db.connection().execute(
        sa.select(
            col(Shelter.id), col(Shelter.beds_unoccupied), col(Shelter.cots_unoccupied)
        ).where(col(Shelter.id).in_(shelter_ids))
    )
    return {shelter_id: (beds, cots) for shelter_id, beds, cots in rows}


def recounted(db: Session, shelter_ids: list[uuid.UUID]) -> Counts:
    """Beds (other than cots) and cots in service that no open-ended period holds, from the rows."""
    beds = db.exec(select(Bed).where(col(Bed.shelter_id).in_(shelter_ids))).all()
    held = set(
        db.exec(
            select(BedOccupancy.bed_id).where(
                col(BedOccupancy.bed_id).in_([b.id for b in beds]),
                col(BedOccupancy.ends_at).is_(None),
            )
        ).all()
    )
    counts = {shelter_id: [0, 0] for shelter_id in shelter_ids}
    for bed in beds:
        if not bed.out_of_service and bed.id not in held:
            counts[bed.shelter_id][bed.kind is BedKind.COT] += 1
    return {shelter_id: (beds, cots) for shelter_id, (beds, cots) in counts.items()}


def free_counted(db: Session, shelter_ids: list[uuid.UUID], now: datetime) -> Counts:
    """Free beds and cots as they were counted before they were kept: every in-service bed
    without a period in force now (shelters with none absent)."""
    taken = select(BedOccupancy.bed_id).where(
        col(BedOccupancy.starts_at) <= now,
        sa.or_(col(BedOccupancy.ends_at).is_(None), col(BedOccupancy.ends_at) > now),
    )
    found: dict[uuid.UUID, list[int]] = {}
    for bed in db.exec(
        select(Bed).where(
            col(Bed.shelter_id).in_(shelter_ids),
            col(Bed.out_of_service).is_(False),
            col(Bed.id).not_in(taken),
        )
    ).all():
        found.setdefault(bed.shelter_id, [0, 0])[bed.kind is BedKind.COT] += 1
    return {shelter_id: (beds, cots) for shelter_id, (beds, cots) in found.items()}


def availability_counted(
    db: Session, shelter_ids: list[uuid.UUID], now: datetime, asked: tuple[Any, ...]
) -> list[service.Availability]:
    """The network's availability as it was computed before the counts were kept."""
    sex, age, group, children, infants = asked
    free = free_counted(db, shelter_ids, now)
    found = []
    for shelter in db.exec(select(Shelter).where(col(Shelter.id).in_(list(free)))).all():
        beds, cots = free[shelter.id]
        if service.eligibility_failures(shelter, sex=sex, age=age, group=group, children=children):
            continue
        if beds < 1 + children - infants or beds + min(cots, infants) < 1 + children:
            continue
        organisation = db.get_one(Organisation, shelter.organisation_id)
        found.append(
            service.Availability(
                shelter.id, shelter.name, organisation.id, organisation.name, beds, cots
            )
        )
    found.sort(key=lambda a: (-(a.free_beds + a.free_cots), a.shelter_name, a.shelter_id))
    return found[: service.MAX_ALTERNATIVES]


def board_counted(db: Session, shelter: Shelter, now: datetime) -> list[tuple[Any, ...]]:
    """The bed board as it was made from the ORM rows: (bed, state, period, member, reference)."""
    beds = service.list_beds(db, shelter_id=shelter.id)
    by_bed = {o.bed_id: o for o in service.current_occupancies(db, shelter_id=shelter.id, now=now)}
    rooms = {r.id: r.name for r in db.exec(select(Room).where(Room.shelter_id == shelter.id))}
    found = []
    for bed in beds:
        period = by_bed.get(bed.id)
        if period is not None:
            occupied = period.kind is OccupancyKind.OCCUPIED
            state = BedState.OCCUPIED if occupied else BedState.RESERVED
        else:
            state = BedState.OUT_OF_SERVICE if bed.out_of_service else BedState.FREE
        member = db.get(StayMember, period.member_id) if period and period.member_id else None
        stay = db.get(Stay, period.stay_id) if period and period.stay_id else None
        found.append(
            (
                (bed.id, bed.room_id, rooms[bed.room_id], bed.label, bed.kind, bed.out_of_service),
                state,
                (period.id, period.kind, period.starts_at, period.ends_at) if period else None,
                (member.id, member.role, member.name_sealed) if member else None,
                stay.reference if stay and stay.shelter_id == shelter.id else None,
            )
        )
    return found


def board_read(db: Session, shelter: Shelter, now: datetime) -> list[tuple[Any, ...]]:
    found = []
    for entry in service.bed_board(db, shelter=shelter, now=now):
        bed, period, member = entry.bed, entry.occupancy, entry.member
        found.append(
            (
                (bed.id, bed.room_id, bed.room_name, bed.label, bed.kind, bed.out_of_service),
                entry.state,
                (period.id, period.kind, period.starts_at, period.ends_at) if period else None,
                (member.id, member.role, member.name.blob) if member else None,
                period.stay_reference if period else None,
            )
        )
    return found


T = TypeVar("T")


def as_written(db: Session, read: Callable[[], T]) -> T:
    """`read` in this session, whose transaction holds the example's writes: read afresh (a
    session that wrote never reads what is kept)."""
    db.info[WROTE_BOARD] = True
    return read()


def as_another_request(db: Session, read: Callable[[], T]) -> T:
    """`read` as a request that wrote nothing would, once the example's writes are committed:
    from what is kept, when the versions and the instant allow."""
    wrote = db.info.pop(WROTE_BOARD, None)
    try:
        return read()
    finally:
        if wrote is not None:
            db.info[WROTE_BOARD] = wrote


# --- a random sequence of changes -------------------------------------------------------------


class Changes(RuleBasedStateMachine):
    """Two shelters of one organisation (A for women and their children, with cots; B for LGBTI
    youth, no children) and any sequence of changes; each refused change is undone."""

    # The test's session, cipher and password hash (`bound`).
    db: ClassVar[Session]
    cipher: ClassVar[FieldCipher]
    password_hash: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self.clock = FrozenClock(T0)
        self.example = self.db.begin_nested()  # undone in teardown: examples never meet
        self.log: list[str] = []
        # What was made, in the order it was made (never an order the database or chance picks,
        # so that each example replays): stays with their people as admitted, holds and where.
        self.stays: list[tuple[uuid.UUID, list[uuid.UUID]]] = []
        self.holds: list[tuple[uuid.UUID, int]] = []

    @initialize()
    def build(self) -> None:
        world = World(self.db, self.clock, self.password_hash)
        organisation = world.organisation()
        a, _ = make_shelter(
            world, self.cipher, organisation, name="Shelter A", beds=BEDS_A, hard_capacity=5
        )
        b, _ = make_shelter(
            world,
            self.cipher,
            organisation,
            name="Shelter B",
            beds=BEDS_B,
            sexes=[Sex.FEMALE, Sex.MALE, Sex.OTHER],
            min_age=16,
            max_age=30,
            groups=[Group.LGBTI_YOUTH],
            accepts_children=False,
        )
        staff = world.user(organisation, Role.SHELTER_STAFF)
        supervisor = world.user(organisation, Role.SUPERVISOR)
        for shelter in (a, b):
            assign(world, shelter, staff)
        self.ids = [a.id, b.id]
        self.staff = Actor("user", str(staff.id), organisation.id), staff.id
        self.supervisor = Actor("user", str(supervisor.id), organisation.id), supervisor.id

    def teardown(self) -> None:
        if self.example.is_active:
            self.example.rollback()

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def shelter(self, index: int) -> Shelter:
        return self.db.get_one(Shelter, self.ids[index])

    def beds(self, index: int) -> list[Bed]:
        return service.list_beds(self.db, shelter_id=self.ids[index])

    def attempt(self, what: str, call: Callable[[], object]) -> object:
        """Run `call` as a request's unit of work: undone when it is refused."""
        savepoint = self.db.begin_nested()
        try:
            result = call()
        except AppError as exc:
            savepoint.rollback()
            self.log.append(f"{self.now:%d %H:%M} {what}: {type(exc).__name__}")
            return exc
        savepoint.commit()
        self.log.append(f"{self.now:%d %H:%M} {what}: ok")
        return result

    def active_stays(self) -> list[tuple[Stay, list[uuid.UUID]]]:
        found = [(self.db.get_one(Stay, stay_id), people) for stay_id, people in self.stays]
        return [(stay, people) for stay, people in found if stay.status is StayStatus.ACTIVE]

    # --- the changes ---------------------------------------------------------------------

    @rule(minutes=st.sampled_from([1, 30, 3 * 60, 25 * 60]))
    def tick(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))
        self.log.append(f"+{minutes} min")

    @rule(
        data=st.data(),
        where=st.sampled_from([0, 0, 1]),
        children=st.lists(st.integers(min_value=0, max_value=17), max_size=2),
        late=st.sampled_from([0, 0, 45, 20 * 60]),
        naming=st.booleans(),
        soft=st.booleans(),
        at_distance=st.integers(min_value=0, max_value=5).map(lambda n: n == 0),
    )
    def admit(
        self,
        data: st.DataObject,
        where: int,
        children: list[int],
        late: int,
        naming: bool,
        soft: bool,
        at_distance: bool,
    ) -> None:
        naming = naming and not at_distance  # at distance: no bed
        named = data.draw(st.sampled_from(self.beds(where))).id if naming else None
        actor, user_id = self.supervisor if soft else self.staff
        body = AdmissionCreate(
            client=PersonIn(name="Client Test", sex=Sex.FEMALE, age=25, bed_id=named),
            children=[
                PersonIn(name=f"Child {n} Test", sex=Sex.FEMALE, age=age)
                for n, age in enumerate(children)
            ],
            channel=Channel.IN_PERSON,
            municipality="Podgorica",
            at_distance=at_distance,
            use_soft_capacity=soft,
            admitted_at=self.now - timedelta(minutes=late) if late else None,
        )
        result = self.attempt(
            f"admit 1+{len(children)} to {'AB'[where]}, {late} min late",
            lambda: service.admit(
                self.db,
                now=self.now,
                shelter=self.shelter(where),
                data=body,
                cipher=self.cipher,
                actor=actor,
                actor_roles=frozenset({Role.SUPERVISOR if soft else Role.SHELTER_STAFF}),
                user_id=user_id,
            ),
        )
        if isinstance(result, service.Admitted):
            self.stays.append((result.stay.id, [m.id for m in result.members]))

    @rule(data=st.data())
    def discharge(self, data: st.DataObject) -> None:
        stays = self.active_stays()
        if not stays:
            return
        stay, _ = data.draw(st.sampled_from(stays))
        index = self.ids.index(stay.shelter_id)
        self.attempt(
            f"discharge from {'AB'[index]}",
            lambda: service.discharge(
                self.db,
                now=self.now,
                shelter=self.shelter(index),
                stay=stay,
                data=DischargeCreate(destination=Destination.HOME, reason="Went home"),
                cipher=self.cipher,
                actor=self.staff[0],
            ),
        )

    @rule(data=st.data(), elsewhere=st.booleans())
    def transfer(self, data: st.DataObject, elsewhere: bool) -> None:
        stays = self.active_stays()
        if not stays:
            return
        stay, members = data.draw(st.sampled_from(stays))
        source = self.ids.index(stay.shelter_id)
        target = 1 - source if elsewhere else source
        choices = self.beds(target)
        if len(choices) < len(members):
            return
        beds = data.draw(
            st.lists(
                st.sampled_from(choices),
                min_size=len(members),
                max_size=len(members),
                unique_by=lambda b: b.id,
            )
        )
        body = TransferCreate(
            to_shelter_id=self.ids[target] if elsewhere else None,
            moves=[Move(member_id=m, bed_id=b.id) for m, b in zip(members, beds, strict=True)],
            reason="Moved for her safety",
        )
        self.attempt(
            f"transfer from {'AB'[source]} to {'AB'[target]}",
            lambda: service.transfer(
                self.db,
                now=self.now,
                shelter=self.shelter(source),
                target=self.shelter(target),
                stay=stay,
                data=body,
                cipher=self.cipher,
                actor=self.staff[0],
            ),
        )

    @rule(data=st.data(), where=st.sampled_from([0, 1]), minutes=st.sampled_from([30, 600]))
    def hold(self, data: st.DataObject, where: int, minutes: int) -> None:
        bed = data.draw(st.sampled_from(self.beds(where)))
        hold = HoldCreate(
            bed_id=bed.id, until=self.now + timedelta(minutes=minutes), note="On her way"
        )
        result = self.attempt(
            f"hold {'AB'[where]}{bed.label} {minutes} min",
            lambda: service.hold_bed(
                self.db,
                now=self.now,
                shelter=self.shelter(where),
                data=hold,
                cipher=self.cipher,
                actor=self.staff[0],
            ),
        )
        if isinstance(result, BedOccupancy):
            self.holds.append((result.id, where))

    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        if not self.holds:
            return
        hold_id, index = data.draw(st.sampled_from(self.holds))
        self.attempt(
            f"release a hold in {'AB'[index]}",
            lambda: service.release_hold(
                self.db,
                now=self.now,
                shelter=self.shelter(index),
                hold_id=hold_id,
                actor=self.staff[0],
            ),
        )

    @rule(data=st.data(), where=st.sampled_from([0, 1]), out=st.booleans())
    def bed_service(self, data: st.DataObject, where: int, out: bool) -> None:
        bed = data.draw(st.sampled_from(self.beds(where)))
        self.attempt(
            f"{'out of' if out else 'into'} service {'AB'[where]}{bed.label}",
            lambda: service.set_bed_service(
                self.db,
                now=self.now,
                shelter=self.shelter(where),
                bed_id=bed.id,
                out_of_service=out,
                reason="Broken frame",
                cipher=self.cipher,
                actor=self.staff[0],
            ),
        )

    @rule(where=st.sampled_from([0, 1]), kind=st.sampled_from(list(BedKind)), direct=st.booleans())
    def add_bed(self, where: int, kind: BedKind, direct: bool) -> None:
        room = self.db.exec(select(Room).where(Room.shelter_id == self.ids[where])).first()
        assert room is not None
        label = f"N{len(self.beds(where)) + 1}"
        if direct:  # as a fixture or a script would: the ORM, no service
            self.db.add(
                Bed(
                    shelter_id=self.ids[where],
                    room_id=room.id,
                    label=label,
                    kind=kind,
                    created_at=self.now,
                )
            )
            self.db.flush()
            self.log.append(f"bed {label} ({kind}) added to {'AB'[where]} directly")
            return
        self.attempt(
            f"add bed {label} ({kind}) to {'AB'[where]}",
            lambda: service.add_bed(
                self.db,
                now=self.now,
                shelter=self.shelter(where),
                data=BedCreate(room_id=room.id, label=label, kind=kind),
                actor=self.staff[0],
            ),
        )

    @rule(
        data=st.data(),
        where=st.sampled_from([0, 1]),
        what=st.sampled_from(["room", "label", "person", "rules", "shelter", "organisation"]),
    )
    def edit(self, data: st.DataObject, where: int, what: str) -> None:
        """Change, through the ORM, a row that the board or the network's answer shows."""
        shelter = self.shelter(where)
        n = len(self.log)
        if what == "room":
            room = data.draw(
                st.sampled_from(
                    self.db.exec(select(Room).where(Room.shelter_id == shelter.id)).all()
                )
            )
            room.name = f"Room {n}"
        elif what == "label":
            bed = data.draw(st.sampled_from(self.beds(where)))
            bed.label = f"L{n}"
        elif what == "person":
            people = [p for _, members in self.stays for p in members]
            if not people:
                return
            member = self.db.get_one(StayMember, data.draw(st.sampled_from(people)))
            sealed = self.cipher.seal(f"Resident {n}", context=service.MEMBER_CONTEXT)
            member.name_key_id, member.name_sealed = sealed.key_id, sealed.blob
        elif what == "rules":
            shelter.min_age = data.draw(st.sampled_from([16, 18, 31]))
        elif what == "shelter":
            shelter.name = f"Shelter {'AB'[where]} {n}"
        else:
            organisation = self.db.get_one(Organisation, shelter.organisation_id)
            organisation.name = f"Organisation {n}"
        self.db.flush()
        self.log.append(f"edit {what} of {'AB'[where]}")

    # --- what must hold after every step ------------------------------------------------

    @invariant()
    def the_kept_counts_are_a_recount(self) -> None:
        assert kept(self.db, self.ids) == recounted(self.db, self.ids), "\n".join(self.log)

    def available(self, asked: tuple[Any, ...]) -> list[service.Availability]:
        """The network's answer to `asked`, of these two shelters."""
        sex, age, group, children, infants = asked
        found = service.network_availability(
            self.db, now=self.now, sex=sex, age=age, group=group, children=children, infants=infants
        )
        return [a for a in found if a.shelter_id in self.ids]

    @invariant()
    def free_beds_are_what_counting_every_bed_said(self) -> None:
        now = self.now
        free = service.free_bed_counts(self.db, now=now, shelter_ids=self.ids)
        assert free == free_counted(self.db, self.ids, now), "\n".join(self.log)
        for asked in ASKED:
            counted = availability_counted(self.db, self.ids, now, asked)
            assert as_written(self.db, partial(self.available, asked)) == counted, asked
            for _ in range(2):  # kept, or read and kept; then kept
                kept = as_another_request(self.db, partial(self.available, asked))
                assert kept == counted, ["kept", asked, *self.log]

    @invariant()
    def the_board_is_what_the_rows_say(self) -> None:
        for index in range(2):
            shelter = self.shelter(index)
            counted = board_counted(self.db, shelter, self.now)
            read = partial(board_read, self.db, shelter, self.now)
            assert as_written(self.db, read) == counted
            for _ in range(2):
                assert as_another_request(self.db, read) == counted, ["kept", *self.log]


def test_the_kept_counts_equal_a_recount_after_any_sequence_of_changes(
    backend: str, db: Session, cipher: FieldCipher, fixture_password_hash: str
) -> None:
    bound = type(
        "Changes", (Changes,), {"db": db, "cipher": cipher, "password_hash": fixture_password_hash}
    )
    run_state_machine_as_test(
        bound,
        settings=settings(
            max_examples=30,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
