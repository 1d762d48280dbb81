"""Console pages: a recipient's referrals inbox (a CSW officer's desk) and one referral in it.

The list mirrors `GET /referrals/inbox` (gate `referrals.deps.Recipient`), the referral page
`GET /referrals/inbox/{referral_id}` (gate `referrals.deps.ReceivedReferral`: another
organisation's referral is a 404, and every read of it is audited, as through the API). The
forms post the API's bodies to the acts of that route: acknowledge, ask for information, record
the decision.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response

from console.forms import Form, act, local_instants, parse, values
from console.pages.inbox_common import LABELS
from console.render import N_, PREFIX, done_messages, page, redirect, view_of
from core.deps import SettingsDep
from core.routing import Router
from referrals.deps import ReceivedReferral, Recipient
from referrals.models import (
    OPEN_STATUSES,
    DecisionCreate,
    IncomingSummary,
    NoteCreate,
    ReferralStatus,
)
from referrals.router import referrals as api

router = Router(prefix=PREFIX, include_in_schema=False)
INBOX = "/inbox"
RECEIVED = INBOX + "/{referral_id}"
# A decision due within this long is marked as soon due.
SOON = timedelta(hours=24)
# The open statuses, each listed up to the API's largest page; the latest decided ones.
WAITING = (
    ReferralStatus.OPEN,
    ReferralStatus.ACKNOWLEDGED,
    ReferralStatus.INFORMATION_REQUESTED,
)
WAITING_LIMIT = 500
DECIDED_LIMIT = 50
# Rows of the waiting list on one page: the night's overdue ones are on the first.
PAGE_SIZE = 100

done_messages(
    {
        "referral_acknowledged": N_("The sender is told that the referral is being handled."),
        "referral_question_sent": N_("Your request for information is sent to the sender."),
        "referral_decided": N_("The decision is recorded and the sender is told."),
    }
)


@dataclass(frozen=True)
class Waiting:
    """A referral of the list, and how its deadline stands."""

    referral: IncomingSummary
    overdue: bool
    soon: bool


def _ordered(found: list[IncomingSummary], now: datetime) -> list[Waiting]:
    """Referrals waiting for a decision: overdue first, then soonest due, then those with no
    deadline (newest first)."""
    waiting = sorted(found, key=lambda r: r.created_at, reverse=True)
    far = now + timedelta(days=36500)
    waiting.sort(key=lambda r: r.deadline if r.deadline is not None else far)
    return [
        Waiting(
            r,
            overdue=r.deadline is not None and r.deadline <= now,
            soon=r.deadline is not None and now < r.deadline <= now + SOON,
        )
        for r in waiting
    ]


def _received(ctx: Recipient, status: ReferralStatus, limit: int) -> list[IncomingSummary]:
    found: list[IncomingSummary] = api.list_received(ctx, status, limit)  # type: ignore[assignment]
    return found


@router.get(INBOX)
def inbox_page(
    request: Request,
    ctx: Recipient,
    page_number: Annotated[int, Query(alias="page", ge=1, le=100)] = 1,
) -> Response:
    """Every referral waiting for a decision (as many as the API lists of each open status,
    so an old overdue one is never pushed off by newer ones), overdue first, a page at a time;
    then the latest decided."""
    waiting = _ordered(
        [r for status in WAITING for r in _received(ctx, status, WAITING_LIMIT)], ctx.now
    )
    first = (page_number - 1) * PAGE_SIZE
    return page(
        view_of(request, ctx),
        "inbox/list.html",
        active="inbox",
        waiting=waiting[first : first + PAGE_SIZE],
        total=len(waiting),
        first=first + 1,
        page_number=page_number,
        more=first + PAGE_SIZE < len(waiting),
        decided=_received(ctx, ReferralStatus.DECIDED, DECIDED_LIMIT),
        **LABELS,
    )


def _referral_url(referral_id: uuid.UUID) -> str:
    return f"{PREFIX}/inbox/{referral_id}"


def _show(
    request: Request,
    ctx: ReceivedReferral,
    status: int = 200,
    message: str | None = None,
    entered: dict[str, Any] | None = None,
    form: str | None = None,
) -> Response:
    """The referral as the API answers this reader (an audited read), with its forms; after a
    refused form, the API's message, and what she entered in the form that failed."""
    referral = api.read_received(ctx)
    return page(
        view_of(request, ctx),
        "inbox/referral.html",
        status,
        active="inbox",
        referral=referral,
        base=_referral_url(ctx.referral.id),
        open=referral.status in OPEN_STATUSES,  # type: ignore[attr-defined]
        OPEN=ReferralStatus.OPEN,
        message=message,
        failed=form,
        entered=entered or {},
        **LABELS,
    )


@router.get(RECEIVED)
def referral_page(request: Request, ctx: ReceivedReferral) -> Response:
    return _show(request, ctx)


def _failed(
    request: Request, ctx: ReceivedReferral, name: str, data: dict[str, Any]
) -> Callable[[int, str], Response]:
    """Refused: the same page with the API's message and what she entered in that form."""

    def failed(status: int, message: str) -> Response:
        return _show(request, ctx, status, message, data, name)

    return failed


def _back(ctx: ReceivedReferral, done: str) -> Response:
    return redirect(_referral_url(ctx.referral.id), done=done)


@router.post(RECEIVED + "/acknowledge")
def acknowledge_form(request: Request, form: Form, ctx: ReceivedReferral) -> Response:
    return act(
        ctx.session,
        lambda: api.acknowledge(ctx),
        _failed(request, ctx, "acknowledge", {}),
        _back(ctx, "referral_acknowledged"),
    )


@router.post(RECEIVED + "/information-requests")
def ask_form(
    request: Request, form: Form, ctx: ReceivedReferral, settings: SettingsDep
) -> Response:
    data = values(form)

    def work() -> object:
        return api.ask(parse(NoteCreate, data), ctx, settings)

    return act(
        ctx.session, work, _failed(request, ctx, "ask", data), _back(ctx, "referral_question_sent")
    )


@router.post(RECEIVED + "/decision")
def decide_form(
    request: Request, form: Form, ctx: ReceivedReferral, settings: SettingsDep
) -> Response:
    data = values(form)
    body = dict(data)
    if "stay_until" in body:
        local_instants(body, ("stay_until",), view_of(request, ctx).formats.zone)

    def work() -> object:
        return api.decide(parse(DecisionCreate, body), ctx, settings)

    return act(
        ctx.session, work, _failed(request, ctx, "decide", data), _back(ctx, "referral_decided")
    )
