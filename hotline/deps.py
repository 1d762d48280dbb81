"""Who may do what with the hotline: the staff routes' policies, in one place, each as the
`Context` its routes work with; Twilio's signature, the voice routes' gate; and what every staff
route that changes the rota does after it (the cached roster follows at once).

The matrix test in tests/core/test_access.py mirrors these policies.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

from anyio import to_thread
from fastapi import Depends, Request

from core.access import Policy, Scope
from core.context import Context, context
from core.errors import Forbidden
from core.models import Role
from core.twilio import signed_form
from hotline import jobs
from hotline.errors import BAD_SIGNATURE
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

# A staff route takes exactly one of these: the caller checked against the policy, with the
# request's session, instant and cipher. None of these policies admits API tokens, so
# `ctx.user_id` (the caller's own account) is always there.
OversightCtx = Annotated[Context, Depends(context(HOTLINE_OVERSIGHT))]
ReaderCtx = Annotated[Context, Depends(context(HOTLINE_READER))]
DutyStaffCtx = Annotated[Context, Depends(context(DUTY_STAFF))]
CaseworkCtx = Annotated[Context, Depends(context(CASEWORK))]


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
