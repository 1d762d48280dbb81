"""What the shelters plug into the application: their part in the domains' events. They keep
nothing on app.state, so there is no start-up or shut-down work (`configure`, `on_shutdown`).

- `core.events.CswDecisionRecorded`: the stay records the competent CSW's decision;
- `core.events.StaysSeen`: which stays a principal may see the people of (`sees_people`).
"""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from core import events, sealed
from core.events import (
    CswDecisionRecorded,
    ShelterStaffOfStays,
    StayOfOrganisation,
    StaysSeen,
)
from shelters import service
from shelters.models import ShelterStaff, Stay, StayStatus


def wire() -> None:
    events.subscribe(CswDecisionRecorded, _apply_csw_decision)
    events.answer_with(StaysSeen, _stays_seen)
    events.answer_with(ShelterStaffOfStays, _staff_of_running_stays)
    events.answer_with(StayOfOrganisation, _stay_of_organisation)
    sealed.register(
        sealed.pair("shelter", "address", service.ADDRESS_CONTEXT),
        sealed.pair("shelter_bed", "out_of_service_reason", service.BED_REASON_CONTEXT),
        sealed.pair("shelter_stay", "municipality", service.MUNICIPALITY_CONTEXT),
        sealed.pair("shelter_stay_member", "name", service.MEMBER_CONTEXT),
        sealed.pair("shelter_bed_occupancy", "note", service.NOTE_CONTEXT),
        sealed.pair("shelter_stay_extension", "justification", service.JUSTIFICATION_CONTEXT),
        sealed.pair("shelter_stay_extension", "decision_note", service.DECISION_NOTE_CONTEXT),
        sealed.pair("shelter_perpetrator", "name", service.PERPETRATOR_CONTEXT),
        sealed.pair("shelter_entry_approval", "details", service.APPROVAL_CONTEXT),
        sealed.document("shelter_needs_assessment", service.ASSESSMENT_CONTEXT),
        sealed.document("shelter_work_plan", service.WORK_PLAN_CONTEXT),
        sealed.document("shelter_reason", service.REASON_CONTEXT),
    )


def _apply_csw_decision(session: Session, event: CswDecisionRecorded) -> None:
    service.apply_csw_decision(
        session,
        now=event.at,
        stay_id=event.stay_id,
        outcome=event.outcome,
        stay_until=event.stay_until,
        actor=event.actor,
    )


def _stays_seen(session: Session, question: StaysSeen) -> frozenset[uuid.UUID]:
    return service.stays_seen(session, question.principal, question.stay_ids)


def _staff_of_running_stays(
    session: Session, question: ShelterStaffOfStays
) -> frozenset[uuid.UUID]:
    """The staff of the shelters where one of these stays is running now."""
    if not question.stay_ids:
        return frozenset()
    rows = session.exec(
        select(ShelterStaff.user_id)
        .join(Stay, col(Stay.shelter_id) == col(ShelterStaff.shelter_id))
        .where(col(Stay.id).in_(question.stay_ids), Stay.status == StayStatus.ACTIVE)
    ).all()
    return frozenset(rows)


def _stay_of_organisation(session: Session, question: StayOfOrganisation) -> bool:
    stay = session.get(Stay, question.target_id)
    return stay is not None and stay.organisation_id == question.organisation_id
