"""Who may do what with referrals: the domain's policies and its two gates, in one place.

A referral has two sides. Its sender (the organisation that made it) reads and acts on it under
`/organisations/{org_id}/referrals`; its recipient (a CSW, a partner service, a partner shelter)
under `/referrals/inbox`, where `received` admits only referrals addressed to the caller's own
organisation and answers 404 for every other, as if it did not exist, and says whether the caller
is on that organisation's child-protection team (who alone reads a child at risk's identity).
"""

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends
from sqlmodel import Session

from core import events
from core.access import ALL_ROLES, Policy, Scope
from core.auth import Principal
from core.context import Context, context
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

Sender = Annotated[Context, Depends(context(SEND))]
Steerer = Annotated[Context, Depends(context(STEER))]
Recipient = Annotated[Context, Depends(context(RECEIVE))]
DirectoryReader = Annotated[Context, Depends(context(DIRECTORY))]


def at_csw(policy: Policy, refusal: str) -> Any:
    """`context(policy)` for callers at a Center for Social Work only (others: 403 `refusal`)."""

    def gate(ctx: Annotated[Context, Depends(context(policy))]) -> Context:
        if ctx.principal.organisation_kind is not OrganisationKind.CSW:
            raise Forbidden(refusal)
        return ctx

    return Depends(gate)


# An admin of a Center for Social Work.
DirectoryKeeper = Annotated[Context, at_csw(KEEP_DIRECTORY, errors.ONLY_CSW_KEEPS_DIRECTORY)]
# An admin or supervisor of a Center for Social Work.
TeamKeeper = Annotated[Context, at_csw(KEEP_TEAM, errors.ONLY_CSW_HAS_TEAM)]


@dataclass(frozen=True)
class Held(Context):
    """A route's context (its caller checked) and the referral it names, checked."""

    referral: Referral
    # The recipient's caller is on its child-protection team: reads a child at risk's identity.
    on_team: bool = False

    @classmethod
    def of(cls, ctx: Context, referral: Referral, on_team: bool = False) -> "Held":
        return cls(ctx.principal, ctx.session, ctx.now, ctx.cipher, referral, on_team)


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


def sent(org_id: uuid.UUID, referral_id: uuid.UUID, ctx: Sender) -> Held:
    # Locked: the sender's acts (consent, answers) change the row.
    referral = service.sent_referral(
        ctx.session, organisation_id=org_id, referral_id=referral_id, lock=True
    )
    if not visible(ctx.session, ctx.principal, [referral]):
        raise NotFound(errors.NOT_FOUND)
    return Held.of(ctx, referral)


def steered(org_id: uuid.UUID, referral_id: uuid.UUID, ctx: Steerer) -> Held:
    referral = service.sent_referral(
        ctx.session, organisation_id=org_id, referral_id=referral_id, lock=True
    )
    return Held.of(ctx, referral)


def received(referral_id: uuid.UUID, ctx: Recipient) -> Held:
    referral = service.received_referral(
        ctx.session,
        organisation_id=ctx.principal.organisation_id,
        referral_id=referral_id,
        lock=True,
    )
    on_team = referral.team is Team.CHILD_PROTECTION and team.is_member(ctx.session, ctx.principal)
    return Held.of(ctx, referral, on_team)


SentReferral = Annotated[Held, Depends(sent)]
SteeredReferral = Annotated[Held, Depends(steered)]
ReceivedReferral = Annotated[Held, Depends(received)]
