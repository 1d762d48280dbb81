"""Staff routes: hotlines, their closures, and duty phones (one's own, and the organisation's)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlmodel import SQLModel

from core import users
from core.deps import NowDep, SessionDep, SettingsDep
from core.errors import error_body
from hotline import service
from hotline.deps import DutyStaff, Oversight, Reader, own_user_id, roster_follows_changes
from hotline.models import (
    ClosureCreate,
    ClosurePublic,
    DutyPhonePublic,
    DutyPhoneSet,
    DutyPhoneVerify,
    Hotline,
    HotlineCreate,
    HotlinePublic,
    HotlineUpdate,
)

router = APIRouter(tags=["hotline"], dependencies=[Depends(roster_follows_changes)])

HOTLINE = "/organisations/{org_id}/hotlines/{hotline_id}"


class VerificationSent(SQLModel):
    verification: str


def _hotline_public(hotline: Hotline) -> HotlinePublic:
    return HotlinePublic.model_validate(hotline, from_attributes=True)


# --- hotlines ------------------------------------------------------------------------------------


@router.get("/organisations/{org_id}/hotlines")
def list_hotlines_route(org_id: uuid.UUID, _: Reader, session: SessionDep) -> list[HotlinePublic]:
    """The organisation's hotlines."""
    return [_hotline_public(h) for h in service.list_hotlines(session, organisation_id=org_id)]


@router.post("/organisations/{org_id}/hotlines", status_code=201)
def create_hotline_route(
    org_id: uuid.UUID, body: HotlineCreate, principal: Oversight, session: SessionDep, now: NowDep
) -> HotlinePublic:
    """Configure a hotline; its zone and holiday country default to the organisation's."""
    hotline = service.create_hotline(
        session,
        now=now,
        organisation=users.get_organisation(session, org_id),
        data=body,
        actor=principal.actor(),
    )
    return _hotline_public(hotline)


@router.get(HOTLINE)
def get_hotline_route(
    org_id: uuid.UUID, hotline_id: uuid.UUID, _: Reader, session: SessionDep
) -> HotlinePublic:
    """One hotline."""
    return _hotline_public(
        service.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id)
    )


@router.patch(HOTLINE)
def update_hotline_route(
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    body: HotlineUpdate,
    principal: Oversight,
    session: SessionDep,
    now: NowDep,
) -> HotlinePublic:
    """Change a hotline's configuration."""
    hotline = service.update_hotline(
        session,
        now=now,
        hotline=service.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id),
        data=body,
        actor=principal.actor(),
    )
    return _hotline_public(hotline)


# --- closures ------------------------------------------------------------------------------------


@router.get(HOTLINE + "/closures")
def list_closures_route(
    org_id: uuid.UUID, hotline_id: uuid.UUID, _: Oversight, session: SessionDep
) -> list[ClosurePublic]:
    """Days the office is closed beyond public holidays."""
    hotline = service.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id)
    return [
        ClosurePublic.model_validate(c, from_attributes=True)
        for c in service.list_closures(session, hotline=hotline)
    ]


@router.post(HOTLINE + "/closures", status_code=201)
def add_closure_route(
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    body: ClosureCreate,
    principal: Oversight,
    session: SessionDep,
    now: NowDep,
) -> ClosurePublic:
    """Close the office on a day: calls go to the duty ladder."""
    closure = service.add_closure(
        session,
        now=now,
        hotline=service.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id),
        data=body,
        user_id=principal.user_id,
        actor=principal.actor(),
    )
    return ClosurePublic.model_validate(closure, from_attributes=True)


@router.delete(HOTLINE + "/closures/{closure_id}", status_code=204)
def delete_closure_route(
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    closure_id: uuid.UUID,
    principal: Oversight,
    session: SessionDep,
    now: NowDep,
) -> None:
    """Reopen the office on a closed day."""
    service.delete_closure(
        session,
        now=now,
        hotline=service.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id),
        closure_id=closure_id,
        actor=principal.actor(),
    )


# --- duty phones ---------------------------------------------------------------------------------


@router.put("/organisations/{org_id}/duty-phones/me")
def set_duty_phone_route(
    org_id: uuid.UUID,
    body: DutyPhoneSet,
    principal: DutyStaff,
    session: SessionDep,
    now: NowDep,
    settings: SettingsDep,
) -> VerificationSent:
    """Set one's own duty mobile; it rings only once the code sent to it is confirmed."""
    code = service.set_duty_phone(
        session,
        now=now,
        organisation_id=org_id,
        user_id=own_user_id(principal),
        number=body.number,
        actor=principal.actor(),
    )
    service.send_duty_phone_code(
        session,
        now=now,
        organisation_id=org_id,
        number=body.number,
        code=code,
        sender=settings.twilio_sms_from,
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
    now: NowDep,
) -> DutyPhonePublic | JSONResponse:
    """Confirm the code sent to one's duty mobile."""
    user_id = own_user_id(principal)
    result = service.verify_duty_phone(
        session, now=now, user_id=user_id, code=body.code, actor=principal.actor()
    )
    if result is not service.Verification.VERIFIED:
        # Returned, not raised: the attempt count and its audit event must be committed.
        message = service.VERIFICATION_MESSAGES[result]
        return JSONResponse(error_body("invalid_input", message), status_code=422)
    phones = service.list_duty_phones(session, organisation_id=org_id)
    phone = next(p for p in phones if p.user_id == user_id)
    names = service.display_names(session, [user_id])
    return DutyPhonePublic(
        user_id=user_id, display_name=names.get(user_id, ""), number=phone.number, verified=True
    )


@router.get("/organisations/{org_id}/duty-phones")
def list_duty_phones_route(
    org_id: uuid.UUID, _: Oversight, session: SessionDep
) -> list[DutyPhonePublic]:
    """Every duty mobile of the organisation and whether it is confirmed."""
    phones = service.list_duty_phones(session, organisation_id=org_id)
    names = service.display_names(session, [p.user_id for p in phones])
    return [
        DutyPhonePublic(
            user_id=p.user_id,
            display_name=names.get(p.user_id, ""),
            number=p.number,
            verified=p.verified_at is not None,
        )
        for p in phones
    ]
