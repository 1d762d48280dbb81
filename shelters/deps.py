"""Who may do what with shelters: the domain's policies and its one shelter gate.

A route names a policy (roles, organisation in the path); `shelter_gate` then admits to a named
shelter only its assigned staff and the organisation's supervisors (and admins, for the
configuration routes that allow them). Anyone else gets 404, as if the shelter did not exist.
Whether a caller may see the address or the people is decided here too (`Gate.sees_people`, by
`shelters.service.sees_people`, the rule other domains ask through `core.events.StaysSeen`).
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from core.access import Policy, Scope, require
from core.auth import Principal
from core.deps import SessionDep
from core.errors import NotFound, Unauthenticated
from core.models import Role
from shelters import errors, service
from shelters.models import Shelter

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
class Gate:
    """The caller of a shelter route and the shelter it names, checked."""

    principal: Principal
    shelter: Shelter
    sees_people: bool  # the shelter's own staff or a supervisor: address, names, case content

    @property
    def user_id(self) -> uuid.UUID:
        if self.principal.user_id is None:  # shelter policies admit sessions only
            raise Unauthenticated(errors.SESSION_ONLY)
        return self.principal.user_id


def shelter_gate(policy: Policy) -> Callable[..., Gate]:
    """The dependency for routes under /organisations/{org_id}/shelters/{shelter_id}."""
    checked = require(policy)

    def gate(
        org_id: uuid.UUID,
        shelter_id: uuid.UUID,
        session: SessionDep,
        # A default, not a string annotation: `checked` is local to this closure.
        principal: Principal = Depends(checked),  # noqa: B008
    ) -> Gate:
        shelter = service.get_shelter(session, organisation_id=org_id, shelter_id=shelter_id)
        people = service.sees_people(session, principal, shelter)
        # Admins configure shelters without seeing who is in them; nobody else gets this far.
        if not people and (Role.ADMIN not in principal.roles or Role.ADMIN not in policy.roles):
            raise NotFound(errors.NOT_FOUND)
        return Gate(principal, shelter, people)

    return gate


ConfigureGate = Annotated[Gate, Depends(shelter_gate(CONFIGURE))]
ReadGate = Annotated[Gate, Depends(shelter_gate(READ))]
WorkGate = Annotated[Gate, Depends(shelter_gate(WORK))]
DecideGate = Annotated[Gate, Depends(shelter_gate(DECIDE))]


def other_shelter(session: SessionDep, gate: Gate, shelter_id: uuid.UUID) -> Shelter:
    """A second shelter a route names (a transfer's destination), under the same rule."""
    shelter = service.get_shelter(
        session, organisation_id=gate.shelter.organisation_id, shelter_id=shelter_id
    )
    if not service.sees_people(session, gate.principal, shelter):
        raise NotFound(errors.NOT_FOUND)
    return shelter
