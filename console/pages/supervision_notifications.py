"""Console pages: how the organisation's notifications were delivered, and retrying one that
failed.

Mirrors `GET /organisations/{org_id}/notifications` and `POST .../{message_id}/retry` (gate
`notifications.deps.DeliveryWatcher`: the organisation's supervisors). The page shows what the
API answers and less: state, channel, topic, attempts, the next attempt and the last error, the
recipient as the API masks it; never a message's subject or body.
"""

import uuid
from typing import Annotated

from fastapi import Request
from fastapi.responses import Response

from console.forms import BlankIsNone, Form, act
from console.pages.inbox_common import CHANNEL, DELIVERY_STATE
from console.render import N_, PREFIX, done_messages, page, redirect, view_of
from core.routing import Router
from notifications import router as api
from notifications.deps import DeliveryWatcher
from notifications.models import DeliveryState, OutboxPublic

router = Router(include_in_schema=False)  # included under PREFIX by console.pages.supervision

MESSAGES = "/o/{org_id}/notifications"
# As many as the API's default list.
SHOWN = 100

done_messages(
    {"notification_retried": N_("The message is queued again; it is sent at the next attempt.")}
)


def _show(
    request: Request,
    org_id: uuid.UUID,
    ctx: DeliveryWatcher,
    state: DeliveryState | None,
    status: int = 200,
    message: str | None = None,
) -> Response:
    found: list[OutboxPublic] = api.list_messages(org_id, ctx, state, SHOWN)  # type: ignore[assignment]
    return page(
        view_of(request, ctx),
        "supervision/notifications.html",
        status,
        active="notifications",
        messages=found,
        state=state,
        base=f"{PREFIX}/o/{org_id}/notifications",
        message=message,
        states=DELIVERY_STATE,
        channels=CHANNEL,
        DEAD=DeliveryState.DEAD,
        PENDING=DeliveryState.PENDING,
    )


@router.get(MESSAGES)
def notifications_page(
    request: Request,
    org_id: uuid.UUID,
    ctx: DeliveryWatcher,
    state: Annotated[DeliveryState | None, BlankIsNone] = None,
) -> Response:
    return _show(request, org_id, ctx, state)


@router.post(MESSAGES + "/{message_id}/retry")
def retry_form(
    request: Request, form: Form, org_id: uuid.UUID, message_id: uuid.UUID, ctx: DeliveryWatcher
) -> Response:
    return act(
        ctx.session,
        lambda: api.retry_message(org_id, message_id, ctx),
        lambda status, message: _show(request, org_id, ctx, None, status, message),
        redirect(f"{PREFIX}/o/{org_id}/notifications", done="notification_retried"),
    )
