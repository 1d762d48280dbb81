"""Calendar feeds: private iCalendar links to a hotline's rota or to one's own shifts, and the
feed itself (its unguessable link is the credential)."""

from __future__ import annotations

import uuid

from fastapi import Request, Response
from sqlmodel import SQLModel

from core.access import Signed
from core.context import Context
from core.deps import NowDep, SessionDep
from hotline import service
from hotline.deps import DutyStaffCtx, OversightCtx
from hotline.router.common import HOTLINE, hotline_of, staff_router

router = staff_router()


class FeedUrl(SQLModel):
    url: str


def _new_feed(
    request: Request,
    ctx: Context,
    org_id: uuid.UUID,
    hotline_id: uuid.UUID | None,
    user_id: uuid.UUID | None,
) -> FeedUrl:
    """A new feed of a hotline or of a person (revoking the one before it), as its link."""
    token = service.create_calendar_feed(
        ctx.session,
        now=ctx.now,
        organisation_id=org_id,
        hotline_id=hotline_id,
        user_id=user_id,
        actor=ctx.actor,
    )
    base = str(request.app.state.settings.public_base_url).rstrip("/")
    return FeedUrl(url=base + service.FEED_PATH.format(token=token))


@router.post(HOTLINE + "/calendar-feeds", status_code=201)
def create_hotline_feed_route(
    org_id: uuid.UUID, hotline_id: uuid.UUID, request: Request, ctx: OversightCtx
) -> FeedUrl:
    """A private iCalendar link to the hotline's rota; the link is in this answer only."""
    hotline = hotline_of(ctx, org_id, hotline_id)
    return _new_feed(request, ctx, org_id, hotline.id, None)


@router.post("/organisations/{org_id}/duty-phones/me/calendar-feed", status_code=201)
def create_own_feed_route(org_id: uuid.UUID, request: Request, ctx: DutyStaffCtx) -> FeedUrl:
    """A private iCalendar link to one's own shifts; the link is in this answer only."""
    return _new_feed(request, ctx, org_id, None, ctx.user_id)


@router.get(
    service.FEED_PATH,
    dependencies=[Signed],
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {}}, "description": "the feed"},
        403: {"description": "unknown or revoked link"},
    },
)
def calendar_feed_route(token: str, session: SessionDep, now: NowDep) -> Response:
    """An iCalendar feed; its unguessable link is the credential."""
    body = service.calendar_feed(session, now=now, token=token)
    return Response(
        body,
        media_type="text/calendar",
        headers={"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"},
    )
