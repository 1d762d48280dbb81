"""Who may do what with referrals: the domain's policies and its two gates, in one place.

A referral has two sides. Its sender (the organisation that made it) reads and acts on it under
`/organisations/{org_id}/referrals`; its recipient (a CSW, a partner service, a partner shelter)
under `/referrals/inbox`, where `received` admits only referrals addressed to the caller's own
organisation and answers 404 for every other, as if it did not exist, and says whether the caller
is on that organisation's child-protection team (who alone reads a child at risk's identity).
"""

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlmodel import Session

from core import events
from core.access import ALL_ROLES, Policy, Scope, require
from core.auth import Principal
from core.deps import SessionDep
from core.errors import Forbidden, NotFound
from core.events import StaysSeen
from core.models import OrganisationKind, Role
from referrals import errors, service, team
from referrals.models import Referral, Team

# The sender's case workers: who made the referral, who looks after the client.
SEND = Policy(Scope.ORGANISATION, frozenset({Role.SUPERVISOR, Role.COUNSELOR, Role.SHELTER_STAFF}))
# Re-addressing and withdrawing a referral: the sender's supervisors.
STEER = Policy(Scope.ORGANISATION, frozenset({Role.SUPERVISOR}))
# The recipient's officers (and a case system's token); supervisors of partner services too.
RECEIVE = Policy(Scope.NETWORK, frozenset({Role.CSW_OFFICER, Role.SUPERVISOR}), allow_tokens=True)
# The directory: anyone may read it; a CSW's admins keep their own municipalities.
DIRECTORY = Policy(Scope.NETWORK, ALL_ROLES, allow_tokens=True)
KEEP_DIRECTORY = Policy(Scope.NETWORK, frozenset({Role.ADMIN}))
# Who is on a CSW's child-protection team: its admins and supervisors say.
KEEP_TEAM = Policy(Scope.NETWORK, frozenset({Role.ADMIN, Role.SUPERVISOR}))

Sender = Annotated[Principal, Depends(require(SEND))]
Steerer = Annotated[Principal, Depends(require(STEER))]
Recipient = Annotated[Principal, Depends(require(RECEIVE))]
DirectoryReader = Annotated[Principal, Depends(require(DIRECTORY))]


def csw_admin(principal: Annotated[Principal, Depends(require(KEEP_DIRECTORY))]) -> Principal:
    """An admin of a Center for Social Work."""
    if principal.organisation_kind is not OrganisationKind.CSW:
        raise Forbidden(errors.ONLY_CSW_KEEPS_DIRECTORY)
    return principal


DirectoryKeeper = Annotated[Principal, Depends(csw_admin)]


def csw_team_keeper(principal: Annotated[Principal, Depends(require(KEEP_TEAM))]) -> Principal:
    """An admin or supervisor of a Center for Social Work."""
    if principal.organisation_kind is not OrganisationKind.CSW:
        raise Forbidden(errors.ONLY_CSW_HAS_TEAM)
    return principal


TeamKeeper = Annotated[Principal, Depends(csw_team_keeper)]


@dataclass(frozen=True)
class Held:
    """The caller of a route and the referral it names, checked."""

    principal: Principal
    referral: Referral
    # The recipient's caller is on its child-protection team: reads a child at risk's identity.
    on_team: bool = False


def visible(session: Session, principal: Principal, referrals: list[Referral]) -> list[Referral]:
    """The sender's referrals this caller may see: all for supervisors; for others the ones they
    made, those about stays whose people they may see (the question `StaysSeen`, which shelters
    answers: the stays of the shelters they staff), and, for counselors, those made from calls
    and cases (the counselling team's)."""
    if Role.SUPERVISOR in principal.roles:
        return referrals

    def made(referral: Referral) -> bool:
        return referral.created_by is not None and referral.created_by == principal.user_id

    stays = frozenset(r.stay_id for r in referrals if r.stay_id is not None and not made(r))
    seen: frozenset[uuid.UUID] = (
        events.ask(session, StaysSeen(principal, stays)) if stays else frozenset()
    )

    def may_see(referral: Referral) -> bool:
        if made(referral):
            return True
        if referral.stay_id is None:
            return Role.COUNSELOR in principal.roles
        return referral.stay_id in seen

    return [r for r in referrals if may_see(r)]


def sent(org_id: uuid.UUID, referral_id: uuid.UUID, principal: Sender, session: SessionDep) -> Held:
    # Locked: the sender's acts (consent, answers) change the row.
    referral = service.sent_referral(
        session, organisation_id=org_id, referral_id=referral_id, lock=True
    )
    if not visible(session, principal, [referral]):
        raise NotFound(errors.NOT_FOUND)
    return Held(principal, referral)


def steered(
    org_id: uuid.UUID, referral_id: uuid.UUID, principal: Steerer, session: SessionDep
) -> Held:
    referral = service.sent_referral(
        session, organisation_id=org_id, referral_id=referral_id, lock=True
    )
    return Held(principal, referral)


def received(referral_id: uuid.UUID, principal: Recipient, session: SessionDep) -> Held:
    referral = service.received_referral(
        session, organisation_id=principal.organisation_id, referral_id=referral_id, lock=True
    )
    on_team = referral.team is Team.CHILD_PROTECTION and team.is_member(session, principal)
    return Held(principal, referral, on_team)


SentReferral = Annotated[Held, Depends(sent)]
SteeredReferral = Annotated[Held, Depends(steered)]
ReceivedReferral = Annotated[Held, Depends(received)]
