"""What referrals plugs into the application: the referral every emergency admission makes, in
the admission's own transaction (it subscribes to `core.events.StayAdmitted`).

Referrals hangs nothing on app.state and has nothing to start or stop; the questions it asks
(`StaysSeen`, `CallOfOrganisation`) and the event it publishes (`CswDecisionRecorded`) are the
other domains' to answer and handle.
"""

from __future__ import annotations

from sqlmodel import Session

from core import events, sealed
from core.events import ReferralOfOrganisation, StayAdmitted
from referrals import service
from referrals.models import Referral


def wire() -> None:
    events.subscribe(StayAdmitted, service.refer_admission)
    events.answer_with(ReferralOfOrganisation, _referral_of_organisation)
    sealed.register(
        sealed.pair("referral", "dossier", service.DOSSIER_CONTEXT),
        sealed.pair("referral", "decision", service.DECISION_CONTEXT),
        sealed.document("referral_note", service.NOTE_CONTEXT),
    )


def _referral_of_organisation(session: Session, question: ReferralOfOrganisation) -> bool:
    """A referral the organisation sent (a case links the referrals made for her)."""
    referral = session.get(Referral, question.target_id)
    return referral is not None and referral.from_organisation_id == question.organisation_id
