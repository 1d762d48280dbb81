"""The hotline's staff API: hotlines, closures, duty phones, the rota and calendar feeds."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime
from sqlmodel import Session, SQLModel

from core import users
from core.access import Policy, Scope, Signed, allow
from core.auth import Principal
from core.clock import ensure_utc
from core.deps import ClockDep, RequestIdDep, SessionDep, SettingsDep
from core.errors import Conflict, Unauthenticated, error_body
from core.models import Role, User
from hotline import admin, jobs, service
from hotline.models import (
    ClosureCreate,
    ClosurePublic,
    DutyPhonePublic,
    DutyPhoneSet,
    DutyPhoneVerify,
    HotlineCreate,
    HotlinePublic,
    HotlineUpdate,
    OverrideCreate,
    OverrideKind,
    Position,
    Shift,
    ShiftCreate,
    ShiftOverride,
    SwapCreate,
)
from hotline.rota import on_duty
from notifications.service import enqueue_sms

# --- policies: who may call what (the matrix test in tests/core/test_access.py mirrors them) ----

HOTLINE_OVERSIGHT = Policy(Scope.ORGANISATION, frozenset({Role.ADMIN, Role.SUPERVISOR}))
HOTLINE_READER = Policy(
    Scope.ORGANISATION, frozenset({Role.ADMIN, Role.SUPERVISOR, Role.COUNSELOR})
)
DUTY_STAFF = Policy(Scope.ORGANISATION, frozenset({Role.SUPERVISOR, Role.COUNSELOR}))

Oversight = Annotated[Principal, allow(HOTLINE_OVERSIGHT)]
Reader = Annotated[Principal, allow(HOTLINE_READER)]
DutyStaff = Annotated[Principal, allow(DUTY_STAFF)]

DEFAULT_SHIFT_LISTING = timedelta(days=14)


async def _roster_follows_changes(request: Request) -> AsyncIterator[None]:
    """After a change to a hotline, its closures, its rota or a duty phone has been committed,
    the cached roster (what calls ring when the database fails) is rebuilt at once."""
    yield
    if request.method not in {"GET", "HEAD", "OPTIONS"}:
        await to_thread.run_sync(jobs.roster_changed, request.app)


router = APIRouter(tags=["hotline"], dependencies=[Depends(_roster_follows_changes)])

HOTLINE = "/organisations/{org_id}/hotlines/{hotline_id}"


# --- response shapes -------------------------------------------------------------------------


class OverridePublic(SQLModel):
    id: uuid.UUID
    position: Position
    user_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    user_name: str
    kind: OverrideKind
    swap_group: uuid.UUID | None
    reason: str


class ShiftPublic(SQLModel):
    id: uuid.UUID
    hotline_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    primary_user_id: uuid.UUID
    primary_name: str
    backup_user_id: uuid.UUID | None
    backup_name: str | None
    overrides: list[OverridePublic]


class DutyPerson(SQLModel):
    user_id: uuid.UUID
    display_name: str


class OnDutyPublic(SQLModel):
    at: datetime
    primary: DutyPerson | None
    backup: DutyPerson | None


class GapPublic(SQLModel):
    starts_at: datetime
    ends_at: datetime
    missing: list[Position]


class VerificationSent(SQLModel):
    verification: str


class FeedUrl(SQLModel):
    url: str


def _override_public(override: ShiftOverride, names: dict[uuid.UUID, str]) -> OverridePublic:
    return OverridePublic.model_validate(
        override, from_attributes=True, update={"user_name": names.get(override.user_id, "")}
    )


def _shifts_public(
    session: Session, shifts: list[Shift], overrides: list[ShiftOverride]
) -> list[ShiftPublic]:
    names = admin.display_names(
        session,
        [u for s in shifts for u in (s.primary_user_id, s.backup_user_id)]
        + [o.user_id for o in overrides],
    )
    return [
        ShiftPublic(
            id=shift.id,
            hotline_id=shift.hotline_id,
            starts_at=shift.starts_at,
            ends_at=shift.ends_at,
            primary_user_id=shift.primary_user_id,
            primary_name=names.get(shift.primary_user_id, ""),
            backup_user_id=shift.backup_user_id,
            backup_name=names.get(shift.backup_user_id) if shift.backup_user_id else None,
            overrides=[_override_public(o, names) for o in overrides if o.shift_id == shift.id],
        )
        for shift in shifts
    ]


def _user_id(principal: Principal) -> uuid.UUID:
    if principal.user_id is None:  # these policies admit sessions only, which have a user
        raise Unauthenticated("Log in to use this route.")
    return principal.user_id


def _hotline_public(hotline: object) -> HotlinePublic:
    return HotlinePublic.model_validate(hotline, from_attributes=True)


# --- hotlines --------------------------------------------------------------------------------


@router.get("/organisations/{org_id}/hotlines")
def list_hotlines_route(org_id: uuid.UUID, _: Reader, session: SessionDep) -> list[HotlinePublic]:
    """The organisation's hotlines."""
    return [_hotline_public(h) for h in admin.list_hotlines(session, organisation_id=org_id)]


