"""Calendar feeds: private iCalendar links to a hotline's rota or to one's own shifts, and the
feed itself (its unguessable link is the credential)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import SQLModel

from core.access import Signed
from core.deps import NowDep, SessionDep
from hotline import service
from hotline.deps import DutyStaff, Oversight, own_user_id, roster_follows_changes

router = APIRouter(tags=["hotline"], dependencies=[Depends(roster_follows_changes)])

HOTLINE = "/organisations/{org_id}/hotlines/{hotline_id}"


class FeedUrl(SQLModel):
    url: str


def _feed_url(request: Request, token: str) -> FeedUrl:
    base = str(request.app.state.settings.public_base_url).rstrip("/")
    return FeedUrl(url=base + service.FEED_PATH.format(token=token))


@router.post(HOTLINE + "/calendar-feeds", status_code=201)
def create_hotline_feed_route(
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    request: Request,
    principal: Oversight,
    session: SessionDep,
    now: NowDep,
) -> FeedUrl:
    """A private iCalendar link to the hotline's rota; the link is in this answer only."""
    hotline = service.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id)
    token = service.create_calendar_feed(
        session,
        now=now,
        organisation_id=org_id,
        hotline_id=hotline.id,
        actor=principal.actor(),
    )
    return _feed_url(request, token)


@router.post("/organisations/{org_id}/duty-phones/me/calendar-feed", status_code=201)
def create_own_feed_route(
    org_id: uuid.UUID, request: Request, principal: DutyStaff, session: SessionDep, now: NowDep
) -> FeedUrl:
    """A private iCalendar link to one's own shifts; the link is in this answer only."""
    token = service.create_calendar_feed(
        session,
        now=now,
        organisation_id=org_id,
        user_id=own_user_id(principal),
        actor=principal.actor(),
    )
    return _feed_url(request, token)


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
