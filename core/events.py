"""In-transaction events and questions: how domains react to each other without importing each
other's services.

- **Events.** A publisher says what happened (`publish(session, StayAdmitted(...))`); every
  handler subscribed to that event's type runs at once, in order of subscription, with the
  publisher's session: what handlers write commits or rolls back with the publisher's change,
  and an error a handler raises is the publisher's error. An event nobody subscribed to does
  nothing.
- **Questions.** A domain asks what only another domain knows (`ask(session, StaysSeen(...))`);
  the one domain that answers that question's type answers it. A question nobody answers (the
  other domain is not installed) gets the question's own `unanswered()` value.

A domain subscribes and answers in `<domain>/wiring.py` (`subscribe`/`answer_with`), which
`core.domains.wire()` imports once per process. The dataclasses below are the contracts: they
carry plain values (and, where a handler must seal data, the cipher), never a domain's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlmodel import Session

if TYPE_CHECKING:
    from core.audit import Actor
    from core.auth import Principal
    from core.crypto import FieldCipher

E = TypeVar("E")
R = TypeVar("R")
Q = TypeVar("Q", bound="Question[Any]")

_handlers: dict[type, list[Callable[[Session, Any], None]]] = {}
_answerers: dict[type, Callable[[Session, Any], Any]] = {}


def subscribe(event_type: type[E], handler: Callable[[Session, E], None]) -> None:
    """Run `handler` for every `event_type` published (once, however often subscribed)."""
    found = _handlers.setdefault(event_type, [])
    if handler not in found:
        found.append(handler)


def publish(session: Session, event: object) -> None:
    for handler in _handlers.get(type(event), ()):
        handler(session, event)


class Question(Generic[R]):
    """A question one domain answers for the others; `unanswered` when none does."""

    def unanswered(self) -> R:
        raise NotImplementedError


def answer_with(question_type: type[Q], answerer: Callable[[Session, Q], Any]) -> None:
    """The one answerer of a question type (a second, different one is a wiring error)."""
    current = _answerers.get(question_type)
    if current is not None and current is not answerer:
        raise RuntimeError(f"{question_type.__name__} already has an answerer")
    _answerers[question_type] = answerer


def ask(session: Session, question: Question[R]) -> R:
    answerer = _answerers.get(type(question))
    if answerer is None:
        return question.unanswered()
    result: R = answerer(session, question)
    return result


# --- accounts (published by core) ---------------------------------------------------------------


@dataclass(frozen=True)
class AccountUnderAttack:
    """Failed logins to one account from many tries reached an alert level, or locked it."""

    user_id: uuid.UUID
    organisation_id: uuid.UUID
    at: datetime
    failures: int
    window_started_at: datetime
    locked_until: datetime | None


# --- stays and referrals ------------------------------------------------------------------------


@dataclass(frozen=True)
class AdmittedPerson:
    """Someone admitted to a stay, as a referral needs them (the name in clear: it is sealed by
    whoever keeps it)."""

    name: str
    sex: str  # "female" or "male"
    age: int


@dataclass(frozen=True)
class StayAdmitted:
    """An emergency admission was made (published by shelters in the admission's transaction);
    referrals answers it with the referral to the competent CSW (and its child-protection team
    when children came)."""

    stay_id: uuid.UUID
    organisation_id: uuid.UUID
    municipality: str
    admitted_at: datetime  # when she arrived
    entered_at: datetime  # when the admission was entered (later for a night entered next day)
    decision_due_at: datetime
    client: AdmittedPerson
    children: tuple[AdmittedPerson, ...]
    cipher: FieldCipher
    actor: Actor
    user_id: uuid.UUID | None


@dataclass(frozen=True)
class CswDecisionRecorded:
    """The competent CSW decided on an admission (published by referrals in the decision's
    transaction); shelters records the outcome on the stay and, with `stay_until`, moves its end.
    A handler that refuses (the stay has ended, the date is out of range) raises an AppError,
    which is the decision's error."""

    stay_id: uuid.UUID
    outcome: str
    stay_until: datetime | None
    at: datetime
    actor: Actor


@dataclass(frozen=True)
class StaysSeen(Question[frozenset[uuid.UUID]]):
    """Which of these stays may this principal see the people of (shelters answers: its staff
    see their shelters' stays, supervisors every stay of their organisation)?"""

    principal: Principal
    stay_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)

    def unanswered(self) -> frozenset[uuid.UUID]:
        return frozenset()


@dataclass(frozen=True)
class CallOfOrganisation(Question[bool]):
    """Is this call one of the organisation's hotlines' calls (hotline answers)?"""

    call_id: uuid.UUID
    organisation_id: uuid.UUID

    def unanswered(self) -> bool:
        return False


@dataclass(frozen=True)
class ShelterStaffOfStays(Question[frozenset[uuid.UUID]]):
    """Who is on the staff of a shelter where one of these stays is running now (shelters
    answers): the case team includes them while she stays, and not after."""

    stay_ids: frozenset[uuid.UUID]

    def unanswered(self) -> frozenset[uuid.UUID]:
        return frozenset()


@dataclass(frozen=True)
class CaseRef:
    """What a referral may carry of a case: its number (an opaque reference), and whether she
    asked that nothing reveal her to anyone outside the team ("do not disclose")."""

    number: str
    do_not_disclose: bool


@dataclass(frozen=True)
class CaseForReferral(Question["CaseRef | None"]):
    """The case a referral is made from, if it is the organisation's and the user is on its
    team (safety_plans answers); None otherwise."""

    case_id: uuid.UUID
    organisation_id: uuid.UUID
    user_id: uuid.UUID | None

    def unanswered(self) -> CaseRef | None:
        return None


@dataclass(frozen=True)
class SafeToCallBack(Question[bool | None]):
    """What the safety plan of the case this call is linked to says about calling her back
    (safety_plans answers): True or False from the plan, None when no plan says."""

    call_id: uuid.UUID
    cipher: FieldCipher

    def unanswered(self) -> bool | None:
        return None


@dataclass(frozen=True)
class OfOrganisation(Question[bool]):
    """Is this row one of the organisation's (the domain that keeps it answers)? A case links
    only its own organisation's calls, callback tasks, stays and referrals."""

    target_id: uuid.UUID
    organisation_id: uuid.UUID

    def unanswered(self) -> bool:
        return False


class CallbackTaskOfOrganisation(OfOrganisation):
    """Answered by hotline."""


class StayOfOrganisation(OfOrganisation):
    """Answered by shelters."""


class ReferralOfOrganisation(OfOrganisation):
    """Answered by referrals (a referral the organisation sent)."""