@router.post("/organisations/{org_id}/hotlines", status_code=201)
def create_hotline_route(
    org_id: uuid.UUID,
    body: HotlineCreate,
    principal: Oversight,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> HotlinePublic:
    """Configure a hotline; its zone and holiday country default to the organisation's."""
    hotline = admin.create_hotline(
        session,
        now=clock.now(),
        organisation=users.get_organisation(session, org_id),
        data=body,
        actor=principal.actor(request_id),
    )
    return _hotline_public(hotline)


@router.get(HOTLINE)
def get_hotline_route(
    org_id: uuid.UUID, hotline_id: uuid.UUID, _: Reader, session: SessionDep
) -> HotlinePublic:
    """One hotline."""
    return _hotline_public(
        admin.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id)
    )


@router.patch(HOTLINE)
def update_hotline_route(
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    body: HotlineUpdate,
    principal: Oversight,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> HotlinePublic:
    """Change a hotline's configuration."""
    hotline = admin.update_hotline(
        session,
        now=clock.now(),
        hotline=admin.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id),
        data=body,
        actor=principal.actor(request_id),
    )
    return _hotline_public(hotline)


# --- closures --------------------------------------------------------------------------------


@router.get(HOTLINE + "/closures")
def list_closures_route(
    org_id: uuid.UUID, hotline_id: uuid.UUID, _: Oversight, session: SessionDep
) -> list[ClosurePublic]:
    """Days the office is closed beyond public holidays."""
    hotline = admin.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id)
    return [
        ClosurePublic.model_validate(c, from_attributes=True)
        for c in admin.list_closures(session, hotline=hotline)
    ]


@router.post(HOTLINE + "/closures", status_code=201)
def add_closure_route(
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    body: ClosureCreate,
    principal: Oversight,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> ClosurePublic:
    """Close the office on a day: calls go to the duty ladder."""
    closure = admin.add_closure(
        session,
        now=clock.now(),
        hotline=admin.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id),
        data=body,
        user_id=principal.user_id,
        actor=principal.actor(request_id),
    )
    return ClosurePublic.model_validate(closure, from_attributes=True)


@router.delete(HOTLINE + "/closures/{closure_id}", status_code=204)
def delete_closure_route(
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    closure_id: uuid.UUID,
    principal: Oversight,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> None:
    """Reopen the office on a closed day."""
    admin.delete_closure(
        session,
        now=clock.now(),
        hotline=admin.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id),
        closure_id=closure_id,
        actor=principal.actor(request_id),
    )


# --- duty phones -----------------------------------------------------------------------------


