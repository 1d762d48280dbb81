"""Risk assessments (with their reassessment deadline rows), the Individual Safety Plan's
append-only revisions and their field-by-field comparison, and the victim assistance plan."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select, update

from core import events
from core.crypto import FieldCipher, Sealed
from core.errors import Conflict, InvalidInput, NotFound
from core.localtime import add_local_days
from core.models import Organisation
from safety_plans import errors, risk
from safety_plans.models import (
    OPEN_STEP_STATUSES,
    AssessmentCreate,
    AssessmentPublic,
    AssistanceStep,
    CaseDeadline,
    CaseLink,
    CaseMember,
    CaseTask,
    DeadlineKind,
    DeadlineState,
    FieldChange,
    LinkKind,
    PlanContent,
    PlanDiff,
    PlanRevision,
    PlanRevisionPublic,
    RiskAssessment,
    SafetyCase,
    StepCreate,
    StepPublic,
    StepStatus,
    StepUpdate,
    TaskKind,
)
from safety_plans.service.cases import Work, _audit, touch

ASSESSMENT_CONTEXT = "safety_risk_assessment"
PLAN_CONTEXT = "safety_plan_revision"
STEP_CONTEXT = "safety_assistance_step.what"
# A case conference is called within two local days of a high assessment.
CONFERENCE_DAYS = 2


def zone_of(session: Session, organisation_id: uuid.UUID) -> str:
    organisation = session.get(Organisation, organisation_id)
    return organisation.time_zone if organisation is not None else "Europe/Podgorica"


def _cancel_deadlines(
    session: Session,
    case_id: uuid.UUID,
    kinds: set[DeadlineKind],
    now: datetime,
    subject_id: uuid.UUID | None = None,
) -> None:
    query = (
        update(CaseDeadline)
        .where(
            col(CaseDeadline.case_id) == case_id,
            col(CaseDeadline.state) == DeadlineState.PENDING,
            col(CaseDeadline.kind).in_(kinds),
        )
        .values(state=DeadlineState.CANCELLED, done_at=now)
        .execution_options(synchronize_session=False)
    )
    if subject_id is not None:
        query = query.where(col(CaseDeadline.subject_id) == subject_id)
    session.exec(query)


# --- risk assessments -------------------------------------------------------------------------


def assess(work: Work, data: AssessmentCreate) -> RiskAssessment:
    """Score the answers (raised by judgement, never lowered), set the next reassessment's
    deadline rows (replacing the last ones) and, when high, call a case conference."""
    session, now, case, user_id, cipher, actor = work
    tool = risk.instrument()
    try:
        result = risk.score(tool, data.answers, data.judgement)
    except risk.InstrumentError as exc:
        raise InvalidInput(errors.INSTRUMENT.format(problem=exc)) from exc
    zone = zone_of(session, case.organisation_id)
    due = risk.reassess_by(now, result.level, zone)
    document = {
        "answers": {k: v.value for k, v in data.answers.items()},
        "judgement_reason": data.judgement_reason,
    }
    sealed = cipher.seal_json(document, context=ASSESSMENT_CONTEXT)
    row = RiskAssessment(
        case_id=case.id,
        instrument=tool.key,
        instrument_version=tool.version,
        computed_level=result.computed.value,
        level=result.level.value,
        points=result.points,
        key_id=sealed.key_id,
        sealed=sealed.blob,
        assessed_at=now,
        assessed_by=user_id,
        reassess_by=due,
    )
    session.add(row)
    session.flush()
    _cancel_deadlines(
        session, case.id, {DeadlineKind.REASSESS_SOON, DeadlineKind.REASSESS_OVERDUE}, now
    )
    session.add_all(
        [
            CaseDeadline(
                case_id=case.id,
                kind=DeadlineKind.REASSESS_SOON,
                subject_id=row.id,
                due_at=add_local_days(due, -1, zone),
                state=DeadlineState.PENDING,
            ),
            CaseDeadline(
                case_id=case.id,
                kind=DeadlineKind.REASSESS_OVERDUE,
                subject_id=row.id,
                due_at=due,
                state=DeadlineState.PENDING,
            ),
        ]
    )
    case.risk_level = result.level.value
    case.reassess_by = due
    touch(session, case, now)
    if result.level is risk.RiskLevel.HIGH:
        session.add(
            CaseTask(
                organisation_id=case.organisation_id,
                case_id=case.id,
                kind=TaskKind.CASE_CONFERENCE,
                created_at=now,
                due_at=add_local_days(now, CONFERENCE_DAYS, zone),
            )
        )
    session.flush()
    _audit(session, now, actor, "case.risk_assessed", case, reason=result.level.value)
    return row


def assessment_public(row: RiskAssessment, cipher: FieldCipher) -> AssessmentPublic:
    document = cipher.open_json(Sealed(row.key_id, row.sealed), context=ASSESSMENT_CONTEXT)
    tool = risk.instrument(row.instrument)
    answers = {k: risk.Answer(v) for k, v in document["answers"].items()}
    critical = [q.id for q in tool.questions if q.critical and answers.get(q.id) is risk.Answer.YES]
    return AssessmentPublic(
        id=row.id,
        instrument=row.instrument,
        instrument_version=row.instrument_version,
        answers=answers,
        points=row.points,
        critical_yes=critical,
        computed_level=risk.RiskLevel(row.computed_level),
        level=risk.RiskLevel(row.level),
        judgement_reason=document.get("judgement_reason"),
        assessed_at=row.assessed_at,
        assessed_by=row.assessed_by,
        reassess_by=row.reassess_by,
    )


def assessments(session: Session, case: SafetyCase) -> list[RiskAssessment]:
    return list(
        session.exec(
            select(RiskAssessment)
            .where(RiskAssessment.case_id == case.id)
            .order_by(col(RiskAssessment.assessed_at), col(RiskAssessment.id))
        ).all()
    )


# --- the safety plan --------------------------------------------------------------------------


def revise_plan(work: Work, plan: PlanContent) -> PlanRevision:
    """Append a revision: the whole plan as it now stands, sealed; nothing is overwritten."""
    session, now, case, user_id, cipher, actor = work
    last = session.exec(
        select(func.max(PlanRevision.revision)).where(PlanRevision.case_id == case.id)
    ).one()
    sealed = cipher.seal_json(plan.model_dump(mode="json"), context=PLAN_CONTEXT)
    row = PlanRevision(
        case_id=case.id,
        revision=(last or 0) + 1,
        key_id=sealed.key_id,
        sealed=sealed.blob,
        author_id=user_id,
        created_at=now,
    )
    session.add(row)
    touch(session, case, now)
    session.flush()
    _audit(session, now, actor, "case.plan_revised", case, reason=f"revision {row.revision}")
    return row


def revision_public(row: PlanRevision, cipher: FieldCipher) -> PlanRevisionPublic:
    content = cipher.open_json(Sealed(row.key_id, row.sealed), context=PLAN_CONTEXT)
    return PlanRevisionPublic(
        revision=row.revision,
        author_id=row.author_id,
        created_at=row.created_at,
        plan=PlanContent.model_validate(content),
    )


def revision(session: Session, case: SafetyCase, number: int | None = None) -> PlanRevision:
    """A revision by number, or the current one."""
    query = select(PlanRevision).where(PlanRevision.case_id == case.id)
    if number is None:
        row = session.exec(query.order_by(col(PlanRevision.revision).desc()).limit(1)).first()
        if row is None:
            raise NotFound(errors.NO_PLAN)
        return row
    row = session.exec(query.where(PlanRevision.revision == number)).first()
    if row is None:
        raise NotFound(errors.NO_SUCH_REVISION)
    return row


def revisions(session: Session, case: SafetyCase) -> list[PlanRevision]:
    return list(
        session.exec(
            select(PlanRevision)
            .where(PlanRevision.case_id == case.id)
            .order_by(col(PlanRevision.revision))
        ).all()
    )


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key in sorted(value):
            flat.update(_flatten(value[key], f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): value}


def diff(
    before: PlanContent, after: PlanContent, *, from_revision: int, to_revision: int
) -> PlanDiff:
    """Field by field (nested fields by dotted path; a list compares whole)."""
    old, new = _flatten(before.model_dump(mode="json")), _flatten(after.model_dump(mode="json"))
    changes = [
        FieldChange(field=name, before=old.get(name), after=new.get(name))
        for name in sorted(old.keys() | new.keys())
        if old.get(name) != new.get(name)
    ]
    return PlanDiff(from_revision=from_revision, to_revision=to_revision, changes=changes)


def safe_to_call_back(session: Session, question: events.SafeToCallBack) -> bool | None:
    """The answer to `SafeToCallBack`: what the current plan of the call's case says."""
    case = session.exec(
        select(SafetyCase)
        .join(CaseLink, col(CaseLink.case_id) == col(SafetyCase.id))
        .where(CaseLink.kind == LinkKind.CALL, CaseLink.target_id == question.call_id)
    ).first()
    if case is None:
        return None
    try:
        current = revision(session, case)
    except NotFound:
        return None
    return revision_public(current, question.cipher).plan.safe_to_call


