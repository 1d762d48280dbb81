"""Referrals' error messages: written by us, never echoing a name, a number or a text."""

from __future__ import annotations

from core.scoped import NOT_FOUND

__all__ = [
    "ALREADY_CLOSED",
    "ANOTHER_CSW",
    "CHILD_AT_RISK_TO_TEAM",
    "MUNICIPALITY_EXISTS",
    "MUNICIPALITY_NOT_FOUND",
    "NOT_A_CSW",
    "NOT_FOUND",
    "NOT_ON_TEAM",
    "NO_RECIPIENT",
    "NO_SUCH_CALL",
    "NO_SUCH_CASE",
    "NO_SUCH_RECIPIENT",
    "NO_SUCH_USER",
    "ONLY_CSW_HAS_TEAM",
    "ONLY_CSW_KEEPS_DIRECTORY",
    "ONLY_ELIGIBLE_ON_TEAM",
    "RESPOND_BY",
    "SELF_REFERRAL",
    "STAY_UNTIL_ONLY_ADMISSION",
]

# --- not found (404) -----------------------------------------------------------------------------
# A referral the caller may not see answers exactly as a missing one (core.scoped.NOT_FOUND).
MUNICIPALITY_NOT_FOUND = "No such municipality."
NOT_ON_TEAM = "That person is not on the child-protection team."

# --- the directory ---------------------------------------------------------------------------
NOT_A_CSW = "The competent body must be a Center for Social Work (kind csw)."
MUNICIPALITY_EXISTS = "That municipality is already in the directory."
ANOTHER_CSW = (
    "Another CSW is competent for this municipality; the operator changes competence "
    "(sigurna referrals set-csw)."
)

# --- making and acting on referrals ------------------------------------------------------------
NO_SUCH_RECIPIENT = "to_organisation_id: no such organisation."
SELF_REFERRAL = "to_organisation_id: an organisation does not refer to itself."
NO_SUCH_CALL = "call_id: the organisation has no such call."
NO_SUCH_CASE = "case_id: no case of the organisation with you on its team."
NO_RECIPIENT = "name either to_organisation_id or municipality_id"
RESPOND_BY = "respond_by: must be in the future, and at most 90 days ahead."
CHILD_AT_RISK_TO_TEAM = (
    "legal_basis: a child at risk is referred to a CSW's child-protection team "
    "(team child_protection); anything else needs consent."
)
ALREADY_CLOSED = "This referral is {status}: it can no longer change."
STAY_UNTIL_ONLY_ADMISSION = "stay_until: only the CSW's decision on an admission moves a stay."

# --- who may act (403) and the child-protection team -------------------------------------------
ONLY_CSW_KEEPS_DIRECTORY = "Only a Center for Social Work keeps municipalities in the directory."
ONLY_CSW_HAS_TEAM = "Only a Center for Social Work has a child-protection team."
NO_SUCH_USER = "user_id: your centre has no such user."
ONLY_ELIGIBLE_ON_TEAM = (
    "user_id: only an active csw_officer or supervisor can be on the child-protection team."
)