@router.put("/organisations/{org_id}/duty-phones/me")
def set_duty_phone_route(
    org_id: uuid.UUID,
    body: DutyPhoneSet,
    principal: DutyStaff,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
) -> VerificationSent:
    """Set one's own duty mobile; it rings only once the code sent to it is confirmed."""
    now = clock.now()
    code = admin.set_duty_phone(
        session,
        now=now,
        organisation_id=org_id,
        user_id=_user_id(principal),
        number=body.number,
        actor=principal.actor(request_id),
    )
    sms_from = settings.twilio_sms_from or admin.any_hotline_number(session, org_id)
    if sms_from is None:
        raise Conflict(
            "There is no number to send the code from: add a hotline first "
            "(or set SIGURNA_TWILIO_SMS_FROM)."
        )
    # Committed with the code it carries; delivered by the outbox job.
    enqueue_sms(
        session,
        now=now,
        organisation_id=org_id,
        to=body.number,
        sender=sms_from,
        body=f"Sigurna: your duty phone code is {code}. It expires in 10 minutes.",
        idempotency_key=f"duty-phone-code:{uuid.uuid4()}",
        topic=service.DUTY_PHONE_CODE_TOPIC,
    )
    return VerificationSent(verification="sent")


@router.post(
    "/organisations/{org_id}/duty-phones/me/verify",
    response_model=DutyPhonePublic,
    responses={422: {"description": "wrong, expired or exhausted code"}},
)
def verify_duty_phone_route(
    org_id: uuid.UUID,
    body: DutyPhoneVerify,
    principal: DutyStaff,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> DutyPhonePublic | JSONResponse:
    """Confirm the code sent to one's duty mobile."""
    user_id = _user_id(principal)
    result = admin.verify_duty_phone(
        session, now=clock.now(), user_id=user_id, code=body.code, actor=principal.actor(request_id)
    )
    if result is not admin.Verification.VERIFIED:
        # Returned, not raised: the attempt count and its audit event must be committed.
        message = admin.VERIFICATION_MESSAGES[result]
        return JSONResponse(error_body("invalid_input", message), status_code=422)
    phones = admin.list_duty_phones(session, organisation_id=org_id)
    phone = next(p for p in phones if p.user_id == user_id)
    names = admin.display_names(session, [user_id])
    return DutyPhonePublic(
        user_id=user_id, display_name=names.get(user_id, ""), number=phone.number, verified=True
    )


@router.get("/organisations/{org_id}/duty-phones")
def list_duty_phones_route(
    org_id: uuid.UUID, _: Oversight, session: SessionDep
) -> list[DutyPhonePublic]:
    """Every duty mobile of the organisation and whether it is confirmed."""
    phones = admin.list_duty_phones(session, organisation_id=org_id)
    names = admin.display_names(session, [p.user_id for p in phones])
    return [
        DutyPhonePublic(
            user_id=p.user_id,
            display_name=names.get(p.user_id, ""),
            number=p.number,
            verified=p.verified_at is not None,
        )
        for p in phones
    ]


# --- rota ------------------------------------------------------------------------------------


@router.get(HOTLINE + "/shifts")
def list_shifts_route(
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    _: Reader,
    session: SessionDep,
    clock: ClockDep,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    until: Annotated[AwareDatetime | None, Query()] = None,
) -> list[ShiftPublic]:
    """Shifts overlapping [from, until), by default the next 14 days, with their overrides."""
    hotline = admin.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id)
    begin = start or clock.now()
    shifts = admin.list_shifts(
        session, hotline=hotline, start=begin, until=until or begin + DEFAULT_SHIFT_LISTING
    )
    overrides = admin.overrides_of(session, [s.id for s in shifts])
    return _shifts_public(session, shifts, overrides)


@router.post(HOTLINE + "/shifts", status_code=201)
def create_shift_route(
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    body: ShiftCreate,
    principal: Oversight,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> ShiftPublic:
    """Add a shift; it may not overlap another shift of the hotline."""
    shift = admin.create_shift(
        session,
        now=clock.now(),
        hotline=admin.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id),
        data=body,
        created_by=principal.user_id,
        actor=principal.actor(request_id),
    )
    return _shifts_public(session, [shift], [])[0]


@router.delete(HOTLINE + "/shifts/{shift_id}", status_code=204)
def delete_shift_route(
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    shift_id: uuid.UUID,
    principal: Oversight,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> None:
    """Remove a shift and its overrides."""
    admin.delete_shift(
        session,
        now=clock.now(),
        hotline=admin.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id),
        shift_id=shift_id,
        actor=principal.actor(request_id),
    )