# --- the victim assistance plan ---------------------------------------------------------------


def _step_deadline(session: Session, step: AssistanceStep, now: datetime) -> None:
    _cancel_deadlines(session, step.case_id, {DeadlineKind.STEP_OVERDUE}, now, subject_id=step.id)
    if step.status in OPEN_STEP_STATUSES:
        session.add(
            CaseDeadline(
                case_id=step.case_id,
                kind=DeadlineKind.STEP_OVERDUE,
                subject_id=step.id,
                due_at=step.due_at,
                state=DeadlineState.PENDING,
            )
        )


def _check_on_team(session: Session, case: SafetyCase, user_id: uuid.UUID) -> None:
    """A step's owner reads what the step says: she must be on the case team."""
    if session.get(CaseMember, (case.id, user_id)) is None:
        raise InvalidInput(errors.STEP_OWNER_NOT_A_COLLEAGUE)


def add_step(work: Work, data: StepCreate) -> AssistanceStep:
    session, now, case, user_id, cipher, actor = work
    owner_id = data.owner_id or user_id
    if owner_id != user_id:
        _check_on_team(session, case, owner_id)
    key_id, sealed = cipher.seal_pair(data.what, context=STEP_CONTEXT)
    step = AssistanceStep(
        case_id=case.id,
        agency=data.agency,
        what_key_id=key_id,
        what_sealed=sealed,
        owner_id=owner_id,
        due_at=data.due_at,
        status=StepStatus.PLANNED,
        created_at=now,
        updated_at=now,
    )
    session.add(step)
    session.flush()
    _step_deadline(session, step, now)
    touch(session, case, now)
    session.flush()
    _audit(session, now, actor, "case.step_added", case, reason=data.agency.value)
    return step


