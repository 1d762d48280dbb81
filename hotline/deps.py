"""Who may do what with the hotline: the staff routes' policies, in one place; Twilio's signature,
the voice routes' gate; and what every staff route that changes the rota does after it (the
cached roster follows at once).

The matrix test in tests/core/test_access.py mirrors these policies.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from anyio import to_thread
from fastapi import Depends, Request

from core.access import Policy, Scope, allow
from core.auth import Principal
from core.errors import Forbidden, Unauthenticated
from core.models import Role
from core.twilio import signed_form
from hotline import jobs
from hotline.errors import BAD_SIGNATURE, SESSION_ONLY
from hotline.wiring import voice

log = logging.getLogger("sigurna.hotline.voice")

# Configuration: hotlines, closures, the rota, duty phones listed, calendar feeds of a hotline.
HOTLINE_OVERSIGHT = Policy(Scope.ORGANISATION, frozenset({Role.ADMIN, Role.SUPERVISOR}))
# Reading the hotlines, the shifts and who is on duty.
HOTLINE_READER = Policy(
    Scope.ORGANISATION, frozenset({Role.ADMIN, Role.SUPERVISOR, Role.COUNSELOR})
)
# One's own duty phone and calendar feed: the people who stand duty.
DUTY_STAFF = Policy(Scope.ORGANISATION, frozenset({Role.SUPERVISOR, Role.COUNSELOR}))
# Case content: the people who answer and supervise calls, never account admins.
CASEWORK = Policy(Scope.ORGANISATION, frozenset({Role.COUNSELOR, Role.SUPERVISOR}))

Oversight = Annotated[Principal, allow(HOTLINE_OVERSIGHT)]
Reader = Annotated[Principal, allow(HOTLINE_READER)]
DutyStaff = Annotated[Principal, allow(DUTY_STAFF)]
Casework = Annotated[Principal, allow(CASEWORK)]


def own_user_id(principal: Principal) -> uuid.UUID:
    """The caller's own account (duty-staff routes are about oneself)."""
    if principal.user_id is None:  # these policies admit sessions only, which have a user
        raise Unauthenticated(SESSION_ONLY)
    return principal.user_id


async def roster_follows_changes(request: Request) -> AsyncIterator[None]:
    """After a change to a hotline, its closures, its rota or a duty phone has been committed,
    the cached roster (what calls ring when the database fails) is rebuilt at once."""
    yield
    if request.method not in {"GET", "HEAD", "OPTIONS"}:
        await to_thread.run_sync(jobs.roster_changed, request.app)


async def twilio_form(request: Request) -> dict[str, str]:
    """The form parameters of a request Twilio signed; any other is refused (403) and counted,
    and logged without its body."""
    params = await signed_form(request)
    if params is None:
        count = voice(request.app).count("rejected_signature")
        log.warning(
            "twilio request refused: missing or wrong signature",
            extra={"route": request.url.path, "count": count},
        )
        raise Forbidden(BAD_SIGNATURE)
    return params


# A voice route's parameters, signed by Twilio (the route's policy is `Signed`).
TwilioForm = Annotated[dict[str, str], Depends(twilio_form)]
