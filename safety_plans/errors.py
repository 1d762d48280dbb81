"""The cases domain's error messages, written by us: they never echo input and never say whether
a person is a client. A case the caller may not read answers exactly as a missing one."""

from __future__ import annotations

from core.scoped import NOT_FOUND as NOT_FOUND

NOTHING_TO_CHANGE = "Nothing to change: send at least one field."
NOT_NULL = "{field}: must not be null."
NOT_A_COLLEAGUE = "user_id: not a counselor, supervisor or shelter worker of this organisation."
TEAM_NOT_COLLEAGUES = "team: not a counselor, supervisor or shelter worker of this organisation."
GIVER_NOT_A_COLLEAGUE = (
    "given_by: not a counselor, supervisor or shelter worker of this organisation."
)
STEP_OWNER_NOT_A_COLLEAGUE = "owner_id: not on this case's team."
OWNER_NOT_A_COLLEAGUE = "owner_id: not a counselor or supervisor of this organisation."
OWNER_STAYS = "The owner stays on the team: hand the case to another owner first."
ALREADY_STATUS = "The case already has that status."
CLOSED = "The case is closed: reopen it first."
NO_SUCH_TARGET = "target_id: not a {kind} of this organisation that can be linked to this case."
NO_SUCH_CALL = "call_id: no such call of this organisation."
NOT_IN_FUTURE = "{field}: must not be in the future."
NO_SUCH_REVISION = "No such revision of the plan."
NO_PLAN = "The case has no safety plan yet."
NO_SUCH_STEP = "No such step of the assistance plan."
STEP_CLOSED = "The step is done or cancelled; record a new step instead."
CONSENT_EXPIRY = "expires_at: must be in the future and at most one year from now."
CONSENT_RECIPIENT = "recipient_organisation_id: no such organisation, or your own."
CONSENT_WITHDRAWN = "The consent is already withdrawn."
NO_SUCH_CONSENT = "No such consent on this case."
BREAK_GLASS_OWN_TEAM = "You are on this case's team: open it normally."
NO_SUCH_OPENING = "No such break-glass opening."
SIGN_OFF_SELF = "A second supervisor signs off a break-glass opening, not the one who used it."
ALREADY_SIGNED = "That opening is already signed off."
NO_SUCH_TASK = "No such task."
TASK_DONE = "The task is already done."
OWNER_ONLY = "Only the case owner can produce this report."
TEAM_ONLY = (
    "Only the case team changes who is on it, who owns it, with whom it is shared and whether "
    "it may be disclosed."
)
BAD_CURSOR = "cursor: not a cursor this list gave."
INSTRUMENT = "answers: {problem}."
