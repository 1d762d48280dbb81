"""Staff routes: hotlines, their closures, and duty phones (one's own, and the organisation's)."""

from __future__ import annotations

import uuid

from fastapi.responses import JSONResponse
from sqlmodel import SQLModel

from core import users
from core.context import Context
from core.deps import SettingsDep
from core.errors import error_body
from hotline import service
from hotline.deps import DutyStaffCtx, OversightCtx, ReaderCtx
from hotline.models import (
    ClosureCreate,
    ClosurePublic,
    DutyPhone,
    DutyPhonePublic,
    DutyPhoneSet,
    DutyPhoneVerify,
    Hotline,
    HotlineCreate,
    HotlinePublic,
    HotlineUpdate,
)
from hotline.router.common import HOTLINE, hotline_of, staff_router

router = staff_router()


class VerificationSent(SQLModel):
    verification: str


def _hotline_public(hotline: Hotline) -> HotlinePublic:
    return HotlinePublic.model_validate(hotline, from_attributes=True)


# --- hotlines ------------------------------------------------------------------------------------


@router.get("/organisations/{org_id}/hotlines")
def list_hotlines_route(org_id: uuid.UUID, ctx: ReaderCtx) -> list[HotlinePublic]:
    """The organisation's hotlines."""
    return [_hotline_public(h) for h in service.list_hotlines(ctx.session, organisation_id=org_id)]


@router.post("/organisations/{org_id}/hotlines", status_code=201)
def create_hotline_route(
    org_id: uuid.UUID, body: HotlineCreate, ctx: OversightCtx
) -> HotlinePublic:
    """Configure a hotline; its zone and holiday country default to the organisation's."""
    organisation = users.get_organisation(ctx.session, org_id)
    hotline = service.create_hotline(
        ctx.session, now=ctx.now, organisation=organisation, data=body, actor=ctx.actor
    )
    return _hotline_public(hotline)


@router.get(HOTLINE)
def get_hotline_route(org_id: uuid.UUID, hotline_id: uuid.UUID, ctx: ReaderCtx) -> HotlinePublic:
    """One hotline."""
    return _hotline_public(hotline_of(ctx, org_id, hotline_id))


@router.patch(HOTLINE)
def update_hotline_route(
    org_id: uuid.UUID, hotline_id: uuid.UUID, body: HotlineUpdate, ctx: OversightCtx
) -> HotlinePublic:
    """Change a hotline's configuration."""
    hotline = service.update_hotline(ctx.act, hotline_of(ctx, org_id, hotline_id), body)
    return _hotline_public(hotline)


# --- closures ------------------------------------------------------------------------------------


@router.get(HOTLINE + "/closures")
def list_closures_route(
    org_id: uuid.UUID, hotline_id: uuid.UUID, ctx: OversightCtx
) -> list[ClosurePublic]:
    """Days the office is closed beyond public holidays."""
    closures = service.list_closures(ctx.session, hotline=hotline_of(ctx, org_id, hotline_id))
    return [ClosurePublic.model_validate(c, from_attributes=True) for c in closures]


@router.post(HOTLINE + "/closures", status_code=201)
def add_closure_route(
    org_id: uuid.UUID, hotline_id: uuid.UUID, body: ClosureCreate, ctx: OversightCtx
) -> ClosurePublic:
    """Close the office on a day: calls go to the duty ladder."""
    closure = service.add_closure(ctx.act, hotline_of(ctx, org_id, hotline_id), body)
    return ClosurePublic.model_validate(closure, from_attributes=True)


@router.delete(HOTLINE + "/closures/{closure_id}", status_code=204)
def delete_closure_route(
    org_id: uuid.UUID, hotline_id: uuid.UUID, closure_id: uuid.UUID, ctx: OversightCtx
) -> None:
    """Reopen the office on a closed day."""
    hotline = hotline_of(ctx, org_id, hotline_id)
    service.delete_closure(
        ctx.session, now=ctx.now, hotline=hotline, closure_id=closure_id, actor=ctx.actor
    )


# --- duty phones ---------------------------------------------------------------------------------


@router.put("/organisations/{org_id}/duty-phones/me")
def set_duty_phone_route(
    org_id: uuid.UUID, body: DutyPhoneSet, ctx: DutyStaffCtx, settings: SettingsDep
) -> VerificationSent:
    """Set one's own duty mobile; it rings only once the code sent to it is confirmed."""
    code = service.set_duty_phone(
        ctx.session,
        now=ctx.now,
        organisation_id=org_id,
        user_id=ctx.user_id,
        number=body.number,
        actor=ctx.actor,
    )
    service.send_duty_phone_code(
        ctx.session,
        now=ctx.now,
        organisation_id=org_id,
        number=body.number,
        code=code,
        sender=settings.twilio_sms_from,
    )
    return VerificationSent(verification="sent")


@router.get(
    "/organisations/{org_id}/duty-phones/me",
    responses={404: {"description": "the caller has no duty phone yet"}},
)
def get_own_duty_phone_route(org_id: uuid.UUID, ctx: DutyStaffCtx) -> DutyPhonePublic:
    """One's own duty mobile and whether it is confirmed (404 while there is none)."""
    phone = service.own_duty_phone(ctx.session, organisation_id=org_id, user_id=ctx.user_id)
    return _duty_phones_public(ctx, [phone])[0]


@router.post(
    "/organisations/{org_id}/duty-phones/me/verify",
    response_model=DutyPhonePublic,
    responses={422: {"description": "wrong, expired or exhausted code"}},
)
def verify_duty_phone_route(
    org_id: uuid.UUID, body: DutyPhoneVerify, ctx: DutyStaffCtx
) -> DutyPhonePublic | JSONResponse:
    """Confirm the code sent to one's duty mobile."""
    result = service.verify_duty_phone(
        ctx.session, now=ctx.now, user_id=ctx.user_id, code=body.code, actor=ctx.actor
    )
    if result is not service.Verification.VERIFIED:
        # Returned, not raised: the attempt count and its audit event must be committed.
        message = service.VERIFICATION_MESSAGES[result]
        return JSONResponse(error_body("invalid_input", message), status_code=422)
    return next(p for p in _duty_phones(ctx, org_id) if p.user_id == ctx.user_id)


@router.get("/organisations/{org_id}/duty-phones")
def list_duty_phones_route(org_id: uuid.UUID, ctx: OversightCtx) -> list[DutyPhonePublic]:
    """Every duty mobile of the organisation and whether it is confirmed."""
    return _duty_phones(ctx, org_id)


def _duty_phones(ctx: Context, org_id: uuid.UUID) -> list[DutyPhonePublic]:
    """The organisation's duty mobiles with their owners' names, by name."""
    return _duty_phones_public(ctx, service.list_duty_phones(ctx.session, organisation_id=org_id))


def _duty_phones_public(ctx: Context, phones: list[DutyPhone]) -> list[DutyPhonePublic]:
    """Duty mobiles as the API answers them, with their owners' names."""
    names = service.display_names(ctx.session, [p.user_id for p in phones])
    return [
        DutyPhonePublic(
            user_id=p.user_id,
            display_name=names.get(p.user_id, ""),
            number=p.number,
            verified=p.verified_at is not None,
        )
        for p in phones
    ]
