"""Reading beyond the team: consents, break-glass openings and their review, the consent
recipient's view; and what the case's own people need: the "who saw this case" report, the
supervisors' tasks and the work list.

Alerts name the case by its number only (an opaque reference), never the woman or a place.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from core import audit
from core.audit import AuditEvent
from core.crypto import FieldCipher
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.models import Organisation, Role, User, UserRole
from core.refusal import AuditedNotFound
from notifications import service as outbox
from notifications.models import Channel
from safety_plans import errors
from safety_plans.access import Access
from safety_plans.models import (
    BreakGlass,
    BreakGlassCreate,
    BreakGlassPublic,
    CaseMember,
    CaseTask,
    Consent,
    ConsentCreate,
    ConsentPublic,
    ReadEvent,
    SafetyCase,
    Section,
    SharedCase,
    SignOff,
    TaskPublic,
)
from safety_plans.risk import RiskLevel
from safety_plans.service import plans
from safety_plans.service.cases import SUBJECT, Desk, Work, _audit, name_of

PURPOSE_CONTEXT = "safety_consent.purpose"
REASON_CONTEXT = "safety_break_glass.reason"
REVIEW_CONTEXT = "safety_break_glass.review"
BREAK_GLASS_FOR = timedelta(minutes=60)
CONSENT_AT_MOST = timedelta(days=366)  # "at most one year", a leap day included


# --- consents ---------------------------------------------------------------------------------


def record_consent(work: Work, data: ConsentCreate) -> Consent:
    """Record her consent to share sections with one organisation, for a purpose, until when."""
    session, now, case, user_id, cipher, actor = work
    if not now < data.expires_at <= now + CONSENT_AT_MOST:
        raise InvalidInput(errors.CONSENT_EXPIRY)
    recipient = session.get(Organisation, data.recipient_organisation_id)
    if recipient is None or recipient.id == case.organisation_id:
        raise InvalidInput(errors.CONSENT_RECIPIENT)
    key_id, sealed = cipher.seal_pair(data.purpose, context=PURPOSE_CONTEXT)
    row = Consent(
        case_id=case.id,
        recipient_id=recipient.id,
        purpose_key_id=key_id,
        purpose_sealed=sealed,
        sections=[s.value for s in data.sections],
        expires_at=data.expires_at,
        recorded_at=now,
        recorded_by=user_id,
    )
    session.add(row)
    session.flush()
    _audit(session, now, actor, "case.consent_recorded", case, reason=f"to {recipient.id}")
    return row


def withdraw_consent(work: Work, consent_id: uuid.UUID) -> Consent:
    session, now, case, user_id, _, actor = work
    row = session.get(Consent, consent_id)
    if row is None or row.case_id != case.id:
        raise NotFound(errors.NO_SUCH_CONSENT)
    if row.withdrawn_at is not None:
        raise Conflict(errors.CONSENT_WITHDRAWN)
    row.withdrawn_at, row.withdrawn_by = now, user_id
    session.add(row)
    session.flush()
    _audit(session, now, actor, "case.consent_withdrawn", case, reason=f"to {row.recipient_id}")
    return row


def consent_public(row: Consent, cipher: FieldCipher, now: datetime) -> ConsentPublic:
    return ConsentPublic(
        id=row.id,
        recipient_organisation_id=row.recipient_id,
        purpose=cipher.open_pair(row.purpose_key_id, row.purpose_sealed, context=PURPOSE_CONTEXT)
        or "",
        sections=[Section(s) for s in row.sections],
        expires_at=row.expires_at,
        recorded_at=row.recorded_at,
        recorded_by=row.recorded_by,
        withdrawn_at=row.withdrawn_at,
        live=row.withdrawn_at is None and row.expires_at > now,
    )


def consents(session: Session, case: SafetyCase) -> list[Consent]:
    return list(
        session.exec(
            select(Consent)
            .where(Consent.case_id == case.id)
            .order_by(col(Consent.recorded_at), col(Consent.id))
        ).all()
    )


def shared_view(
    session: Session,
    *,
    case: SafetyCase,
    access: Access,
    organisation_id: uuid.UUID,
    cipher: FieldCipher,
    now: datetime,
) -> SharedCase:
    """What the recipient of a live consent reads: the sections it names, nothing else."""
    live = [
        c
        for c in consents(session, case)
        if c.recipient_id == organisation_id and c.withdrawn_at is None and c.expires_at > now
    ]
    sections = access.sections
    latest = live[-1] if live else None
    view = SharedCase(
        id=case.id,
        number=case.number,
        sections=sorted(sections),
        purpose=consent_public(latest, cipher, now).purpose if latest else "",
        expires_at=max(c.expires_at for c in live) if live else now,
    )
    if Section.IDENTITY in sections:
        view.name = name_of(cipher, case)
        view.birth_year, view.age_band = case.birth_year, case.age_band
        view.municipality, view.languages = case.municipality, case.languages
    if Section.RISK in sections and case.risk_level:
        found = plans.assessments(session, case)
        view.risk_level = RiskLevel(case.risk_level)
        view.risk_assessed_at = found[-1].assessed_at if found else None
    if Section.SAFETY_PLAN in sections:
        try:
            view.plan = plans.revision_public(plans.revision(session, case), cipher).plan
        except NotFound:
            view.plan = None
    if Section.ASSISTANCE_PLAN in sections:
        view.steps = [plans.step_public(s, cipher, now) for s in plans.steps(session, case)]
    return view


# --- break-glass ------------------------------------------------------------------------------


def _user_recipient(user_id: uuid.UUID, email: str) -> outbox.Recipient:
    return outbox.Recipient(f"u{user_id}", Channel.EMAIL, email)


def _supervisors(session: Session, organisation_id: uuid.UUID) -> list[tuple[uuid.UUID, str]]:
    rows = session.exec(
        select(User.id, User.email)
        .join(UserRole, col(UserRole.user_id) == col(User.id))
        .where(
            User.organisation_id == organisation_id,
            UserRole.role == Role.SUPERVISOR,
            col(User.disabled_at).is_(None),
        )
    ).all()
    return [(row[0], row[1]) for row in rows]


def open_break_glass(desk: Desk, data: BreakGlassCreate, *, base_url: str) -> BreakGlass:
    """Open a case outside the team for an hour, with a written reason; the owner and every
    other supervisor are alerted at once."""
    session, now, organisation_id, user_id, cipher, actor = desk
    case = session.exec(
        select(SafetyCase).where(
            SafetyCase.organisation_id == organisation_id, SafetyCase.number == data.case_number
        )
    ).first()
    if case is None:  # a refused attempt all the same: it stays on record
        audit.record(
            session, now, actor, "case.break_glass_refused", SUBJECT, None, organisation_id
        )
        raise AuditedNotFound(errors.NOT_FOUND)
    if session.get(CaseMember, (case.id, user_id)) is not None:
        raise Conflict(errors.BREAK_GLASS_OWN_TEAM)
    key_id, sealed = cipher.seal_pair(data.reason, context=REASON_CONTEXT)
    row = BreakGlass(
        organisation_id=organisation_id,
        case_id=case.id,
        user_id=user_id,
        reason_key_id=key_id,
        reason_sealed=sealed,
        opened_at=now,
        expires_at=now + BREAK_GLASS_FOR,
    )
    session.add(row)
    session.flush()
    _audit(
        session, now, actor, "case.break_glass", case, reason=f"until {row.expires_at.isoformat()}"
    )
    owner = session.get(User, case.owner_id)
    targets = [_user_recipient(case.owner_id, owner.email)] if owner is not None else []
    targets += [
        _user_recipient(i, e)
        for i, e in _supervisors(session, organisation_id)
        if i not in (user_id, case.owner_id)
    ]
    text = (
        f"Sigurna: case {case.number} was opened by break-glass for one hour. "
        f"The opening waits for a second supervisor's review: {base_url}/"
    )
    outbox.enqueue_many(
        session,
        now=now,
        messages=outbox.messages_for(
            targets,
            key=f"break-glass:{row.id}",
            topic="case.break_glass",
            organisation_id=organisation_id,
            subject=f"Break-glass on case {case.number}",
            text=text,
            payload=f'{{"event":"case.break_glass","case":"{case.number}"}}',
        ),
    )
    return row


def break_glass_public(session: Session, row: BreakGlass, cipher: FieldCipher) -> BreakGlassPublic:
    case = session.get(SafetyCase, row.case_id)
    return BreakGlassPublic(
        id=row.id,
        case_id=row.case_id,
        case_number=case.number if case is not None else "",
        user_id=row.user_id,
        reason=cipher.open_pair(row.reason_key_id, row.reason_sealed, context=REASON_CONTEXT) or "",
        opened_at=row.opened_at,
        expires_at=row.expires_at,
        reviewed_at=row.reviewed_at,
        reviewed_by=row.reviewed_by,
        review_note=cipher.open_pair(row.review_key_id, row.review_sealed, context=REVIEW_CONTEXT),
    )


def reviews(
    session: Session, *, organisation_id: uuid.UUID, pending_only: bool
) -> list[BreakGlass]:
    query = select(BreakGlass).where(BreakGlass.organisation_id == organisation_id)
    if pending_only:
        query = query.where(col(BreakGlass.reviewed_at).is_(None))
    return list(session.exec(query.order_by(col(BreakGlass.opened_at), col(BreakGlass.id))).all())


def sign_off(desk: Desk, opening_id: uuid.UUID, data: SignOff) -> BreakGlass:
    session, now, organisation_id, user_id, cipher, actor = desk
    row = session.get(BreakGlass, opening_id)
    if row is None or row.organisation_id != organisation_id:
        raise NotFound(errors.NO_SUCH_OPENING)
    if row.user_id == user_id:
        raise Forbidden(errors.SIGN_OFF_SELF)
    if row.reviewed_at is not None:
        raise Conflict(errors.ALREADY_SIGNED)
    row.reviewed_at, row.reviewed_by = now, user_id
    row.review_key_id, row.review_sealed = cipher.seal_pair(data.note, context=REVIEW_CONTEXT)
    session.add(row)
    session.flush()
    audit.record(
        session,
        now,
        actor,
        "case.break_glass_reviewed",
        "safety_break_glass",
        row.id,
        organisation_id,
    )
    return row


# --- who saw this case ------------------------------------------------------------------------


def readers(session: Session, *, case: SafetyCase) -> list[ReadEvent]:
    """Every act on the case, reads and refused attempts included, oldest first."""
    rows = session.exec(
        select(AuditEvent)
        .where(AuditEvent.subject_type == SUBJECT, AuditEvent.subject_id == str(case.id))
        .order_by(col(AuditEvent.id))
    ).all()
    found = []
    for row in rows:
        basis, _, view = (row.reason or "").partition("; ")
        if row.action == "case.refused":
            basis, view = "", row.reason or ""
        found.append(
            ReadEvent(
                at=row.occurred_at,
                actor_type=row.actor_type,
                user_id=uuid.UUID(row.actor_id)
                if row.actor_type == "user" and row.actor_id
                else None,
                action=row.action,
                basis=basis or None if row.action == "case.read" else None,
                view=view or None if row.action in ("case.read", "case.refused") else None,
            )
        )
    return found


# --- tasks ------------------------------------------------------------------------------------


def tasks(
    session: Session, *, organisation_id: uuid.UUID, open_only: bool = True
) -> list[TaskPublic]:
    query = (
        select(CaseTask, SafetyCase.number)
        .join(SafetyCase, col(SafetyCase.id) == col(CaseTask.case_id))
        .where(CaseTask.organisation_id == organisation_id)
    )
    if open_only:
        query = query.where(col(CaseTask.done_at).is_(None))
    return [
        TaskPublic(
            id=task.id,
            case_id=task.case_id,
            case_number=number,
            kind=task.kind.value,
            created_at=task.created_at,
            due_at=task.due_at,
            done_at=task.done_at,
        )
        for task, number in session.exec(
            query.order_by(col(CaseTask.due_at), col(CaseTask.id))
        ).all()
    ]


def finish_task(desk: Desk, task_id: uuid.UUID) -> CaseTask:
    session, now, organisation_id, user_id, _, actor = desk
    task = session.get(CaseTask, task_id)
    if task is None or task.organisation_id != organisation_id:
        raise NotFound(errors.NO_SUCH_TASK)
    if task.done_at is not None:
        raise Conflict(errors.TASK_DONE)
    task.done_at, task.done_by = now, user_id
    session.add(task)
    session.flush()
    audit.record(
        session, now, actor, "case.task_done", "safety_case_task", task.id, organisation_id
    )
    return task
