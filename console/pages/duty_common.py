"""What the duty, rota and admin pages share: a form's action undone when it fails, the labels
of the hotline's enums, and reading a local date and time typed into a form."""

from __future__ import annotations

from datetime import date

from console.render import N_
from core.models import Role
from hotline.models import (
    CallbackOutcome,
    CallerType,
    CallMode,
    CallStatus,
    Position,
    RungKind,
    SafeToCallBack,
    Urgency,
)


def day_of(text: str | None) -> date | None:
    """A `?from=YYYY-MM-DD` day; None when absent or not a date."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


SAFE_LABELS = {
    SafeToCallBack.YES: N_("Yes"),
    SafeToCallBack.NO: N_("No"),
    SafeToCallBack.UNKNOWN: N_("Unknown"),
}
OUTCOME_LABELS = {
    CallbackOutcome.REACHED: N_("Reached the caller"),
    CallbackOutcome.NO_ANSWER: N_("No answer"),
    CallbackOutcome.NOT_SAFE: N_("Not safe to call"),
    CallbackOutcome.WRONG_NUMBER: N_("Wrong number"),
    CallbackOutcome.OTHER: N_("Other"),
}
CALLER_TYPE_LABELS = {
    CallerType.VICTIM: N_("Victim"),
    CallerType.WITNESS: N_("Witness"),
    CallerType.INSTITUTION: N_("Institution"),
    CallerType.OTHER: N_("Other"),
}
URGENCY_LABELS = {
    Urgency.ACUTE: N_("Acute"),
    Urgency.HIGH: N_("High"),
    Urgency.ROUTINE: N_("Routine"),
}
MODE_LABELS = {
    CallMode.OFFICE: N_("Office hours"),
    CallMode.DUTY: N_("Duty rota"),
    CallMode.FALLBACK: N_("Fallback"),
}
STATUS_LABELS = {
    CallStatus.RINGING: N_("Ringing"),
    CallStatus.ACCEPTED: N_("Accepted"),
    CallStatus.VOICEMAIL: N_("Voicemail"),
    CallStatus.ENDED: N_("Ended"),
}
RUNG_LABELS = {
    RungKind.OFFICE: N_("Office"),
    RungKind.PRIMARY: N_("Primary"),
    RungKind.BACKUP: N_("Backup"),
    RungKind.SUPERVISORS: N_("Supervisors"),
    RungKind.LAST_RESORT: N_("Last resort"),
}
POSITION_LABELS = {Position.PRIMARY: N_("Primary"), Position.BACKUP: N_("Backup")}
ROLE_LABELS = {
    Role.ADMIN: N_("Administrator"),
    Role.SUPERVISOR: N_("Supervisor"),
    Role.COUNSELOR: N_("Counselor"),
    Role.SHELTER_STAFF: N_("Shelter staff"),
    Role.CSW_OFFICER: N_("Social work officer"),
}
