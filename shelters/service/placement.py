"""An admission's plan, decided before anything is written: which of the shelter's checks fail,
whether the people fit its capacity, which bed each person gets, and the stay's clocks.

Pure: it reads only what it is given (the shelter, the request, and its beds as the admission
found them under the shelter's lock), so every rule here can be tried without a database.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from core.errors import Conflict, Forbidden, InvalidInput
from core.localtime import add_local_days
from core.models import Role
from shelters import errors
from shelters.models import AdmissionCreate, Bed, BedKind, Group, PersonIn, Sex, Shelter
from shelters.service.common import CRIB_AGE, nights_over, over_capacity_mark

CSW_DECISION_DAYS = 7

SPLIT_NOTICE = (
    "The group is split across rooms: no room had enough eligible free beds for all of them."
)
NAMED_SPLIT_NOTICE = (
    "The group is split across rooms: the beds named for it are in different rooms."
)


# --- eligibility ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Criteria:
    """The eligibility columns of a shelter, without loading the shelter."""

    sexes: list[Sex]
    min_age: int
    max_age: int | None
    groups: list[Group]
    accepts_children: bool


def eligibility_failures(
    shelter: Shelter | Criteria, *, sex: Sex, age: int, group: Group | None, children: int
) -> list[str]:
    """Which of the shelter's criteria a request fails (empty when eligible)."""
    failed: list[str] = []
    if sex not in shelter.sexes:
        failed.append("sex")
    if age < shelter.min_age or (shelter.max_age is not None and age > shelter.max_age):
        failed.append("age")
    if group is not None and shelter.groups and group not in shelter.groups:
        failed.append("group")
    if children and not shelter.accepts_children:
        failed.append("children")
    return failed


# --- capacity ---------------------------------------------------------------------------------


def capacity_problem(
    shelter: Shelter,
    *,
    people: int,
    adding: int,
    use_soft: bool,
    actor_roles: frozenset[Role],
    now: datetime,
) -> str | None:
    """None when `adding` more people fit beside the `people` there now; otherwise why not (for
    a turn-away). Soft capacity is a supervisor's to use, for a limited number of nights."""
    after = people + adding
    if after <= shelter.hard_capacity:
        return None
    if not use_soft:
        return "capacity"
    if Role.SUPERVISOR not in actor_roles:
        raise Forbidden(errors.SOFT_CAPACITY_SUPERVISOR)
    if shelter.soft_capacity is None or after > shelter.soft_capacity:
        return "capacity"
    # The mark as it stands now: a hold that lapsed may have ended an over-capacity period.
    since = over_capacity_mark(shelter, people=people, now=now)
    if nights_over(since, now=now, zone=shelter.time_zone) >= shelter.soft_capacity_max_nights:
        return "soft_capacity_nights"
    return None


# --- beds -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BedsFound:
    """The shelter's beds as an admission finds them, read under the shelter's lock."""

    in_service: list[Bed]  # by label
    held: frozenset[uuid.UUID]  # reserved at some instant from her arrival to now
    occupied: frozenset[uuid.UUID]  # occupied at some instant from her arrival to now
    held_now: frozenset[uuid.UUID]  # reserved now: whom they wait for is counted already
    people_in: int  # beds occupied or reserved now


@dataclass(frozen=True)
class Placement:
    beds: list[uuid.UUID]  # one per person, in the order of the admission
    split: bool = False
    notice: str | None = None


def _kinds_for(person: PersonIn) -> list[BedKind]:
    """The beds a person may have, best first: cots only (and first) for children under three."""
    if person.age < CRIB_AGE:
        return [BedKind.COT, BedKind.BED, BedKind.EMERGENCY]
    return [BedKind.BED, BedKind.EMERGENCY]


def _assign(free: Sequence[Bed], people: Sequence[PersonIn]) -> list[Bed] | None:
    """A bed of `free` (in label order) for each person, best kind first; None if one has none."""
    left = list(free)
    picked: list[Bed] = []
    for person in people:
        pick = next((b for kind in _kinds_for(person) for b in left if b.kind is kind), None)
        if pick is None:
            return None
        left.remove(pick)
        picked.append(pick)
    return picked


def _one_room(
    free: Sequence[Bed], people: Sequence[PersonIn], preferred: set[uuid.UUID]
) -> list[Bed] | None:
    """Beds for `people` all in one room, if a room has enough eligible free beds: a room where
    the group already has a named bed first, then the fewest emergency beds, then the room of
    the first bed by label."""
    order = {bed.id: index for index, bed in enumerate(free)}
    rooms: dict[uuid.UUID, list[Bed]] = defaultdict(list)
    for bed in free:
        rooms[bed.room_id].append(bed)
    found: list[tuple[tuple[bool, int, int], list[Bed]]] = []
    for room_id, beds in rooms.items():
        picked = _assign(beds, people)
        if picked is not None:
            emergency = sum(1 for b in picked if b.kind is BedKind.EMERGENCY)
            cost = (room_id not in preferred, emergency, min(order[b.id] for b in picked))
            found.append((cost, picked))
    return min(found, key=lambda pair: pair[0])[1] if found else None