@router.post(HOTLINE + "/shifts/{shift_id}/overrides", status_code=201)
def add_override_route(
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    shift_id: uuid.UUID,
    body: OverrideCreate,
    principal: Oversight,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> OverridePublic:
    """Someone covers a position for all or part of a shift."""
    override = admin.add_override(
        session,
        now=clock.now(),
        hotline=admin.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id),
        shift_id=shift_id,
        data=body,
        made_by=principal.user_id,
        actor=principal.actor(request_id),
    )
    return _override_public(override, admin.display_names(session, [override.user_id]))


@router.post(HOTLINE + "/shifts/{shift_id}/swap", status_code=201)
def swap_route(
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    shift_id: uuid.UUID,
    body: SwapCreate,
    principal: Oversight,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> list[OverridePublic]:
    """Two shifts exchange who holds a position."""
    rows = admin.swap_shifts(
        session,
        now=clock.now(),
        hotline=admin.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id),
        shift_id=shift_id,
        data=body,
        made_by=principal.user_id,
        actor=principal.actor(request_id),
    )
    names = admin.display_names(session, [r.user_id for r in rows])
    return [_override_public(r, names) for r in rows]


def _person(session: Session, user_id: uuid.UUID | None) -> DutyPerson | None:
    user = session.get(User, user_id) if user_id is not None else None
    return DutyPerson(user_id=user.id, display_name=user.display_name) if user else None


@router.get(HOTLINE + "/on-duty")
def on_duty_route(
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    _: Reader,
    session: SessionDep,
    clock: ClockDep,
    at: AwareDatetime | None = None,
) -> OnDutyPublic:
    """Who is primary and backup at an instant (now by default)."""
    hotline = admin.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id)
    instant = ensure_utc(at) if at is not None else clock.now()
    duty = on_duty(session, hotline_id=hotline.id, at=instant)
    return OnDutyPublic(
        at=instant, primary=_person(session, duty.primary), backup=_person(session, duty.backup)
    )


@router.get(HOTLINE + "/gaps")
def gaps_route(
    org_id: uuid.UUID, hotline_id: uuid.UUID, _: Oversight, session: SessionDep, clock: ClockDep
) -> list[GapPublic]:
    """Stretches of the next 14 days, outside office hours, without a primary or a backup."""
    hotline = admin.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id)
    return [
        GapPublic(starts_at=g.starts_at, ends_at=g.ends_at, missing=list(g.missing))
        for g in admin.rota_gaps(session, now=clock.now(), hotline=hotline)
    ]


# --- calendar feeds --------------------------------------------------------------------------


def _feed_url(request: Request, token: str) -> FeedUrl:
    base = str(request.app.state.settings.public_base_url).rstrip("/")
    return FeedUrl(url=base + admin.FEED_PATH.format(token=token))


@router.post(HOTLINE + "/calendar-feeds", status_code=201)
def create_hotline_feed_route(
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    request: Request,
    principal: Oversight,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> FeedUrl:
    """A private iCalendar link to the hotline's rota; the link is in this answer only."""
    hotline = admin.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id)
    token = admin.create_calendar_feed(
        session,
        now=clock.now(),
        organisation_id=org_id,
        hotline_id=hotline.id,
        actor=principal.actor(request_id),
    )
    return _feed_url(request, token)


@router.post("/organisations/{org_id}/duty-phones/me/calendar-feed", status_code=201)
def create_own_feed_route(
    org_id: uuid.UUID,
    request: Request,
    principal: DutyStaff,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> FeedUrl:
    """A private iCalendar link to one's own shifts; the link is in this answer only."""
    token = admin.create_calendar_feed(
        session,
        now=clock.now(),
        organisation_id=org_id,
        user_id=_user_id(principal),
        actor=principal.actor(request_id),
    )
    return _feed_url(request, token)


@router.get(
    admin.FEED_PATH,
    dependencies=[Signed],
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {}}, "description": "the feed"},
        403: {"description": "unknown or revoked link"},
    },
)
def calendar_feed_route(token: str, session: SessionDep, clock: ClockDep) -> Response:
    """An iCalendar feed; its unguessable link is the credential."""
    body = admin.calendar_feed(session, now=clock.now(), token=token)
    return Response(
        body,
        media_type="text/calendar",
        headers={"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"},
    )
