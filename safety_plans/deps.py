"""The one gate of cases and safety plans.

A route names a policy (who may use cases at all: a second factor, never an API token, never an
admin) and then the gate decides on the case itself (`safety_plans.access.decide`): the team,
the shelter staff of her running stay, a live break-glass opening, or a live consent. A caller
the gate refuses gets 404, exactly as for a case that does not exist, and the refusal is audited
(it commits although the answer is an error). Every read the gate admits is audited with the
basis it was admitted under; that is what "who saw this case" reports.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session, col, select

from core import audit, events
from core.access import Policy, Scope
from core.audit import Actor
from core.context import Context, context
from core.crypto import FieldCipher
from core.errors import Conflict
from core.events import ShelterStaffOfStays
from core.models import Role
from core.refusal import AuditedForbidden, AuditedNotFound
from safety_plans import errors
from safety_plans.access import Access, Basis, Caller, CaseFacts, Opening, Sharing, decide
from safety_plans.models import (
    BreakGlass,
    CaseLink,
    CaseMember,
    CaseStatus,
    Consent,
    LinkKind,
    SafetyCase,
    Section,
)
from safety_plans.service.cases import Desk, Work

CASE_ROLES = frozenset({Role.SUPERVISOR, Role.COUNSELOR, Role.SHELTER_STAFF})
# Working with the organisation's own cases (the gate then decides on each case).
WORK = Policy(Scope.ORGANISATION, CASE_ROLES, needs_second_factor=True)
# Break-glass and its review, case-conference tasks: supervisors.
SUPERVISE = Policy(Scope.ORGANISATION, frozenset({Role.SUPERVISOR}), needs_second_factor=True)
# Reading a case another organisation shared under consent.
SHARED = Policy(
    Scope.NETWORK, frozenset({Role.SUPERVISOR, Role.CSW_OFFICER}), needs_second_factor=True
)

Worker = Annotated[Context, Depends(context(WORK))]
Supervisor = Annotated[Context, Depends(context(SUPERVISE))]
SharedReader = Annotated[Context, Depends(context(SHARED))]

CASE_SUBJECT = "safety_case"


@dataclass(frozen=True)
class CaseGate:
    """A case the caller was let into, how, and what the route works with."""

    ctx: Context
    case: SafetyCase
    access: Access

    @property
    def session(self) -> Session:
        return self.ctx.session

    @property
    def now(self) -> datetime:
        return self.ctx.now

    @property
    def cipher(self) -> FieldCipher:
        return self.ctx.cipher

    @property
    def actor(self) -> Actor:
        return self.ctx.actor

    @property
    def user_id(self) -> uuid.UUID:
        return self.ctx.user_id

    @property
    def work(self) -> Work:
        """What a service needs to change this case."""
        ctx = self.ctx
        return Work(ctx.session, ctx.now, self.case, ctx.user_id, ctx.cipher, ctx.actor)


def case_facts(session: Session, case: SafetyCase) -> CaseFacts:
    team = frozenset(
        session.exec(select(CaseMember.user_id).where(CaseMember.case_id == case.id)).all()
    )
    stays = frozenset(
        session.exec(
            select(CaseLink.target_id).where(
                CaseLink.case_id == case.id, CaseLink.kind == LinkKind.STAY
            )
        ).all()
    )
    staff = events.ask(session, ShelterStaffOfStays(stays)) if stays else frozenset()
    return CaseFacts(case.organisation_id, case.owner_id, team, case.do_not_disclose, staff)


def decide_for(ctx: Context, case: SafetyCase) -> Access | None:
    """The decision for this caller on this case, from the rows that make it (the openings and
    consents are read only for a caller outside the team)."""
    session, user_id = ctx.session, ctx.user_id
    caller = Caller(user_id, ctx.principal.organisation_id, ctx.principal.roles)
    # The common case first, in one lookup by key: the caller is on the team.
    member = session.get(CaseMember, (case.id, user_id)) is not None
    team = frozenset({user_id}) if member else frozenset()
    quick = CaseFacts(case.organisation_id, case.owner_id, team, case.do_not_disclose, frozenset())
    on_team = decide(caller, quick, now=ctx.now)
    if on_team is not None:
        return on_team
    facts = case_facts(session, case)
    openings = [
        Opening(row.expires_at)
        for row in session.exec(
            select(BreakGlass).where(BreakGlass.case_id == case.id, BreakGlass.user_id == user_id)
        ).all()
    ]
    consents = [
        Sharing(frozenset(Section(s) for s in row.sections), row.expires_at, row.withdrawn_at)
        for row in session.exec(
            select(Consent).where(
                Consent.case_id == case.id,
                Consent.recipient_id == ctx.principal.organisation_id,
            )
        ).all()
    ]
    return decide(caller, facts, now=ctx.now, openings=openings, consents=consents)


def _view(request: Request) -> str:
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', '?')}"


def refuse(
    ctx: Context, case_id: uuid.UUID | None, organisation_id: uuid.UUID | None, view: str
) -> AuditedNotFound:
    """Audit a refused attempt; the 404 to raise (it keeps the audit event)."""
    _refused(ctx, case_id, organisation_id, view)
    return AuditedNotFound(errors.NOT_FOUND)


def _refused(
    ctx: Context, case_id: uuid.UUID | None, organisation_id: uuid.UUID | None, view: str
) -> None:
    audit.record(
        ctx.session,
        ctx.now,
        ctx.actor,
        "case.refused",
        CASE_SUBJECT,
        case_id,
        organisation_id,
        reason=view,
    )


def admit(
    request: Request,
    ctx: Context,
    case_id: uuid.UUID,
    *,
    write: bool,
    team_only: bool,
    organisation_id: uuid.UUID | None,
    owner_only: bool = False,
    while_closed: bool = False,
    team_basis_only: bool = False,
) -> CaseGate:
    """Let the caller into the case, or raise an audited 404 (403 for a team member where only
    the owner may go). A closed case takes no writes but its status (reopen it first)."""
    view = _view(request)
    case = ctx.session.exec(
        select(SafetyCase).where(col(SafetyCase.id) == case_id).with_for_update()
        if write
        else select(SafetyCase).where(col(SafetyCase.id) == case_id)
    ).first()
    if case is None or (organisation_id is not None and case.organisation_id != organisation_id):
        raise refuse(ctx, case_id, None, view)
    access = decide_for(ctx, case)
    if access is None or (write and not access.may_write) or (team_only and not access.is_team):
        raise refuse(ctx, case.id, case.organisation_id, view)
    if owner_only and ctx.user_id != case.owner_id:
        _refused(ctx, case.id, case.organisation_id, view)
        raise AuditedForbidden(errors.OWNER_ONLY)
    if team_basis_only and access.basis is not Basis.TEAM:
        # Shelter staff during a stay and a break-glass supervisor work on the case; they do not
        # make their access outlive its reason (joining the team, taking the case, sharing it).
        _refused(ctx, case.id, case.organisation_id, view)
        raise AuditedForbidden(errors.TEAM_ONLY)
    if write and case.status is CaseStatus.CLOSED and not while_closed:
        raise Conflict(errors.CLOSED)
    if request.method == "GET":
        audit.record(
            ctx.session,
            ctx.now,
            ctx.actor,
            "case.read",
            CASE_SUBJECT,
            case.id,
            case.organisation_id,
            reason=f"{access.basis}; {view}",
        )
    return CaseGate(ctx, case, access)


def _team_gate(
    *,
    write: bool,
    owner_only: bool = False,
    while_closed: bool = False,
    team_basis_only: bool = False,
) -> Callable[..., CaseGate]:
    def dependency(
        request: Request, org_id: uuid.UUID, case_id: uuid.UUID, ctx: Worker
    ) -> CaseGate:
        return admit(
            request,
            ctx,
            case_id,
            write=write,
            team_only=True,
            organisation_id=org_id,
            owner_only=owner_only,
            while_closed=while_closed,
            team_basis_only=team_basis_only,
        )

    return dependency


def _shared_gate(request: Request, case_id: uuid.UUID, ctx: SharedReader) -> CaseGate:
    return admit(request, ctx, case_id, write=False, team_only=False, organisation_id=None)


# The team's (and shelter staff's, and break-glass's) reads and writes of one case.
CaseReader = Annotated[CaseGate, Depends(_team_gate(write=False))]
CaseWriter = Annotated[CaseGate, Depends(_team_gate(write=True))]
# Changing a case's status: the one write a closed case takes (reopening it).
CaseStatusWriter = Annotated[CaseGate, Depends(_team_gate(write=True, while_closed=True))]
# Who is on the team, who owns the case, with whom it is shared, do-not-disclose: the team's own
# (on its own basis, not through a stay or a break-glass opening).
CaseManager = Annotated[CaseGate, Depends(_team_gate(write=True, team_basis_only=True))]
# The owner's own report ("who saw this case"); the rest of the team is refused (audited).
CaseOwner = Annotated[CaseGate, Depends(_team_gate(write=False, owner_only=True))]
# A consent recipient's read-only view.
SharedCaseReader = Annotated[CaseGate, Depends(_shared_gate)]


def desk(ctx: Context, organisation_id: uuid.UUID) -> Desk:
    """A supervisor's act on the organisation's cases, from a route's context."""
    return Desk(ctx.session, ctx.now, organisation_id, ctx.user_id, ctx.cipher, ctx.actor)
