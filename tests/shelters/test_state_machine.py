"""A state machine over the shelter services against a model of its own: admissions (with
children, soft capacity, into a held bed, at distance), extensions, transfers within a shelter
and to another of the organisation's shelters, discharges, beds in and out of service, holds and
their release, and time passing (holds lapse, nights pass over capacity).

After every step: nobody is in two beds, no bed holds two people, no out-of-service bed is
taken, the people counted never exceed the hard capacity (the soft one only after a supervisor
used it), and the bed board, the head counts and the stays agree with the model. Each operation
runs as a request would, in a unit of work that is undone when it raises; what the model says
should be refused must be refused, with one of the reasons it expects, and nothing else.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pytest
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
from core.localtime import add_local_days, nights
from core.models import Role
from shelters import service
from shelters.models import AdmissionChannel as Channel
from shelters.models import (
    AdmissionCreate,
    BedKind,
    BedOccupancy,
    BedState,
    Destination,
    DischargeCreate,
    ExtensionCreate,
    HoldCreate,
    Move,
    OccupancyKind,
    PersonIn,
    Sex,
    Shelter,
    Stay,
    StayExtension,
    StayStatus,
    TransferCreate,
)
from tests.conftest import T0, World
from tests.shelters.conftest import Place, assign, make_shelter

ZONE = "Europe/Podgorica"
T = TypeVar("T")
BEDS_A = (
    ("A1", BedKind.BED),
    ("A2", BedKind.BED),
    ("A3", BedKind.BED),
    ("C1", BedKind.COT),
    ("E1", BedKind.EMERGENCY),
    ("E2", BedKind.EMERGENCY),
)
BEDS_B = (("B1", BedKind.BED), ("B2", BedKind.BED), ("C1", BedKind.COT))
OK = "ok"
TURNED_AWAY = "turned_away:"
CONFLICT, INVALID, FORBIDDEN, NOT_FOUND = "Conflict", "InvalidInput", "Forbidden", "NotFound"
JUSTIFICATION = "The CSW has not yet found a longer-term placement for the family."


@dataclass
class ShelterModel:
    id: uuid.UUID
    hard: int
    soft: int | None
    soft_nights: int
    beds: list[uuid.UUID]  # in label order
    # When the people in it went above the hard capacity (None: not above it now).
    over_since: datetime | None = None
    # Above the hard capacity because a supervisor used the soft capacity.
    soft_in_use: bool = False


@dataclass
class BedModel:
    id: uuid.UUID
    shelter: int
    label: str
    kind: BedKind
    out_of_service: bool = False


@dataclass
class PersonModel:
    id: uuid.UUID
    stay: uuid.UUID
    age: int
    bed: uuid.UUID | None


@dataclass
class StayModel:
    id: uuid.UUID
    shelter: int
    members: list[uuid.UUID]
    admitted_at: datetime
    planned_end: datetime
    active: bool = True


@dataclass
class HoldModel:
    id: uuid.UUID
    bed: uuid.UUID
    starts: datetime
    ends: datetime
    deleted: bool = False  # ended at the instant it began: the row is gone


@dataclass
class ExtensionModel:
    id: uuid.UUID
    stay: uuid.UUID
    previous_end: datetime
    new_end: datetime
    decided: bool = False


@dataclass
class Attempt:
    """What the model allows for one call: "ok", or the refusals it may give."""

    refusals: set[str] = field(default_factory=set)

    def refuse(self, outcome: str) -> None:
        self.refusals.add(outcome)

    @property
    def allowed(self) -> set[str]:
        return self.refusals or {OK}


def current_at(at: datetime) -> Any:
    """Periods in force at `at` (half-open)."""
    return sa.and_(
        col(BedOccupancy.starts_at) <= at,
        sa.or_(col(BedOccupancy.ends_at).is_(None), col(BedOccupancy.ends_at) > at),
    )


def outcome_of(result: object) -> str:
    if isinstance(result, AppError):
        return type(result).__name__
    if isinstance(result, service.TurnedAway):
        return TURNED_AWAY + ",".join(result.failed)
    return OK


def test_the_services_keep_beds_capacity_and_the_board_consistent(
    backend: str, db: Session, cipher: FieldCipher, fixture_password_hash: str
) -> None:
    class Shelters(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.ready = False
            self.clock = FrozenClock(T0)
            self.example = db.begin_nested()  # undone in teardown: examples never meet
            self.shelters: list[ShelterModel] = []
            self.beds: dict[uuid.UUID, BedModel] = {}
            self.people: dict[uuid.UUID, PersonModel] = {}
            self.stays: dict[uuid.UUID, StayModel] = {}
            self.holds: dict[uuid.UUID, HoldModel] = {}
            self.extensions: dict[uuid.UUID, ExtensionModel] = {}
            self.log: list[str] = []

        # --- set-up and tear-down ----------------------------------------------------------

        @initialize(
            hard=st.integers(min_value=2, max_value=4),
            soft_extra=st.sampled_from([None, 1, 2, 3]),
            soft_nights=st.integers(min_value=1, max_value=2),
            hard_b=st.integers(min_value=2, max_value=3),
        )
        def build(self, hard: int, soft_extra: int | None, soft_nights: int, hard_b: int) -> None:
            world = World(db, self.clock, fixture_password_hash)
            organisation = world.organisation()
            soft = None if soft_extra is None else hard + soft_extra
            a, beds_a = make_shelter(
                world,
                cipher,
                organisation,
                name="Shelter A",
                beds=BEDS_A,
                hard_capacity=hard,
                soft_capacity=soft,
                soft_capacity_max_nights=soft_nights if soft else 0,
            )
            b, beds_b = make_shelter(
                world, cipher, organisation, name="Shelter B", beds=BEDS_B, hard_capacity=hard_b
            )
            staff = world.user(organisation, Role.SHELTER_STAFF)
            supervisor = world.user(organisation, Role.SUPERVISOR)
            assign(world, a, staff)
            assign(world, b, staff)
            self.staff = (Actor("user", str(staff.id), organisation.id), staff.id)
            self.supervisor = (Actor("user", str(supervisor.id), organisation.id), supervisor.id)
            for index, (shelter, beds) in enumerate(((a, beds_a), (b, beds_b))):
                self.shelters.append(
                    ShelterModel(
                        shelter.id,
                        shelter.hard_capacity,
                        shelter.soft_capacity,
                        shelter.soft_capacity_max_nights,
                        [bed.id for bed in beds],
                    )
                )
                for bed in beds:
                    self.beds[bed.id] = BedModel(bed.id, index, bed.label, bed.kind)
            self.log.append(f"A: hard {hard}, soft {soft}, nights {soft_nights}; B: hard {hard_b}")
            self.ready = True

        def teardown(self) -> None:
            if self.example.is_active:
                self.example.rollback()

        # --- the model -----------------------------------------------------------------------

        @property
        def now(self) -> datetime:
            return self.clock.now()

        def shelter(self, index: int) -> Shelter:
            found = db.get(Shelter, self.shelters[index].id)
            assert found is not None
            return found

        def hold_current(self, hold: HoldModel, at: datetime) -> bool:
            return not hold.deleted and hold.starts <= at < hold.ends

        def holder(self, bed: uuid.UUID, at: datetime | None = None) -> PersonModel | HoldModel:
            """Who has the bed now (a person or a hold), or raise KeyError when it is free."""
            at = self.now if at is None else at
            for person in self.people.values():
                if person.bed == bed:
                    return person
            for hold in self.holds.values():
                if hold.bed == bed and self.hold_current(hold, at):
                    return hold
            raise KeyError(bed)

        def taken(self, bed: uuid.UUID, at: datetime | None = None) -> bool:
            try:
                self.holder(bed, at)
            except KeyError:
                return False
            return True

        def count(self, index: int, at: datetime | None = None) -> int:
            return sum(1 for bed in self.shelters[index].beds if self.taken(bed, at))

        def current_holds(self, index: int) -> list[HoldModel]:
            return [
                h
                for h in self.holds.values()
                if self.beds[h.bed].shelter == index and self.hold_current(h, self.now)
            ]

        def settle(self, index: int, at: datetime | None = None) -> None:
            """The people counted changed: over the hard capacity from now, or not any more."""
            at = self.now if at is None else at
            model = self.shelters[index]
            if self.count(index, at) > model.hard:
                if model.over_since is None:
                    model.over_since = at
            else:
                model.over_since = None
                model.soft_in_use = False

        def nights_over(self, index: int) -> int:
            since = self.shelters[index].over_since
            if since is None:
                return 0
            return nights(since, self.now + timedelta(microseconds=1), ZONE)

        def free_for(self, index: int, ages: list[int], exclude: set[uuid.UUID]) -> bool:
            """Is there a free bed for each of these people (never a cot from age three)?"""
            free = [
                self.beds[b]
                for b in self.shelters[index].beds
                if b not in exclude and not self.beds[b].out_of_service and not self.taken(b)
            ]
            grown = sum(1 for age in ages if age >= service.CRIB_AGE)
            not_cots = sum(1 for bed in free if bed.kind is not BedKind.COT)
            return not_cots >= grown and len(free) >= len(ages)

        def end_hold(self, hold: HoldModel) -> None:
            if hold.starts >= self.now:
                hold.deleted = True
            else:
                hold.ends = self.now

        def attempt(self, what: str, expected: Attempt, call: Callable[[], Any]) -> Any:
            """Run `call` as a request's unit of work and check its outcome against the model."""
            savepoint = db.begin_nested()
            try:
                result = call()
            except AppError as exc:
                savepoint.rollback()
                result = exc
            except BaseException:
                savepoint.rollback()
                raise
            else:
                savepoint.commit()
            outcome = outcome_of(result)
            self.log.append(f"{self.now:%d %H:%M} {what}: {outcome}")
            assert outcome in expected.allowed, (
                f"{what}: got {outcome} ({getattr(result, 'message', '')}), model allows"
                f" {sorted(expected.allowed)}\n" + "\n".join(self.log)
            )
            return result

        # --- rules ---------------------------------------------------------------------------

        @rule(minutes=st.sampled_from([1, 17, 60, 5 * 60, 11 * 60, 23 * 60, 25 * 60, 49 * 60]))
        def tick(self, minutes: int) -> None:
            before = self.now
            after = self.clock.advance(timedelta(minutes=minutes))
            self.log.append(f"+{minutes} min")
            # Holds lapse on their own: below the hard capacity again from that instant.
            lapses = sorted(
                (h.ends, self.beds[h.bed].shelter)
                for h in self.holds.values()
                if not h.deleted and before < h.ends <= after
            )
            for at, index in lapses:
                self.settle(index, at)

        @rule(
            data=st.data(),
            where=st.sampled_from([0, 0, 1]),
            age=st.integers(min_value=18, max_value=65),
            children=st.lists(
                st.integers(min_value=0, max_value=2) | st.integers(min_value=3, max_value=17),
                max_size=2,
            ),
            # Who admits, and whether they use the soft capacity: mostly a supervisor who does.
            who=st.sampled_from(
                ["staff", "staff soft", "supervisor", "supervisor soft", "supervisor soft"]
            ),
            at_distance=st.integers(min_value=0, max_value=5).map(lambda n: n == 0),
            naming=st.sampled_from(["none", "none", "held", "any"]),
        )
        def admit(
            self,
            data: st.DataObject,
            where: int,
            age: int,
            children: list[int],
            who: str,
            at_distance: bool,
            naming: str,
        ) -> None:
            self.admission(data, where, age, children, who, at_distance, naming)

        @rule(
            data=st.data(),
            who=st.sampled_from(["staff", "supervisor soft", "supervisor soft"]),
            naming=st.sampled_from(["none", "none", "held"]),
        )
        def admit_one_woman(self, data: st.DataObject, who: str, naming: str) -> None:
            """Alone, to the shelter with the soft capacity: the pressure on its capacity."""
            self.admission(data, 0, 30, [], who, False, naming)

        def admission(
            self,
            data: st.DataObject,
            where: int,
            age: int,
            children: list[int],
            who: str,
            at_distance: bool,
            naming: str,
        ) -> None:
            model = self.shelters[where]
            supervisor, use_soft = who.startswith("supervisor"), who.endswith("soft")
            named: uuid.UUID | None = None
            if not at_distance and naming == "held" and self.current_holds(where):
                named = data.draw(st.sampled_from([h.bed for h in self.current_holds(where)]))
            elif not at_distance and naming == "any":
                named = data.draw(st.sampled_from(model.beds))
            ages = [age, *children]
            held = {h.bed for h in self.current_holds(where)}
            expected = Attempt()
            if not at_distance:
                arriving = len(ages) - (1 if named is not None and named in held else 0)
                after = self.count(where) + arriving
                if after > model.hard:
                    if not use_soft:
                        expected.refuse(TURNED_AWAY + "capacity")
                    elif not supervisor:
                        expected.refuse(FORBIDDEN)
                    elif model.soft is None or after > model.soft:
                        expected.refuse(TURNED_AWAY + "capacity")
                    elif self.nights_over(where) >= model.soft_nights:
                        expected.refuse(TURNED_AWAY + "soft_capacity_nights")
                if named is not None:
                    bed = self.beds[named]
                    if bed.out_of_service or (bed.kind is BedKind.COT and age >= service.CRIB_AGE):
                        expected.refuse(INVALID)
                    elif self.taken(named) and named not in held:
                        expected.refuse(CONFLICT)
                    elif not self.free_for(where, children, {named}):
                        expected.refuse(TURNED_AWAY + "no_free_bed")
                elif not self.free_for(where, ages, set()):
                    expected.refuse(TURNED_AWAY + "no_free_bed")
            actor, user_id = self.supervisor if supervisor else self.staff
            roles = frozenset({Role.SUPERVISOR if supervisor else Role.SHELTER_STAFF})
            body = AdmissionCreate(
                client=PersonIn(name="Client Test", sex=Sex.FEMALE, age=age, bed_id=named),
                children=[
                    PersonIn(name=f"Child {n} Test", sex=Sex.FEMALE, age=a)
                    for n, a in enumerate(children)
                ],
                channel=Channel.IN_PERSON,
                municipality="Podgorica",
                at_distance=at_distance,
                use_soft_capacity=use_soft,
            )
            result = self.attempt(
                f"admit {ages} to {'AB'[where]}"
                + (f" naming {self.beds[named].label}" if named else "")
                + (" at distance" if at_distance else "")
                + (" soft" if use_soft else "")
                + (" by supervisor" if supervisor else ""),
                expected,
                lambda: service.admit(
                    db,
                    now=self.now,
                    shelter=self.shelter(where),
                    data=body,
                    cipher=cipher,
                    actor=actor,
                    actor_roles=roles,
                    user_id=user_id,
                ),
            )
            if not isinstance(result, service.Admitted):
                return
            stay = result.stay
            beds = {
                o.member_id: o.bed_id
                for o in db.exec(
                    select(BedOccupancy).where(
                        BedOccupancy.stay_id == stay.id, current_at(self.now)
                    )
                ).all()
            }
            assert [m.age for m in result.members] == ages
            given = [beds.get(m.id) for m in result.members]
            if at_distance:
                assert given == [None] * len(ages)
            else:
                assert None not in given
                assert len(set(given)) == len(given)
                if named is not None:
                    assert given[0] == named
                for bed_id, person_age in zip(given, ages, strict=True):
                    assert bed_id is not None
                    bed = self.beds[bed_id]
                    assert bed.shelter == where
                    assert not bed.out_of_service
                    assert bed.kind is not BedKind.COT or person_age < service.CRIB_AGE
                    assert not self.taken(bed_id) or bed_id == named
            if named is not None and named in held:
                hold = next(h for h in self.current_holds(where) if h.bed == named)
                self.end_hold(hold)
            self.stays[stay.id] = StayModel(
                stay.id,
                where,
                [m.id for m in result.members],
                self.now,
                add_local_days(self.now, 7, ZONE),
            )
            for member, bed_id in zip(result.members, given, strict=True):
                self.people[member.id] = PersonModel(member.id, stay.id, member.age, bed_id)
            self.settle(where)
            if self.count(where) > model.hard:
                model.soft_in_use = True

        @rule(data=st.data(), days=st.integers(min_value=1, max_value=100))
        def request_extension(self, data: st.DataObject, days: int) -> None:
            if not self.stays:
                return
            stay = self.pick_stay(data)
            new_end = stay.planned_end + timedelta(days=days)
            expected = Attempt()
            if not stay.active:
                expected.refuse(CONFLICT)
            if new_end > add_local_days(stay.admitted_at, service.MAX_EXTENDED_STAY_DAYS, ZONE):
                expected.refuse(INVALID)
            if any(e.stay == stay.id and not e.decided for e in self.extensions.values()):
                expected.refuse(CONFLICT)
            actor, user_id = self.staff
            result = self.attempt(
                f"request an extension of {days} days",
                expected,
                lambda: service.request_extension(
                    db,
                    now=self.now,
                    shelter=self.shelter(stay.shelter),
                    stay=self.stay_row(stay.id),
                    data=ExtensionCreate(new_end=new_end, justification=JUSTIFICATION),
                    cipher=cipher,
                    user_id=user_id,
                    actor=actor,
                ),
            )
            if outcome_of(result) == OK:
                self.extensions[result.id] = ExtensionModel(
                    result.id, stay.id, stay.planned_end, new_end
                )

        def pick_stay(self, data: st.DataObject) -> StayModel:
            """Mostly an active stay; sometimes any, to see the refusals for ended ones."""
            stays = list(self.stays.values())
            return self.pick(data, stays, [s for s in stays if s.active])

        def live_holds(self) -> list[HoldModel]:
            return [h for h in self.holds.values() if not h.deleted and h.ends > self.now]

        def pick(self, data: st.DataObject, every: list[T], likely: list[T]) -> T:
            """Five times in six one of `likely` (when there is one), else any of `every`."""
            if likely and data.draw(st.integers(min_value=0, max_value=5)) > 0:
                return data.draw(st.sampled_from(likely))
            return data.draw(st.sampled_from(every))

        def stay_row(self, stay_id: uuid.UUID) -> Stay:
            found = db.get(Stay, stay_id)
            assert found is not None
            return found

        @rule(data=st.data(), approve=st.booleans())
        def decide_extension(self, data: st.DataObject, approve: bool) -> None:
            if not self.extensions:
                return
            extension = self.extensions[data.draw(st.sampled_from(list(self.extensions)))]
            stay = self.stays[extension.stay]
            expected = Attempt()
            if extension.decided or not stay.active:
                expected.refuse(CONFLICT)
            if approve and extension.previous_end != stay.planned_end:
                expected.refuse(CONFLICT)
            actor, user_id = self.supervisor
            row = db.get(StayExtension, extension.id)
            assert row is not None
            result = self.attempt(
                ("approve" if approve else "reject") + " an extension",
                expected,
                lambda: service.decide_extension(
                    db,
                    now=self.now,
                    shelter=self.shelter(stay.shelter),
                    stay=self.stay_row(stay.id),
                    extension=row,
                    approve=approve,
                    note=None,
                    cipher=cipher,
                    user_id=user_id,
                    actor=actor,
                ),
            )
            if outcome_of(result) == OK:
                extension.decided = True
                if approve:
                    stay.planned_end = extension.new_end

        @rule(data=st.data(), elsewhere=st.booleans(), plausible=st.integers(0, 4))
        def transfer(self, data: st.DataObject, elsewhere: bool, plausible: int) -> None:
            active = [s for s in self.stays.values() if s.active]
            if not active:
                return
            stay = data.draw(st.sampled_from(active))
            target = 1 - stay.shelter if elsewhere else stay.shelter
            members = stay.members
            if elsewhere and (len(members) == 1 or data.draw(st.integers(0, 5)) > 0):
                moving = list(members)
            else:
                moving = data.draw(st.lists(st.sampled_from(members), min_size=1, unique=True))
            beds: list[uuid.UUID] = []
            for member in moving:
                age = self.people[member].age
                choices = [b for b in self.shelters[target].beds if b not in beds]
                fitting = [
                    b
                    for b in choices
                    if not self.beds[b].out_of_service
                    and not self.taken(b)
                    and (self.beds[b].kind is not BedKind.COT or age < service.CRIB_AGE)
                ]
                # Mostly beds that fit; sometimes any bed, to see the refusals.
                beds.append(
                    data.draw(st.sampled_from(fitting if fitting and plausible else choices))
                )
            expected = Attempt()
            model = self.shelters[target]
            if elsewhere and set(moving) != set(members):
                expected.refuse(INVALID)
            newly = sum(1 for m in moving if self.people[m].bed is None)
            incoming = len(moving) if elsewhere else newly
            if incoming and self.count(target) + incoming > model.hard:
                expected.refuse(CONFLICT)
            for member, bed_id in zip(moving, beds, strict=True):
                bed = self.beds[bed_id]
                if bed.out_of_service:
                    expected.refuse(INVALID)
                if bed.kind is BedKind.COT and self.people[member].age >= service.CRIB_AGE:
                    expected.refuse(INVALID)
                try:
                    holder = self.holder(bed_id)
                except KeyError:
                    pass
                else:
                    if not (isinstance(holder, PersonModel) and holder.id in moving):
                        expected.refuse(CONFLICT)
                if self.people[member].bed == bed_id:
                    expected.refuse(INVALID)
            actor, _ = self.staff
            body = TransferCreate(
                to_shelter_id=model.id if elsewhere else None,
                moves=[Move(member_id=m, bed_id=b) for m, b in zip(moving, beds, strict=True)],
                reason="Moved for her safety",
            )
            source = stay.shelter
            result = self.attempt(
                f"transfer {len(moving)} of {len(members)} from {'AB'[source]} to "
                + ",".join(f"{'AB'[target]}{self.beds[b].label}" for b in beds),
                expected,
                lambda: service.transfer(
                    db,
                    now=self.now,
                    shelter=self.shelter(source),
                    target=self.shelter(target),
                    stay=self.stay_row(stay.id),
                    data=body,
                    cipher=cipher,
                    actor=actor,
                ),
            )
            if outcome_of(result) != OK:
                return
            for member, bed_id in zip(moving, beds, strict=True):
                self.people[member].bed = bed_id
            stay.shelter = target
            self.settle(source)
            self.settle(target)

        @rule(data=st.data())
        def discharge(self, data: st.DataObject) -> None:
            if not self.stays:
                return
            stay = self.pick_stay(data)
            expected = Attempt()
            if not stay.active:
                expected.refuse(CONFLICT)
            actor, _ = self.staff
            result = self.attempt(
                f"discharge a stay of {len(stay.members)} from {'AB'[stay.shelter]}",
                expected,
                lambda: service.discharge(
                    db,
                    now=self.now,
                    shelter=self.shelter(stay.shelter),
                    stay=self.stay_row(stay.id),
                    data=DischargeCreate(destination=Destination.HOME, reason="Went home"),
                    cipher=cipher,
                    actor=actor,
                ),
            )
            if outcome_of(result) != OK:
                return
            stay.active = False
            for member in stay.members:
                self.people[member].bed = None
            self.settle(stay.shelter)

        @rule(data=st.data(), out=st.booleans())
        def bed_service(self, data: st.DataObject, out: bool) -> None:
            bed = self.beds[data.draw(st.sampled_from(list(self.beds)))]
            expected = Attempt()
            if out and self.taken(bed.id):
                expected.refuse(CONFLICT)
            actor, _ = self.staff
            result = self.attempt(
                f"{'out of' if out else 'into'} service {'AB'[bed.shelter]}{bed.label}",
                expected,
                lambda: service.set_bed_service(
                    db,
                    now=self.now,
                    shelter=self.shelter(bed.shelter),
                    bed_id=bed.id,
                    out_of_service=out,
                    reason="Broken frame",
                    cipher=cipher,
                    actor=actor,
                ),
            )
            if outcome_of(result) == OK:
                bed.out_of_service = out

        @rule(data=st.data(), minutes=st.sampled_from([30, 3 * 60, 24 * 60, 24 * 60 + 1]))
        def hold(self, data: st.DataObject, minutes: int) -> None:
            bed = self.beds[data.draw(st.sampled_from(list(self.beds)))]
            until = self.now + timedelta(minutes=minutes)
            expected = Attempt()
            if minutes > 24 * 60:
                expected.refuse(INVALID)
            if bed.out_of_service or self.taken(bed.id):
                expected.refuse(CONFLICT)
            if self.count(bed.shelter) + 1 > self.shelters[bed.shelter].hard:
                expected.refuse(CONFLICT)
            actor, _ = self.staff
            result = self.attempt(
                f"hold {'AB'[bed.shelter]}{bed.label} for {minutes} min",
                expected,
                lambda: service.hold_bed(
                    db,
                    now=self.now,
                    shelter=self.shelter(bed.shelter),
                    data=HoldCreate(bed_id=bed.id, until=until, note="On her way"),
                    cipher=cipher,
                    actor=actor,
                ),
            )
            if outcome_of(result) == OK:
                self.holds[result.id] = HoldModel(result.id, bed.id, self.now, until)
                self.settle(bed.shelter)

        @rule(data=st.data())
        def release(self, data: st.DataObject) -> None:
            if not self.holds:
                return
            hold = self.pick(data, list(self.holds.values()), self.live_holds())
            index = self.beds[hold.bed].shelter
            expected = Attempt()
            if hold.deleted:
                expected.refuse(NOT_FOUND)
            elif hold.ends <= self.now:
                expected.refuse(CONFLICT)
            actor, _ = self.staff
            result = self.attempt(
                f"release the hold on {'AB'[index]}{self.beds[hold.bed].label}",
                expected,
                lambda: service.release_hold(
                    db, now=self.now, shelter=self.shelter(index), hold_id=hold.id, actor=actor
                ),
            )
            if outcome_of(result) == OK:
                self.end_hold(hold)
                self.settle(index)

        # --- invariants ----------------------------------------------------------------------

        @invariant()
        def beds_and_people(self) -> None:
            if not self.ready:
                return
            now = self.now
            current = db.exec(
                select(BedOccupancy).where(
                    col(BedOccupancy.shelter_id).in_([s.id for s in self.shelters]),
                    current_at(now),
                )
            ).all()
            per_bed = Counter(o.bed_id for o in current)
            per_person = Counter(o.member_id for o in current if o.member_id is not None)
            assert max(per_bed.values(), default=0) <= 1, "a bed holds two people"
            assert max(per_person.values(), default=0) <= 1, "a person is in two beds"
            for occupancy in current:
                bed = self.beds[occupancy.bed_id]
                assert not bed.out_of_service, f"out-of-service {bed.label} is taken"
                assert occupancy.shelter_id == self.shelters[bed.shelter].id
                if occupancy.member_id is not None:
                    assert self.stays[self.people[occupancy.member_id].stay].active
            by_model = {
                b: (
                    holder.id,
                    OccupancyKind.OCCUPIED
                    if isinstance(holder, PersonModel)
                    else OccupancyKind.RESERVED,
                )
                for b in self.beds
                for holder in [self._holder_or_none(b)]
                if holder is not None
            }
            by_database = {
                o.bed_id: (o.member_id if o.kind is OccupancyKind.OCCUPIED else o.id, o.kind)
                for o in current
            }
            assert by_database == by_model, "\n".join(self.log)

        def _holder_or_none(self, bed: uuid.UUID) -> PersonModel | HoldModel | None:
            try:
                return self.holder(bed)
            except KeyError:
                return None

        @invariant()
        def capacity(self) -> None:
            if not self.ready:
                return
            for index, model in enumerate(self.shelters):
                people = service.people_in(db, shelter_id=model.id, now=self.now)
                assert people == self.count(index)
                if model.soft_in_use:
                    assert model.soft is not None
                    assert model.hard < people <= model.soft
                else:
                    assert people <= model.hard, "\n".join(self.log)

        @invariant()
        def the_board(self) -> None:
            if not self.ready:
                return
            for index in range(len(self.shelters)):
                board = service.bed_board(db, shelter=self.shelter(index), now=self.now)
                assert [e.bed.id for e in board] == self.shelters[index].beds
                for entry in board:
                    holder = self._holder_or_none(entry.bed.id)
                    if isinstance(holder, PersonModel):
                        state, member = BedState.OCCUPIED, holder.id
                    elif isinstance(holder, HoldModel):
                        state, member = BedState.RESERVED, None
                    elif self.beds[entry.bed.id].out_of_service:
                        state, member = BedState.OUT_OF_SERVICE, None
                    else:
                        state, member = BedState.FREE, None
                    seen = entry.member.id if entry.member is not None else None
                    assert (entry.bed.label, entry.state, seen) == (
                        self.beds[entry.bed.id].label,
                        state,
                        member,
                    ), "\n".join(self.log)
                    assert entry.bed.out_of_service == self.beds[entry.bed.id].out_of_service

        @invariant()
        def the_stays(self) -> None:
            if not self.ready or not self.stays:
                return
            rows = {
                s.id: s
                for s in db.exec(select(Stay).where(col(Stay.id).in_(list(self.stays)))).all()
            }
            for stay in self.stays.values():
                row = rows[stay.id]
                assert row.shelter_id == self.shelters[stay.shelter].id
                assert row.status is (StayStatus.ACTIVE if stay.active else StayStatus.ENDED)
                assert row.planned_end == stay.planned_end
                assert (row.people, row.children) == (len(stay.members), len(stay.members) - 1)
                if stay.active:
                    unbedded = any(self.people[m].bed is None for m in stay.members)
                    assert row.at_distance == unbedded

    run_state_machine_as_test(
        Shelters,
        settings=settings(
            max_examples=50,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )


# --- what the machine found, kept as plain examples -----------------------------------------


def _admit(
    db: Session, cipher: FieldCipher, place: Place, now: datetime, *, soft: bool
) -> service.Admitted | service.TurnedAway:
    user = place.supervisor if soft else place.staff
    return service.admit(
        db,
        now=now,
        shelter=place.shelter,
        data=AdmissionCreate(
            client=PersonIn(name="Client Test", sex=Sex.FEMALE, age=30),
            channel=Channel.IN_PERSON,
            municipality="Podgorica",
            use_soft_capacity=soft,
        ),
        cipher=cipher,
        actor=Actor("user", str(user.id), place.organisation.id),
        actor_roles=frozenset({Role.SUPERVISOR if soft else Role.SHELTER_STAFF}),
        user_id=user.id,
    )


@pytest.mark.parametrize("hold_ends", ["released", "lapsed"])
def test_nights_over_capacity_restart_once_a_hold_brings_the_shelter_back_to_capacity(
    db: Session, world: World, cipher: FieldCipher, hold_ends: str
) -> None:
    """Hard capacity 2, soft 4 for one night. A hold and two admissions: over capacity from T0.
    The hold ends (released, or lapsed at its time): back at the hard capacity. A night later,
    at capacity all along, a supervisor's soft-capacity admission is allowed: the shelter has
    not been over its hard capacity for any night."""
    organisation = world.organisation()
    shelter, beds = make_shelter(
        world,
        cipher,
        organisation,
        beds=(("A1", BedKind.BED), ("A2", BedKind.BED), ("E1", BedKind.EMERGENCY)),
        hard_capacity=2,
        soft_capacity=4,
        soft_capacity_max_nights=1,
    )
    staff = world.user(organisation, Role.SHELTER_STAFF)
    supervisor = world.user(organisation, Role.SUPERVISOR)
    assign(world, shelter, staff)
    place = Place(organisation, shelter, beds, staff, supervisor, world)
    actor = Actor("user", str(staff.id), organisation.id)
    hold = service.hold_bed(
        db,
        now=T0,
        shelter=shelter,
        data=HoldCreate(
            bed_id=place.bed("E1").id, until=T0 + timedelta(hours=2), note="On her way"
        ),
        cipher=cipher,
        actor=actor,
    )
    assert isinstance(_admit(db, cipher, place, T0, soft=False), service.Admitted)
    assert isinstance(_admit(db, cipher, place, T0, soft=True), service.Admitted)
    assert service.people_in(db, shelter_id=shelter.id, now=T0) == 3
    if hold_ends == "released":
        service.release_hold(
            db, now=T0 + timedelta(hours=1), shelter=shelter, hold_id=hold.id, actor=actor
        )
    back_at_capacity = T0 + timedelta(hours=2)
    assert service.people_in(db, shelter_id=shelter.id, now=back_at_capacity) == 2

    next_day = T0 + timedelta(days=1)  # a midnight at capacity, none over it
    result = _admit(db, cipher, place, next_day, soft=True)

    assert outcome_of(result) == OK
