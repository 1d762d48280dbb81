"""Cases: opening one, its card, the team, status with its history, and the rows linked to it."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select, tuple_, update

from core import audit, events
from core.audit import Actor
from core.crypto import FieldCipher
from core.errors import Conflict, InvalidInput, NotFound
from core.events import (
    CallbackTaskOfOrganisation,
    CallOfOrganisation,
    OfOrganisation,
    ReferralOfOrganisation,
    StayOfOrganisation,
)
from core.models import Role, User, UserRole
from core.scoped import new_reference
from safety_plans import errors
from safety_plans.access import Basis
from safety_plans.models import (
    CaseCreate,
    CaseLink,
    CaseListItem,
    CaseMember,
    CasePage,
    CasePublic,
    CaseStatus,
    CaseUpdate,
    LinkCreate,
    LinkKind,
    SafetyCase,
    StatusChange,
    StatusCreate,
)
from safety_plans.risk import RiskLevel


class Work(NamedTuple):
    """A change to one case: the unit of work, its instant, the case (locked), who makes the
    change (as a user and as the audit's actor) and the cipher for what is sealed. The gate
    (`safety_plans.deps.CaseGate.work`) hands it over; demo data and tests make their own."""

    session: Session
    now: datetime
    case: SafetyCase
    user_id: uuid.UUID
    cipher: FieldCipher
    actor: Actor


class Desk(NamedTuple):
    """A supervisor's act on the organisation's cases (break-glass, reviews, tasks): the unit of
    work, its instant, the organisation, who acts, the cipher and the audit's actor."""

    session: Session
    now: datetime
    organisation_id: uuid.UUID
    user_id: uuid.UUID
    cipher: FieldCipher
    actor: Actor


NAME_CONTEXT = "safety_case.name"
SUBJECT = "safety_case"
OWNER_ROLES = frozenset({Role.COUNSELOR, Role.SUPERVISOR})
MEMBER_ROLES = frozenset({Role.COUNSELOR, Role.SUPERVISOR, Role.SHELTER_STAFF})
PAGE_SIZE = 50


def _audit(
    session: Session,
    now: datetime,
    actor: Actor,
    action: str,
    case: SafetyCase,
    reason: str | None = None,
) -> None:
    audit.record(session, now, actor, action, SUBJECT, case.id, case.organisation_id, reason=reason)


def touch(session: Session, case: SafetyCase, now: datetime) -> None:
    """The case changed now: its `updated_at`, and the copy its team rows keep for the lists."""
    case.updated_at = now
    session.add(case)
    session.exec(
        update(CaseMember)
        .where(col(CaseMember.case_id) == case.id)
        .values(case_updated_at=now)
        .execution_options(synchronize_session=False)
    )


def _check_colleague(
    session: Session,
    organisation_id: uuid.UUID,
    user_id: uuid.UUID,
    roles: frozenset[Role],
    message: str,
) -> None:
    found = session.exec(
        select(User.id)
        .join(UserRole, col(UserRole.user_id) == col(User.id))
        .where(
            User.id == user_id,
            User.organisation_id == organisation_id,
            col(User.disabled_at).is_(None),
            col(UserRole.role).in_(roles),
        )
    ).first()
    if found is None:
        raise InvalidInput(message)


def create_case(
    session: Session,
    *,
    now: datetime,
    organisation_id: uuid.UUID,
    user_id: uuid.UUID,
    data: CaseCreate,
    cipher: FieldCipher,
    actor: Actor,
) -> SafetyCase:
    """Open a case; the caller (or the named owner) owns it, the named colleagues are its team."""
    owner_id = data.owner_id or user_id
    _check_colleague(session, organisation_id, owner_id, OWNER_ROLES, errors.OWNER_NOT_A_COLLEAGUE)
    team = {owner_id, user_id, *data.team}
    for member in sorted(team - {owner_id, user_id}):
        _check_colleague(session, organisation_id, member, MEMBER_ROLES, errors.TEAM_NOT_COLLEAGUES)
    key_id, sealed = cipher.seal_pair(data.name, context=NAME_CONTEXT)
    case = SafetyCase(
        organisation_id=organisation_id,
        number=new_reference(session, col(SafetyCase.number), "K-"),
        owner_id=owner_id,
        status=CaseStatus.OPEN,
        name_key_id=key_id,
        name_sealed=sealed,
        birth_year=data.birth_year,
        age_band=data.age_band,
        municipality=data.municipality,
        languages=data.languages,
        children_involved=data.children_involved,
        violence_types=[str(v) for v in data.violence_types],
        do_not_disclose=data.do_not_disclose,
        created_at=now,
        created_by=user_id,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    session.add_all(
        CaseMember(case_id=case.id, user_id=m, case_updated_at=now, added_at=now, added_by=user_id)
        for m in team
    )
    session.add(
        StatusChange(case_id=case.id, status=CaseStatus.OPEN, changed_at=now, changed_by=user_id)
    )
    session.flush()
    _audit(session, now, actor, "case.created", case)
    return case


def team_of(session: Session, case_id: uuid.UUID) -> list[uuid.UUID]:
    return sorted(
        session.exec(select(CaseMember.user_id).where(CaseMember.case_id == case_id)).all()
    )


def name_of(cipher: FieldCipher, case: SafetyCase) -> str:
    return cipher.open_pair(case.name_key_id, case.name_sealed, context=NAME_CONTEXT) or ""


def _overdue(case: SafetyCase, now: datetime) -> bool:
    return (
        case.status is not CaseStatus.CLOSED
        and case.reassess_by is not None
        and case.reassess_by <= now
    )


def case_public(
    session: Session, case: SafetyCase, *, basis: Basis, cipher: FieldCipher, now: datetime
) -> CasePublic:
    return CasePublic(
        id=case.id,
        number=case.number,
        name=name_of(cipher, case),
        owner_id=case.owner_id,
        status=case.status,
        status_reason=case.status_reason,
        birth_year=case.birth_year,
        age_band=case.age_band,
        municipality=case.municipality,
        languages=case.languages,
        children_involved=case.children_involved,
        violence_types=case.violence_types,  # type: ignore[arg-type]
        do_not_disclose=case.do_not_disclose,
        risk_level=RiskLevel(case.risk_level) if case.risk_level else None,
        reassess_by=case.reassess_by,
        reassessment_overdue=_overdue(case, now),
        team=team_of(session, case.id),
        created_at=case.created_at,
        updated_at=case.updated_at,
        access=str(basis),
    )


def list_item(case: SafetyCase, cipher: FieldCipher, now: datetime) -> CaseListItem:
    return CaseListItem(
        id=case.id,
        number=case.number,
        name=name_of(cipher, case),
        status=case.status,
        owner_id=case.owner_id,
        risk_level=RiskLevel(case.risk_level) if case.risk_level else None,
        reassess_by=case.reassess_by,
        reassessment_overdue=_overdue(case, now),
        updated_at=case.updated_at,
    )


def _cursor(case: SafetyCase) -> str:
    raw = f"{case.updated_at.isoformat()}|{case.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _parse_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        stamp, _, case_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(stamp), uuid.UUID(case_id)
    except ValueError as exc:
        raise InvalidInput(errors.BAD_CURSOR) from exc


def list_cases(
    session: Session,
    *,
    now: datetime,
    user_id: uuid.UUID,
    cipher: FieldCipher,
    status: CaseStatus | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> CasePage:
    """The caller's cases (those whose team she is on), most recently changed first."""
    # One index range over her team rows (user_id, case_updated_at, case_id, read backwards), then
    # those cases by key: the case list never walks the organisation's cases.
    query = (
        select(SafetyCase)
        .join(CaseMember, col(CaseMember.case_id) == col(SafetyCase.id))
        .where(CaseMember.user_id == user_id)
    )
    if status is not None:
        query = query.where(SafetyCase.status == status)
    if cursor is not None:
        stamp, last_id = _parse_cursor(cursor)
        query = query.where(
            tuple_(col(CaseMember.case_updated_at), col(CaseMember.case_id))
            < tuple_(stamp, last_id)
        )
    rows = list(
        session.exec(
            query.order_by(
                col(CaseMember.case_updated_at).desc(), col(CaseMember.case_id).desc()
            ).limit(limit + 1)
        ).all()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return CasePage(
        items=[list_item(r, cipher, now) for r in rows],
        next_cursor=_cursor(rows[-1]) if more else None,
    )


def update_case(work: Work, data: CaseUpdate) -> SafetyCase:
    session, now, case, _, cipher, actor = work
    changes = data.model_dump(exclude_unset=True)
    if not changes:
        raise InvalidInput(errors.NOTHING_TO_CHANGE)
    for field in ("do_not_disclose", "children_involved", "name", "languages", "violence_types"):
        if field in changes and changes[field] is None:
            raise InvalidInput(errors.NOT_NULL.format(field=field))
    if "owner_id" in changes:
        owner_id = changes.pop("owner_id")
        if owner_id is None:
            raise InvalidInput(errors.NOT_NULL.format(field="owner_id"))
        _check_colleague(
            session, case.organisation_id, owner_id, OWNER_ROLES, errors.OWNER_NOT_A_COLLEAGUE
        )
        case.owner_id = owner_id
        if session.get(CaseMember, (case.id, owner_id)) is None:
            session.add(
                CaseMember(
                    case_id=case.id,
                    user_id=owner_id,
                    case_updated_at=case.updated_at,
                    added_at=now,
                    added_by=owner_id,
                )
            )
    if "name" in changes:
        case.name_key_id, case.name_sealed = cipher.seal_pair(
            changes.pop("name"), context=NAME_CONTEXT
        )
    if "violence_types" in changes:
        changes["violence_types"] = [str(v) for v in changes["violence_types"]]
    for field, value in changes.items():
        setattr(case, field, value)
    touch(session, case, now)
    session.flush()
    _audit(
        session,
        now,
        actor,
        "case.updated",
        case,
        reason=",".join(sorted(data.model_dump(exclude_unset=True))),
    )
    return case


def change_status(work: Work, data: StatusCreate) -> SafetyCase:
    """Open (reopen), make dormant or close a case; the history keeps every change."""
    session, now, case, user_id, _, actor = work
    if case.status is data.status:
        raise Conflict(errors.ALREADY_STATUS)
    case.status = data.status
    case.status_reason = data.reason
    touch(session, case, now)
    session.add(
        StatusChange(
            case_id=case.id,
            status=data.status,
            reason=data.reason,
            changed_at=now,
            changed_by=user_id,
        )
    )
    session.flush()
    _audit(session, now, actor, f"case.{data.status.value}", case, reason=data.reason)
    return case


def status_history(session: Session, case: SafetyCase) -> list[StatusChange]:
    return list(
        session.exec(
            select(StatusChange)
            .where(StatusChange.case_id == case.id)
            .order_by(col(StatusChange.changed_at), col(StatusChange.id))
        ).all()
    )


def add_member(work: Work, member_id: uuid.UUID) -> list[uuid.UUID]:
    session, now, case, user_id, _, actor = work
    _check_colleague(session, case.organisation_id, member_id, MEMBER_ROLES, errors.NOT_A_COLLEAGUE)
    if session.get(CaseMember, (case.id, member_id)) is None:
        session.add(
            CaseMember(
                case_id=case.id,
                user_id=member_id,
                case_updated_at=case.updated_at,
                added_at=now,
                added_by=user_id,
            )
        )
        session.flush()
        _audit(session, now, actor, "case.member_added", case, reason=f"user {member_id}")
    return team_of(session, case.id)


def remove_member(work: Work, member_id: uuid.UUID) -> list[uuid.UUID]:
    session, now, case, _, _, actor = work
    if member_id == case.owner_id:
        raise Conflict(errors.OWNER_STAYS)
    member = session.get(CaseMember, (case.id, member_id))
    if member is None:
        raise NotFound(errors.NOT_FOUND)
    session.delete(member)
    session.flush()
    _audit(session, now, actor, "case.member_removed", case, reason=f"user {member_id}")
    return team_of(session, case.id)


# --- links ------------------------------------------------------------------------------------

_QUESTIONS: dict[LinkKind, type[OfOrganisation]] = {
    LinkKind.CALLBACK_TASK: CallbackTaskOfOrganisation,
    LinkKind.STAY: StayOfOrganisation,
    LinkKind.REFERRAL: ReferralOfOrganisation,
}


def _belongs(
    session: Session, kind: LinkKind, target_id: uuid.UUID, organisation_id: uuid.UUID
) -> bool:
    if kind is LinkKind.CALL:
        return events.ask(session, CallOfOrganisation(target_id, organisation_id))
    return events.ask(session, _QUESTIONS[kind](target_id, organisation_id))


def link(work: Work, data: LinkCreate) -> CaseLink:
    """Link a call, callback task, stay or referral of the organisation to the case (audited)."""
    session, now, case, user_id, _, actor = work
    if not _belongs(session, data.kind, data.target_id, case.organisation_id):
        raise InvalidInput(errors.NO_SUCH_TARGET.format(kind=data.kind.value.replace("_", " ")))
    kind = data.kind.value.replace("_", " ")
    taken = session.exec(
        select(CaseLink.id).where(CaseLink.kind == data.kind, CaseLink.target_id == data.target_id)
    ).first()
    if taken is not None:
        # Said as for a row that is not ours: whether another case holds it is not for this caller.
        raise InvalidInput(errors.NO_SUCH_TARGET.format(kind=kind))
    row = CaseLink(
        case_id=case.id, kind=data.kind, target_id=data.target_id, linked_at=now, linked_by=user_id
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:  # linked by another case a moment ago
        raise InvalidInput(errors.NO_SUCH_TARGET.format(kind=kind)) from exc
    touch(session, case, now)
    _audit(session, now, actor, "case.linked", case, reason=f"{data.kind.value} {data.target_id}")
    return row


def links(session: Session, case: SafetyCase) -> list[CaseLink]:
    return list(
        session.exec(
            select(CaseLink)
            .where(CaseLink.case_id == case.id)
            .order_by(col(CaseLink.linked_at), col(CaseLink.id))
        ).all()
    )


def case_for_referral(session: Session, question: events.CaseForReferral) -> events.CaseRef | None:
    """The answer to `CaseForReferral`: the case, if it is the organisation's and the user is on
    its team."""
    case = session.get(SafetyCase, question.case_id)
    if case is None or case.organisation_id != question.organisation_id or question.user_id is None:
        return None
    if session.get(CaseMember, (case.id, question.user_id)) is None:
        return None
    return events.CaseRef(number=case.number, do_not_disclose=case.do_not_disclose)
