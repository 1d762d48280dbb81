"""Notifications over HTTP: contacts, delivery status, dead-letter retries, Twilio SMS callbacks.

Delivery itself runs as a periodic job (`notifications.jobs`).
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Query, Request, Response

from core.access import Signed
from core.deps import CipherDep, NowDep, SessionDep, SettingsDep
from core.errors import Forbidden
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
    OutboxPublic,
)

log = logging.getLogger("sigurna.notifications")

router = APIRouter(tags=["notifications"])

CONTACTS = "/organisations/{org_id}/notification-contacts"
MESSAGES = "/organisations/{org_id}/notifications"


@router.get(CONTACTS, response_model=list[ContactPublic])
def list_contacts(org_id: uuid.UUID, principal: ContactKeeper, session: SessionDep) -> object:
    """Where the organisation receives notifications, and for what."""
    return service.list_contacts(session, organisation_id=org_id)


@router.post(CONTACTS, status_code=201, response_model=ContactCreated)
def create_contact(
    org_id: uuid.UUID,
    body: ContactCreate,
    principal: ContactKeeper,
    session: SessionDep,
    now: NowDep,
    settings: SettingsDep,
    cipher: CipherDep,
) -> object:
    """Add an e-mail address, SMS number or webhook; a webhook's signing secret is shown once."""
    contact, secret = service.create_contact(
        session,
        now=now,
        organisation_id=org_id,
        data=body,
        settings=settings,
        cipher=cipher,
        actor=principal.actor(),
    )
    return ContactCreated.model_validate(contact, update={"signing_secret": secret})


@router.patch(CONTACTS + "/{contact_id}", response_model=ContactPublic)
def update_contact(
    org_id: uuid.UUID,
    contact_id: uuid.UUID,
    body: ContactUpdate,
    principal: ContactKeeper,
    session: SessionDep,
    now: NowDep,
) -> object:
    """Rename a contact, change its purposes, or switch it on or off."""
    contact = service.get_contact(session, organisation_id=org_id, contact_id=contact_id)
    return service.update_contact(
        session, now=now, contact=contact, data=body, actor=principal.actor()
    )


@router.delete(CONTACTS + "/{contact_id}", status_code=204)
def delete_contact(
    org_id: uuid.UUID,
    contact_id: uuid.UUID,
    principal: ContactKeeper,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Remove a contact (messages already queued for it are still delivered)."""
    contact = service.get_contact(session, organisation_id=org_id, contact_id=contact_id)
    service.delete_contact(session, now=now, contact=contact, actor=principal.actor())
    return Response(status_code=204)


@router.post(CONTACTS + "/{contact_id}/rotate-secret", response_model=ContactCreated)
def rotate_secret(
    org_id: uuid.UUID,
    contact_id: uuid.UUID,
    principal: ContactKeeper,
    session: SessionDep,
    now: NowDep,
    cipher: CipherDep,
) -> object:
    """A new signing secret for a webhook, shown once."""
    contact = service.get_contact(session, organisation_id=org_id, contact_id=contact_id)
    secret = service.rotate_secret(
        session, now=now, contact=contact, cipher=cipher, actor=principal.actor()
    )
    return ContactCreated.model_validate(contact, update={"signing_secret": secret})


@router.get(MESSAGES, response_model=list[OutboxPublic])
def list_messages(
    org_id: uuid.UUID,
    principal: DeliveryWatcher,
    session: SessionDep,
    state: DeliveryState | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> object:
    """What the organisation sent, newest first, with each message's delivery state."""
    found = service.list_messages(session, organisation_id=org_id, state=state, limit=limit)
    return [service.public_view(m) for m in found]


@router.post(MESSAGES + "/{message_id}/retry", response_model=OutboxPublic)
def retry_message(
    org_id: uuid.UUID,
    message_id: uuid.UUID,
    principal: DeliveryWatcher,
    session: SessionDep,
    now: NowDep,
) -> object:
    """Queue a dead-lettered message again (after its contact has been corrected)."""
    message = service.retry_message(
        session,
        now=now,
        organisation_id=org_id,
        message_id=message_id,
        actor=principal.actor(),
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
