"""Who may do what with shelters: the domain's policies and its one shelter gate.

A route names a policy (roles, organisation in the path); `shelter_gate` then admits to a named
shelter only its assigned staff and the organisation's supervisors (and admins, for the
configuration routes that allow them). Anyone else gets 404, as if the shelter did not exist.
Whether a caller may see the address or the people is decided here too (`Gate.sees_people`, by
`shelters.service.sees_people`, the rule other domains ask through `core.events.StaysSeen`).

What the gate lets through is all a shelter route works with, in one parameter (as
`core.context.Context` is for other routes): the caller, the shelter, the session, the instant
and the cipher.

    @router.post(STAY + "/discharge")
    def discharge_route(stay_id: uuid.UUID, body: DischargeCreate, ctx: WorkCtx) -> StayPublic:
        stay = service.discharge(ctx.session, now=ctx.now, shelter=ctx.shelter, ...)
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from core.access import Policy, Scope, declare, require
from core.auth import Principal
from core.context import Context
from core.crypto import FieldCipher
from core.deps import CipherDep, ClockDep, NowDep, SessionDep, SettingsDep
from core.errors import NotFound, Unauthenticated
from core.models import Role
from shelters import errors, service
from shelters.models import Shelter, Stay

# Configuration: shelters, rooms, beds, staff. Admins configure but never see people or address.
CONFIGURE = Policy(Scope.ORGANISATION, frozenset({Role.ADMIN, Role.SUPERVISOR}))
# Reading the configuration (a shelter's card, its rooms and beds).
READ = Policy(Scope.ORGANISATION, frozenset({Role.ADMIN, Role.SUPERVISOR, Role.SHELTER_STAFF}))
# Day-to-day work with residents: admissions, the board, stays, assessments, visitors' log.
WORK = Policy(Scope.ORGANISATION, frozenset({Role.SUPERVISOR, Role.SHELTER_STAFF}))
# Decisions that need a supervisor: extensions, entry approvals, lockdown.
DECIDE = Policy(Scope.ORGANISATION, frozenset({Role.SUPERVISOR}))
# Organisation-wide figures.
FIGURES = Policy(Scope.ORGANISATION, frozenset({Role.ADMIN, Role.SUPERVISOR}))
# Free-bed counts across the whole network, for anyone who may need to place someone tonight.
NETWORK = Policy(
    Scope.NETWORK,
    frozenset({Role.SUPERVISOR, Role.COUNSELOR, Role.SHELTER_STAFF, Role.CSW_OFFICER}),
)

Reader = Annotated[Principal, Depends(require(READ))]
Configurer = Annotated[Principal, Depends(require(CONFIGURE))]
FiguresReader = Annotated[Principal, Depends(require(FIGURES))]
NetworkReader = Annotated[Principal, Depends(require(NETWORK))]


@dataclass(frozen=True)
class Gate(Context):
    """The caller of a shelter route and the shelter it names, checked; with the request's
    session, instant and cipher (`Context`), the one parameter a shelter route takes."""

    shelter: Shelter
    sees_people: bool  # the shelter's own staff or a supervisor: address, names, case content

    @property
    def user_id(self) -> uuid.UUID:
        if self.principal.user_id is None:  # shelter policies admit sessions only
            raise Unauthenticated(errors.SESSION_ONLY)
        return self.principal.user_id

    def stay(self, stay_id: uuid.UUID) -> Stay:
        """A stay of this shelter (another shelter's answers as absent)."""
        return service.get_stay(self.session, shelter=self.shelter, stay_id=stay_id)


def admit_to_shelter(
    policy: Policy,
    principal: Principal,
    session: Session,
    now: datetime,
    cipher: FieldCipher,
    *,
    org_id: uuid.UUID,
    shelter_id: uuid.UUID,
) -> Gate:
    """The shelter gate's own rule, for a principal already checked against `policy` (a page
    over all her shelters admits her to each of them by this)."""
    shelter, people = service.shelter_seen_by(
        session, principal, organisation_id=org_id, shelter_id=shelter_id
    )
    # Admins configure shelters without seeing who is in them; nobody else gets this far.
    if not people and (Role.ADMIN not in principal.roles or Role.ADMIN not in policy.roles):
        raise NotFound(errors.NOT_FOUND)
    return Gate(principal, session, now, cipher, shelter, people)


def shelter_gate(policy: Policy) -> Callable[..., Gate]:
    """The dependency for routes under /organisations/{org_id}/shelters/{shelter_id}."""
    check = require(policy)

    def gate(
        request: Request,
        org_id: uuid.UUID,
        shelter_id: uuid.UUID,
        session: SessionDep,
        clock: ClockDep,
        settings: SettingsDep,
        now: NowDep,
        cipher: CipherDep,
    ) -> Gate:
        # The policy's check, in this gate's worker thread (declared below for the matrix).
        principal = check(request, session, clock, settings)
        return admit_to_shelter(
            policy, principal, session, now, cipher, org_id=org_id, shelter_id=shelter_id
        )

    declare(gate, policy)
    return gate


ConfigureCtx = Annotated[Gate, Depends(shelter_gate(CONFIGURE))]
ReadCtx = Annotated[Gate, Depends(shelter_gate(READ))]
WorkCtx = Annotated[Gate, Depends(shelter_gate(WORK))]
DecideCtx = Annotated[Gate, Depends(shelter_gate(DECIDE))]


def other_shelter(ctx: Gate, shelter_id: uuid.UUID) -> Shelter:
    """A second shelter a route names (a transfer's destination), under the same rule."""
    shelter = service.get_shelter(
        ctx.session, organisation_id=ctx.shelter.organisation_id, shelter_id=shelter_id
    )
    if not service.sees_people(ctx.session, ctx.principal, shelter):
        raise NotFound(errors.NOT_FOUND)
    return shelter
