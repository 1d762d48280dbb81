"""Notifications over HTTP: contacts, delivery status, dead-letter retries, Twilio SMS callbacks.

Delivery itself runs as a periodic job (`notifications.jobs`).
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from anyio import to_thread
from fastapi import Query, Request, Response

from core.access import Signed
from core.context import Context
from core.deps import NowDep, SettingsDep
from core.errors import Forbidden
from core.routing import Router
from core.twilio import signed_form
from notifications import service
from notifications.deps import ContactKeeper, DeliveryWatcher
from notifications.errors import BAD_SIGNATURE
from notifications.models import (
    ContactCreate,
    ContactCreated,
    ContactPublic,
    ContactUpdate,
    DeliveryState,
    NotificationContact,
    OutboxPublic,
)

log = logging.getLogger("sigurna.notifications")

router = Router(tags=["notifications"])

CONTACTS = "/organisations/{org_id}/notification-contacts"
MESSAGES = "/organisations/{org_id}/notifications"


@router.get(CONTACTS, response_model=list[ContactPublic])
def list_contacts(org_id: uuid.UUID, ctx: ContactKeeper) -> object:
    """Where the organisation receives notifications, and for what."""
    return service.list_contacts(ctx.session, organisation_id=org_id)


@router.post(CONTACTS, status_code=201, response_model=ContactCreated)
def create_contact(
    org_id: uuid.UUID, body: ContactCreate, ctx: ContactKeeper, settings: SettingsDep
) -> object:
    """Add an e-mail address, SMS number or webhook; a webhook's signing secret is shown once."""
    contact, secret = service.create_contact(
        ctx.session,
        now=ctx.now,
        organisation_id=org_id,
        data=body,
        settings=settings,
        cipher=ctx.cipher,
        actor=ctx.actor,
    )
    return ContactCreated.model_validate(contact, update={"signing_secret": secret})


def _contact(ctx: Context, org_id: uuid.UUID, contact_id: uuid.UUID) -> NotificationContact:
    """The contact a route names, in the organisation it names."""
    return service.get_contact(ctx.session, organisation_id=org_id, contact_id=contact_id)


@router.patch(CONTACTS + "/{contact_id}", response_model=ContactPublic)
def update_contact(
    org_id: uuid.UUID, contact_id: uuid.UUID, body: ContactUpdate, ctx: ContactKeeper
) -> object:
    """Rename a contact, change its purposes, or switch it on or off."""
    contact = _contact(ctx, org_id, contact_id)
    return service.update_contact(
        ctx.session, now=ctx.now, contact=contact, data=body, actor=ctx.actor
    )


@router.delete(CONTACTS + "/{contact_id}", status_code=204)
def delete_contact(org_id: uuid.UUID, contact_id: uuid.UUID, ctx: ContactKeeper) -> Response:
    """Remove a contact (messages already queued for it are still delivered)."""
    contact = _contact(ctx, org_id, contact_id)
    service.delete_contact(ctx.session, now=ctx.now, contact=contact, actor=ctx.actor)
    return Response(status_code=204)


@router.post(CONTACTS + "/{contact_id}/rotate-secret", response_model=ContactCreated)
def rotate_secret(org_id: uuid.UUID, contact_id: uuid.UUID, ctx: ContactKeeper) -> object:
    """A new signing secret for a webhook, shown once."""
    contact = _contact(ctx, org_id, contact_id)
    secret = service.rotate_secret(
        ctx.session, now=ctx.now, contact=contact, cipher=ctx.cipher, actor=ctx.actor
    )
    return ContactCreated.model_validate(contact, update={"signing_secret": secret})


@router.get(MESSAGES, response_model=list[OutboxPublic])
def list_messages(
    org_id: uuid.UUID,
    ctx: DeliveryWatcher,
    state: DeliveryState | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> object:
    """What the organisation sent, newest first, with each message's delivery state."""
    found = service.list_messages(ctx.session, organisation_id=org_id, state=state, limit=limit)
    return [service.public_view(m) for m in found]


@router.post(MESSAGES + "/{message_id}/retry", response_model=OutboxPublic)
def retry_message(org_id: uuid.UUID, message_id: uuid.UUID, ctx: DeliveryWatcher) -> object:
    """Queue a dead-lettered message again (after its contact has been corrected)."""
    message = service.retry_message(
        ctx.session, now=ctx.now, organisation_id=org_id, message_id=message_id, actor=ctx.actor
    )
    return service.public_view(message)


@router.post("/notifications/twilio/sms-status", status_code=204, dependencies=[Signed])
async def sms_status(request: Request, now: NowDep) -> Response:
    """Twilio's status callback for an SMS we sent (signature-verified)."""
    params = await signed_form(request)
    if params is None:
        log.warning(
            "twilio request refused: missing or wrong signature", extra={"route": request.url.path}
        )
        raise Forbidden(BAD_SIGNATURE)
    sid, status = params.get("MessageSid", ""), params.get("MessageStatus", "")
    if sid and status:

        def apply() -> None:
            with request.app.state.unit_of_work() as session:
                service.sms_status(
                    session,
                    now=now,
                    message_sid=sid,
                    status=status,
                    error_code=params.get("ErrorCode"),
                )

        await to_thread.run_sync(apply)
    return Response(status_code=204)
