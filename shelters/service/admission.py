"""Emergency admission by urgent procedure, and the turn-aways when there is no eligible bed.

`admit` reads what the plan needs under the shelter's lock, lets `placement.plan_admission`
decide, and writes what it decided: a turn-away, or the stay with its people in their beds. The
competent CSW hears of the stay through `core.events.StayAdmitted`, in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from core import events
from core.audit import Actor
from core.clock import ensure_utc
from core.crypto import FieldCipher
from core.errors import InvalidInput
from core.events import AdmittedPerson, CallOfOrganisation, StayAdmitted
from core.models import Role
from core.scoped import new_reference
from shelters import errors
from shelters.models import (
    AdmissionCreate,
    BedOccupancy,
    MemberRole,
    OccupancyKind,
    PersonIn,
    Shelter,
    Stay,
    StayMember,
    TurnAway,
    TurnAwayUpdate,
)
from shelters.service.common import (
    CRIB_AGE,
    MEMBER_CONTEXT,
    MUNICIPALITY_CONTEXT,
    audit_act,
    current_occupancies,
    during,
    end_occupancy,
    flush_occupancies,
    get_within,
    list_within,
    lock_shelter,
    occupy,
    update_over_capacity,
)
from shelters.service.free_beds import Availability, network_availability
from shelters.service.placement import AdmissionPlan, BedsFound, plan_admission
from shelters.service.shelters import list_beds

MAX_LATE_ENTRY = timedelta(hours=24)  # a night admission may be entered up to a day later
TURN_AWAY = "shelter_turn_away"  # what turn-aways are audited as


@dataclass
class TurnedAway:
    turn_away: TurnAway
    failed: list[str]
    alternatives: list[Availability]


@dataclass
class Admitted:
    stay: Stay
    members: list[StayMember] = field(default_factory=list)
    split_across_rooms: bool = False
    notice: str | None = None


def admission_time(admitted_at: datetime | None, *, now: datetime) -> datetime:
    """When she arrived: now, or a time entered late (at most 24 hours ago, never ahead)."""
    if admitted_at is None:
        return now
    admitted_at = ensure_utc(admitted_at)
    if admitted_at > now:
        raise InvalidInput(errors.ADMITTED_AHEAD)
    if admitted_at < now - MAX_LATE_ENTRY:
        raise InvalidInput(errors.ADMITTED_TOO_EARLY)
    return admitted_at


def admit(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    data: AdmissionCreate,
    cipher: FieldCipher,
    actor: Actor,
    actor_roles: frozenset[Role],
    user_id: uuid.UUID | None,
) -> Admitted | TurnedAway:
    """Emergency admission by urgent procedure: no one's decision is awaited.

    The shelter's row lock serialises admissions to one shelter, so capacity and beds are
    decided on what is really there; the database's overlap guard backs that up. A night
    admission entered later carries its real time (`admitted_at`): its beds are taken from then.
    """
    since = admission_time(data.admitted_at, now=now)
    if data.call_id is not None and not events.ask(
        session, CallOfOrganisation(data.call_id, shelter.organisation_id)
    ):
        raise InvalidInput(errors.NO_SUCH_CALL)
    shelter = lock_shelter(session, shelter)
    plan = plan_admission(
        shelter,
        data,
        _beds_found(session, shelter=shelter, since=since, now=now),
        since=since,
        now=now,
        actor_roles=actor_roles,
    )
    if plan.capacity_checked:
        # A hold that lapsed may have ended an over-capacity period without anyone writing it.
        update_over_capacity(session, shelter, now=now)
    if plan.failed:
        return _turn_away(
            session,
            now=now,
            shelter=shelter,
            data=data,
            failed=plan.failed,
            actor=actor,
            user_id=user_id,
        )
    return _admit_as_planned(
        session,
        now=now,
        plan=plan,
        shelter=shelter,
        data=data,
        cipher=cipher,
        actor=actor,
        user_id=user_id,
    )


def _admit_as_planned(
    session: Session,
    *,
    now: datetime,
    plan: AdmissionPlan,
    shelter: Shelter,
    data: AdmissionCreate,
    cipher: FieldCipher,
    actor: Actor,
    user_id: uuid.UUID | None,
) -> Admitted:
    """The stay, its people in the beds planned (holds on them ending as she arrived), the
    capacity mark, the audit, and `StayAdmitted` for the competent CSW's referral."""
    stay, members = _new_stay(
        session, now=now, plan=plan, shelter=shelter, data=data, cipher=cipher, user_id=user_id
    )
    _end_holds(session, bed_ids=plan.beds, since=plan.admitted_at, now=now)
    for member, bed_id in zip(members, plan.beds, strict=False):
        session.add(occupy(shelter.id, bed_id, stay.id, member, plan.admitted_at))
    flush_occupancies(session)
    update_over_capacity(session, shelter, now=now)
    _audit_admission(session, now=now, shelter=shelter, stay=stay, data=data, actor=actor)
    events.publish(
        session,
        StayAdmitted(
            stay_id=stay.id,
            organisation_id=stay.organisation_id,
            municipality=data.municipality,
            admitted_at=stay.admitted_at,
            entered_at=now,
            decision_due_at=stay.decision_due_at,
            client=_person(data.client),
            children=tuple(_person(child) for child in data.children),
            cipher=cipher,
            actor=actor,
            user_id=user_id,
        ),
    )
    return Admitted(stay, members, plan.split_across_rooms, plan.notice)