def get_step(session: Session, case: SafetyCase, step_id: uuid.UUID) -> AssistanceStep:
    step = session.get(AssistanceStep, step_id)
    if step is None or step.case_id != case.id:
        raise NotFound(errors.NO_SUCH_STEP)
    return step


def update_step(work: Work, step: AssistanceStep, data: StepUpdate) -> AssistanceStep:
    session, now, case, _, _, actor = work
    changes = data.model_dump(exclude_unset=True)
    if not changes:
        raise InvalidInput(errors.NOTHING_TO_CHANGE)
    for field, value in changes.items():
        if value is None:
            raise InvalidInput(errors.NOT_NULL.format(field=field))
    if step.status not in OPEN_STEP_STATUSES:
        raise Conflict(errors.STEP_CLOSED)
    if "owner_id" in changes:
        _check_on_team(session, case, changes["owner_id"])
    for field, value in changes.items():
        setattr(step, field, value)
    step.updated_at = now
    session.add(step)
    session.flush()
    _step_deadline(session, step, now)
    _audit(session, now, actor, "case.step_updated", case, reason=",".join(sorted(changes)))
    return step


def step_public(step: AssistanceStep, cipher: FieldCipher, now: datetime) -> StepPublic:
    return StepPublic(
        id=step.id,
        agency=step.agency,
        what=cipher.open_pair(step.what_key_id, step.what_sealed, context=STEP_CONTEXT) or "",
        owner_id=step.owner_id,
        due_at=step.due_at,
        status=step.status,
        overdue=step.status in OPEN_STEP_STATUSES and step.due_at <= now,
    )


def steps(session: Session, case: SafetyCase) -> list[AssistanceStep]:
    return list(
        session.exec(
            select(AssistanceStep)
            .where(AssistanceStep.case_id == case.id)
            .order_by(col(AssistanceStep.due_at), col(AssistanceStep.id))
        ).all()
    )