def _named_beds(
    found: BedsFound, people: Sequence[PersonIn], taken: set[uuid.UUID]
) -> list[uuid.UUID | None]:
    """The bed each person named (None where the service picks), each checked and added to
    `taken`.

    A named bed that is taken is a conflict (someone else got there first), not a turn-away.
    A named bed that is reserved is the one kept for this person: the hold gives way.
    """
    by_id = {b.id: b for b in found.in_service}
    held = set(found.held)
    chosen: list[uuid.UUID | None] = []
    for person in people:
        if person.bed_id is None:
            chosen.append(None)
            continue
        bed = by_id.get(person.bed_id)
        if bed is None:
            raise InvalidInput(errors.NO_SUCH_BED)
        if bed.kind is BedKind.COT and person.age >= CRIB_AGE:
            raise InvalidInput(errors.COT_FOR_INFANTS)
        if bed.id in found.occupied or (bed.id in taken and bed.id not in held):
            raise Conflict(errors.BED_TAKEN)
        held.discard(bed.id)
        taken.add(bed.id)
        chosen.append(bed.id)
    return chosen


def pick_beds(found: BedsFound, people: Sequence[PersonIn]) -> Placement | None:
    """A bed for each person (theirs if named), free from her arrival to now; None when not
    everyone fits. The beds the service picks keep the group in one room whenever one room has
    enough eligible beds."""
    taken = set(found.held | found.occupied)
    chosen = _named_beds(found, people, taken)
    by_id = {b.id: b for b in found.in_service}
    free = [b for b in found.in_service if b.id not in taken]
    unnamed = [index for index, bed_id in enumerate(chosen) if bed_id is None]
    named_rooms = {by_id[b].room_id for b in chosen if b is not None}
    waiting = [people[index] for index in unnamed]
    together = _one_room(free, waiting, named_rooms) if waiting else []
    picked = together if together is not None else _assign(free, waiting)
    if picked is None:
        return None
    for index, bed in zip(unnamed, picked, strict=True):
        chosen[index] = bed.id
    final = [b for b in chosen if b is not None]
    if len({by_id[b].room_id for b in final}) <= 1:
        return Placement(final)
    return Placement(final, True, NAMED_SPLIT_NOTICE if together is not None else SPLIT_NOTICE)


# --- the plan ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdmissionPlan:
    """What an admission does: a turn-away for the checks that failed, or a stay in these beds
    with these clocks (every one running from when she arrived)."""

    admitted_at: datetime
    planned_end: datetime
    decision_due_at: datetime
    failed: list[str] = field(default_factory=list)  # empty: she is admitted
    beds: list[uuid.UUID] = field(default_factory=list)  # client first; none at distance
    split_across_rooms: bool = False
    notice: str | None = None
    # Capacity was checked on the over-capacity mark as it stands now: write that mark first.
    capacity_checked: bool = False


def plan_admission(
    shelter: Shelter,
    data: AdmissionCreate,
    found: BedsFound,
    *,
    since: datetime,
    now: datetime,
    actor_roles: frozenset[Role],
) -> AdmissionPlan:
    """Eligibility, then (unless she is supported at distance) capacity, then beds."""
    plan = AdmissionPlan(
        admitted_at=since,
        planned_end=add_local_days(since, data.contract_days, shelter.time_zone),
        decision_due_at=add_local_days(since, CSW_DECISION_DAYS, shelter.time_zone),
    )
    failed = eligibility_failures(
        shelter,
        sex=data.client.sex,
        age=data.client.age,
        group=data.group,
        children=len(data.children),
    )
    if failed or data.at_distance:
        return replace(plan, failed=failed)
    people = [data.client, *data.children]
    # People arriving into beds held for them are already counted by their holds.
    adding = sum(1 for p in people if p.bed_id is None or p.bed_id not in found.held_now)
    plan = replace(plan, capacity_checked=True)
    problem = capacity_problem(
        shelter,
        people=found.people_in,
        adding=adding,
        use_soft=data.use_soft_capacity,
        actor_roles=actor_roles,
        now=now,
    )
    if problem is not None:
        return replace(plan, failed=[problem])
    placed = pick_beds(found, people)
    if placed is None:
        return replace(plan, failed=["no_free_bed"])
    return replace(plan, beds=placed.beds, split_across_rooms=placed.split, notice=placed.notice)