def _beds_found(session: Session, *, shelter: Shelter, since: datetime, now: datetime) -> BedsFound:
    """The shelter's beds as the plan needs them: in service, taken since she arrived, now."""
    since_then = session.exec(
        select(BedOccupancy).where(BedOccupancy.shelter_id == shelter.id, during(since, now))
    ).all()
    now_taken = current_occupancies(session, shelter_id=shelter.id, now=now)
    return BedsFound(
        in_service=[b for b in list_beds(session, shelter_id=shelter.id) if not b.out_of_service],
        held=frozenset(o.bed_id for o in since_then if o.kind is OccupancyKind.RESERVED),
        occupied=frozenset(o.bed_id for o in since_then if o.kind is OccupancyKind.OCCUPIED),
        held_now=frozenset(o.bed_id for o in now_taken if o.kind is OccupancyKind.RESERVED),
        people_in=len(now_taken),
    )


def _person(person: PersonIn) -> AdmittedPerson:
    return AdmittedPerson(name=person.name, sex=person.sex.value, age=person.age)


def _new_stay(
    session: Session,
    *,
    now: datetime,
    plan: AdmissionPlan,
    shelter: Shelter,
    data: AdmissionCreate,
    cipher: FieldCipher,
    user_id: uuid.UUID | None,
) -> tuple[Stay, list[StayMember]]:
    """The stay and its people; every clock runs from when she arrived (`plan.admitted_at`)."""
    key_id, blob = cipher.seal_pair(data.municipality, context=MUNICIPALITY_CONTEXT)
    stay = Stay(
        organisation_id=shelter.organisation_id,
        shelter_id=shelter.id,
        reference=new_reference(session, col(Stay.reference), "ST-"),
        channel=data.channel,
        call_id=data.call_id,
        municipality_key_id=key_id,
        municipality_sealed=blob,
        at_distance=data.at_distance,
        people=1 + len(data.children),
        children=len(data.children),
        admitted_at=plan.admitted_at,
        contract_days=data.contract_days,
        planned_end=plan.planned_end,
        decision_due_at=plan.decision_due_at,
        admitted_by=user_id,
        created_at=now,
    )
    session.add(stay)
    session.flush()
    members: list[StayMember] = []
    for index, person in enumerate([data.client, *data.children]):
        key_id, blob = cipher.seal_pair(person.name, context=MEMBER_CONTEXT)
        member = StayMember(
            stay_id=stay.id,
            role=MemberRole.CLIENT if index == 0 else MemberRole.CHILD,
            name_key_id=key_id,
            name_sealed=blob,
            sex=person.sex,
            age=person.age,
        )
        session.add(member)
        members.append(member)
    session.flush()
    return stay, members


def _end_holds(
    session: Session, *, bed_ids: Iterable[uuid.UUID], since: datetime, now: datetime
) -> None:
    """A reserved bed taken by an admission: the hold ends as the stay begins (`since`)."""
    ids = list(bed_ids)
    if not ids:
        return
    holds = session.exec(
        select(BedOccupancy).where(
            col(BedOccupancy.bed_id).in_(ids),
            BedOccupancy.kind == OccupancyKind.RESERVED,
            during(since, now),
        )
    ).all()
    for hold in holds:
        end_occupancy(session, hold, since)
    session.flush()


def _audit_admission(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    stay: Stay,
    data: AdmissionCreate,
    actor: Actor,
) -> None:
    reason = f"channel {data.channel}; people {stay.people}"
    if data.at_distance:
        reason += "; at distance"
    audit_act(
        session,
        now,
        actor,
        "shelter.stay_admitted",
        shelter,
        "shelter_stay",
        stay.id,
        reason=reason,
    )
    if stay.admitted_at < now:
        # Entered after the fact: who entered it, and when she really arrived.
        late = f"admitted at {stay.admitted_at.isoformat()}"
        action = "shelter.stay_admitted_late"
        audit_act(session, now, actor, action, shelter, "shelter_stay", stay.id, reason=late)


# --- turn-aways -------------------------------------------------------------------------------


def _turn_away(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    data: AdmissionCreate,
    failed: list[str],
    actor: Actor,
    user_id: uuid.UUID | None,
) -> TurnedAway:
    """Record the request we could not take (no name), and where else she may go."""
    turn_away = TurnAway(
        shelter_id=shelter.id,
        occurred_at=now,
        group_size=1 + len(data.children),
        children=len(data.children),
        failed=failed,
        recorded_by=user_id,
    )
    session.add(turn_away)
    reason = "failed: " + ",".join(failed)
    audit_act(
        session, now, actor, "shelter.turn_away", shelter, TURN_AWAY, turn_away.id, reason=reason
    )
    alternatives = network_availability(
        session,
        now=now,
        sex=data.client.sex,
        age=data.client.age,
        group=data.group,
        children=len(data.children),
        infants=sum(1 for child in data.children if child.age < CRIB_AGE),
        exclude=shelter.id,
    )
    return TurnedAway(turn_away, failed, alternatives)


def list_turn_aways(session: Session, *, shelter: Shelter, limit: int = 500) -> list[TurnAway]:
    newest_first = (col(TurnAway.occurred_at).desc(), col(TurnAway.id))
    return list_within(session, TurnAway, within=shelter.id, order_by=newest_first, limit=limit)


def update_turn_away(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    turn_away_id: uuid.UUID,
    data: TurnAwayUpdate,
    actor: Actor,
) -> TurnAway:
    """Record where a person we could not take was sent."""
    row = get_within(session, TurnAway, turn_away_id, within=shelter.id)
    if (
        data.sent_to_shelter_id is not None
        and session.get(Shelter, data.sent_to_shelter_id) is None
    ):
        raise InvalidInput(errors.NO_SUCH_PARTNER)
    row.sent_to = data.sent_to
    row.sent_to_shelter_id = data.sent_to_shelter_id
    session.add(row)
    reason = f"sent to {data.sent_to}"
    audit_act(
        session, now, actor, "shelter.turn_away_updated", shelter, TURN_AWAY, row.id, reason=reason
    )
    return row
