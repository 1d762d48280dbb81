"""What the staff routers of hotlines, the rota and calendar feeds share: their router (a change
rebuilds the cached roster once committed), the path of a hotline, and the hotline it names."""

from __future__ import annotations

import uuid

from fastapi import Depends

from core.context import Context
from core.routing import Router
from hotline import service
from hotline.deps import roster_follows_changes
from hotline.models import Hotline

HOTLINE = "/organisations/{org_id}/hotlines/{hotline_id}"


def staff_router() -> Router:
    """A router of staff routes whose changes the cached roster follows at once."""
    return Router(tags=["hotline"], dependencies=[Depends(roster_follows_changes)])


def hotline_of(ctx: Context, org_id: uuid.UUID, hotline_id: uuid.UUID) -> Hotline:
    """The hotline the path names; another organisation's answers as absent (404)."""
    return service.get_hotline(ctx.session, organisation_id=org_id, hotline_id=hotline_id)
