"""The hotline's error messages: written by us, never echoing a number, a name or other input.

Raised as `core.errors` types (`NotFound`, `Conflict`, `InvalidInput`, `Forbidden`); another
organisation's row answers exactly as a missing one.
"""

from __future__ import annotations

# A hotline, closure, shift, call or callback task not found: core's words, the same for every row.
from core.scoped import NOT_FOUND as NOT_FOUND

# --- not found -----------------------------------------------------------------------------------
NOTHING_KEPT = "Nothing is kept for this call (withheld, none left, or deleted after retention)."
NO_DUTY_PHONE = "You have no duty phone: set your duty phone number first."

# --- refused -------------------------------------------------------------------------------------
FEED_REFUSED = "This calendar link is unknown or has been revoked."
BAD_SIGNATURE = "The request signature is missing or wrong."

# --- hotlines and duty phones --------------------------------------------------------------------
NUMBER_TAKEN = "twilio_number: another hotline already uses this number."
NOTHING_TO_CHANGE = "Nothing to change: send at least one field of the hotline."
CLOSURE_TAKEN = "day: the hotline already has a closure on this day."
NO_SMS_SENDER = (
    "There is no number to send the code from: add a hotline first "
    "(or set SIGURNA_TWILIO_SMS_FROM)."
)
CODE_NOT_PENDING = "No code is pending: set your duty phone number first."
CODE_TOO_MANY = "code: too many attempts, set the number again."
CODE_EXPIRED = "code: the code has expired, set the number again."
CODE_WRONG = "code: the code is wrong."

# --- the rota ------------------------------------------------------------------------------------
SHIFT_OVERLAPS = "The shift overlaps another shift of this hotline."

# --- calls and callback tasks --------------------------------------------------------------------
CALL_NOTHING_TO_CHANGE = "Nothing to change: send caller_type or urgency."
TASK_NOTHING_TO_CHANGE = "Nothing to change: send safe_to_call_back or assigned_user_id."
TASK_CLOSED = "The task is closed."
TASK_ALREADY_CLOSED = "The task is already closed."
NO_SUCH_COLLEAGUE = "assigned_user_id: no active colleague with that id."
OUTCOME_NEEDED = (
    "outcome: a callback task cannot be closed without an outcome "
    "(reached, no_answer, not_safe, wrong_number, other)."
)
