"""What the shelters plug into the application: their part in the domains' events. They keep
nothing on app.state, so there is no start-up or shut-down work (`configure`, `on_shutdown`).

- `core.events.CswDecisionRecorded`: the stay records the competent CSW's decision;
- `core.events.StaysSeen`: which stays a principal may see the people of (`sees_people`).
"""

from __future__ import annotations

import uuid

from sqlmodel import Session

from core import events
from core.events import CswDecisionRecorded, StaysSeen
from shelters import service


def wire() -> None:
    events.subscribe(CswDecisionRecorded, _apply_csw_decision)
    events.answer_with(StaysSeen, _stays_seen)


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
