"""A referral's two sides over HTTP.

- **The sender** (the organisation that made it) reads and acts on it under
  `/organisations/{org_id}/referrals`; who there sees which is `referrals.deps.visible`'s.
- **The recipient** (a CSW, a partner service, a partner shelter) under `/referrals/inbox`,
  which admits only referrals addressed to the caller's own organisation (others answer 404).
"""

from __future__ import annotations

import uuid

from core.deps import SettingsDep
from core.routing import Router
from referrals import service
from referrals.deps import (
    ReceivedReferral,
    Recipient,
    Sender,
    SentReferral,
    SteeredReferral,
    visible,
)
from referrals.models import (
    ConsentSet,
    DecisionCreate,
    Direction,
    IncomingReferral,
    IncomingSummary,
    NoteCreate,
    NotePublic,
    Readdress,
    ReferralCreate,
    ReferralPublic,
    ReferralStatus,
    Withdraw,
)
from referrals.router.answers import Limit, base_url, exchanged, incoming, sent_public, summaries

router = Router(tags=["referrals"])

SENT = "/organisations/{org_id}/referrals"
ONE = SENT + "/{referral_id}"
INBOX = "/referrals/inbox"
RECEIVED = INBOX + "/{referral_id}"


# --- the sender's side -----------------------------------------------------------------------


@router.get(SENT, response_model=list[ReferralPublic])
def list_sent(
    org_id: uuid.UUID, ctx: Sender, status: ReferralStatus | None = None, limit: Limit = 100
) -> object:
    """The organisation's referrals, newest first."""
    found = service.list_sent(ctx.session, organisation_id=org_id, status=status, limit=limit)
    return [
        sent_public(ctx.session, ctx.cipher, r) for r in visible(ctx.session, ctx.principal, found)
    ]


@router.post(SENT, status_code=201, response_model=ReferralPublic)
def create_referral(org_id: uuid.UUID, body: ReferralCreate, ctx: Sender) -> object:
    """Refer from a hotline call or a counselling case, with the client's consent or the
    legal basis for referring without it."""
    referral = service.create_referral(
        ctx.session,
        now=ctx.now,
        organisation_id=org_id,
        data=body,
        cipher=ctx.cipher,
        actor=ctx.actor,
        user_id=ctx.principal.user_id,
    )
    return sent_public(ctx.session, ctx.cipher, referral)


@router.get(ONE, response_model=ReferralPublic)
def read_sent(held: SentReferral) -> object:
    """One referral: where it stands, its notes, its reminders and any decision."""
    return sent_public(held.session, held.cipher, held.referral)


@router.put(ONE + "/consent", response_model=ReferralPublic)
def record_consent(body: ConsentSet, held: SentReferral) -> object:
    """The client's consent as she gives it now: what the recipient may see (scope [] shares
    nothing beyond what the law obliges)."""
    referral = service.record_consent(
        held.session,
        now=held.now,
        referral=held.referral,
        data=body,
        cipher=held.cipher,
        user_id=held.principal.user_id,
        actor=held.actor,
    )
    return sent_public(held.session, held.cipher, referral)


@router.post(ONE + "/answers", status_code=201, response_model=NotePublic)
def answer(body: NoteCreate, held: SentReferral, settings: SettingsDep) -> object:
    """Answer the recipient's request for information."""
    return exchanged(held, body, Direction.ANSWER, settings)


@router.put(ONE + "/recipient", response_model=ReferralPublic)
def readdress(body: Readdress, held: SteeredReferral) -> object:
    """Address a referral that has no (or the wrong) recipient."""
    referral = service.readdress(held.act, held.referral, body.to_organisation_id)
    return sent_public(held.session, held.cipher, referral)


@router.post(ONE + "/withdraw", response_model=ReferralPublic)
def withdraw(body: Withdraw, held: SteeredReferral) -> object:
    """Withdraw a referral; its pending reminders are cancelled."""
    referral = service.withdraw(
        held.session, now=held.now, referral=held.referral, reason=body.reason, actor=held.actor
    )
    return sent_public(held.session, held.cipher, referral)


# --- the recipient's side --------------------------------------------------------------------


@router.get(INBOX, response_model=list[IncomingSummary])
def list_received(
    ctx: Recipient, status: ReferralStatus | None = None, limit: Limit = 100
) -> object:
    """Referrals addressed to the caller's organisation, newest first (nothing personal)."""
    found = service.list_received(
        ctx.session, organisation_id=ctx.principal.organisation_id, status=status, limit=limit
    )
    return summaries(ctx.session, found)


@router.get(RECEIVED, response_model=IncomingReferral)
def read_received(held: ReceivedReferral) -> object:
    """One referral, with what the consent (or the law) lets the reader see; audited."""
    return incoming(held)


@router.post(RECEIVED + "/acknowledge", response_model=IncomingReferral)
def acknowledge(held: ReceivedReferral) -> object:
    """Say the referral has been received and is being handled."""
    service.acknowledge(held.session, now=held.now, referral=held.referral, actor=held.actor)
    return incoming(held)


@router.post(RECEIVED + "/information-requests", status_code=201, response_model=NotePublic)
def ask(body: NoteCreate, held: ReceivedReferral, settings: SettingsDep) -> object:
    """Ask the sender for information (the sender's supervisors are told)."""
    return exchanged(held, body, Direction.QUESTION, settings)


@router.post(RECEIVED + "/decision", response_model=IncomingReferral)
def decide(body: DecisionCreate, held: ReceivedReferral, settings: SettingsDep) -> object:
    """Record the decision: longer-term accommodation (where), another measure, or declined.
    It cancels the pending reminders and updates the stay (outcome, and planned end if given)."""
    service.decide(
        held.session,
        now=held.now,
        referral=held.referral,
        data=body,
        cipher=held.cipher,
        actor=held.actor,
        base_url=base_url(settings),
    )
    return incoming(held)
