"""What cases and safety plans plug into the application: answers to the questions other domains
ask about cases (`CaseForReferral`, `SafeToCallBack`) and the registration of the sealed columns.

The domain keeps nothing on app.state; its only periodic work is the deadline sweep (`jobs`).
"""

from __future__ import annotations

from core import events, sealed
from core.events import CaseForReferral, SafeToCallBack
from safety_plans.service import cases, plans, records, sharing


def wire() -> None:
    events.answer_with(CaseForReferral, cases.case_for_referral)
    events.answer_with(SafeToCallBack, plans.safe_to_call_back)
    sealed.register(
        sealed.pair("safety_case", "name", cases.NAME_CONTEXT),
        sealed.pair("safety_case_contact", "note", records.NOTE_CONTEXT),
        sealed.document("safety_risk_assessment", plans.ASSESSMENT_CONTEXT),
        sealed.document("safety_plan_revision", plans.PLAN_CONTEXT),
        sealed.pair("safety_assistance_step", "what", plans.STEP_CONTEXT),
        sealed.pair("safety_consent", "purpose", sharing.PURPOSE_CONTEXT),
        sealed.pair("safety_break_glass", "reason", sharing.REASON_CONTEXT),
        sealed.pair("safety_break_glass", "review", sharing.REVIEW_CONTEXT),
    )
