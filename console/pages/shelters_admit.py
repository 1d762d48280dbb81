"""The admission form: she enters the client, her children and their beds; before anything is
saved, the page shows the referral the admission will send (to which CSW, decided by when, with
what), by running the very admission the API would run inside a savepoint and rolling it back.

Mirrors POST /organisations/{org_id}/shelters/{shelter_id}/stays (WorkCtx); the client's consent
is then recorded on the admission's referrals as PUT .../referrals/{referral_id}/consent does
(its gate, `referrals.deps.sent`, admits everyone WorkCtx does for a referral she made).
"""

import re
import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from sqlmodel import col, select
from starlette.datastructures import FormData

from console.forms import Form, attempt, local_instant, parse, values
from console.pages.shelters_common import shelter_url, shelter_values
from console.render import N_, done_messages, page, redirect, view_of
from core.errors import AppError
from core.models import Organisation
from core.routing import Router
from referrals.deps import sent
from referrals.models import ConsentSet, Referral, ReferralPublic
from referrals.router import directory
from referrals.router import referrals as referrals_api
from shelters.deps import Gate, WorkCtx
from shelters.models import MAX_CHILDREN, AdmissionCreate, AdmissionPublic, BedState
from shelters.router import configuration, stays
from shelters.router.answers import AdmissionRefused

router = Router(include_in_schema=False)
ADMIT = "/o/{org_id}/shelters/{shelter_id}/admit"
CHILD_ROWS = 4
PERSON = ("name", "sex", "age", "bed_id")
CHILD_FIELD = re.compile(r"^children-(\d+)-(name|sex|age|bed_id)$")

done_messages(
    {
        "admitted": N_("The admission is saved and the referral is sent."),
        "admitted_split": N_(
            "The admission is saved and the referral is sent. The group could not be kept in "
            "one room: see the beds below."
        ),
    }
)


def _body(data: dict[str, Any], zone: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The admission's body and the consent's, from the form's flat fields."""
    client = {f: data[f"client-{f}"] for f in PERSON if f"client-{f}" in data}
    rows: dict[int, dict[str, Any]] = {}
    for key, value in data.items():
        found = CHILD_FIELD.match(key)
        if found:
            rows.setdefault(int(found[1]), {})[found[2]] = value
    # A row with only a bed chosen is still blank.
    children = [rows[i] for i in sorted(rows) if set(rows[i]) - {"bed_id"}]
    body: dict[str, Any] = {"client": client, "children": children}
    for name in ("channel", "municipality", "group", "contract_days", "call_id"):
        if name in data:
            body[name] = data[name]
    for name in ("at_distance", "use_soft_capacity"):
        body[name] = name in data
    admitted_at = local_instant(data.get("admitted_at"), zone)
    if admitted_at is not None:
        body["admitted_at"] = admitted_at
    scope = data.get("consent-scope", [])
    circumstances = data.get("consent-circumstances")
    consent: dict[str, Any] | None = None
    if scope or circumstances:
        consent = {"scope": scope}
        if circumstances:
            consent["circumstances"] = circumstances
    return body, consent


def _referrals(ctx: Gate, stay_id: uuid.UUID, consent: ConsentSet | None) -> list[ReferralPublic]:
    """The referrals the admission of `stay_id` made (StayAdmitted's handler in referrals), as
    their sender reads them (GET .../referrals/{id}, gate `sent`), with her consent recorded."""
    org_id = ctx.shelter.organisation_id
    ids = ctx.session.exec(
        select(Referral.id)
        .where(Referral.stay_id == stay_id, Referral.from_organisation_id == org_id)
        .order_by(col(Referral.team).desc())
    ).all()
    found: list[ReferralPublic] = []
    for referral_id in ids:
        held = sent(org_id, referral_id, ctx)
        if consent is not None:
            referrals_api.record_consent(consent, held)
        found.append(ReferralPublic.model_validate(referrals_api.read_sent(held)))
    return found


def _refused(result: JSONResponse) -> AdmissionRefused:
    return AdmissionRefused.model_validate_json(bytes(result.body))


def _form(
    request: Request, ctx: Gate, form: FormData | None, status: int = 200, **shown: Any
) -> Response:
    """The form (or its preview) with what she entered kept."""
    data = values(form, lists=("consent-scope",)) if form is not None else {}
    board = configuration.bed_board_route(ctx)
    organisation = ctx.session.get(Organisation, ctx.shelter.organisation_id)
    country = organisation.country_code if organisation else None
    municipalities = directory.list_municipalities(ctx, country)
    indexes = [int(m[1]) for k in data if (m := CHILD_FIELD.match(k))]
    rows = min(MAX_CHILDREN, max(CHILD_ROWS, max(indexes, default=-1) + 1))
    hidden = [
        (k, v)
        for k, v in (form.multi_items() if form is not None else [])
        if k not in ("csrf_token", "action") and isinstance(v, str) and v.strip()
    ]
    values_ = {
        "fields": data,
        "scopes": data.get("consent-scope", []),
        "rows": rows,
        "free_beds": [b for b in board.beds if b.state is BedState.FREE],
        "bed_labels": {b.bed_id: b.label for b in board.beds},
        "municipalities": municipalities,
        "hidden": hidden,
        "preview": None,
        "referrals": [],
        "refused": None,
        "message": None,
        "saved_refusal": False,
    }
    values_.update(shown)
    return page(
        view_of(request, ctx), "shelters/admit.html", status, **values_, **shelter_values(ctx)
    )


@router.get(ADMIT)
def admit_page(request: Request, ctx: WorkCtx) -> Response:
    """The blank admission form (free beds from GET .../board, municipalities from GET
    /municipalities, whose policy admits every role)."""
    return _form(request, ctx, None)


def _preview(
    request: Request, ctx: Gate, form: FormData, body: AdmissionCreate, consent: ConsentSet | None
) -> Response:
    """Run the admission in a savepoint, read what it made, undo it all."""
    with ctx.session.begin_nested() as nested:
        result = stays.admit_route(body, ctx)
        if isinstance(result, JSONResponse):
            nested.rollback()
            return _form(request, ctx, form, 409, refused=_refused(result))
        admitted = AdmissionPublic.model_validate(result)
        made = _referrals(ctx, admitted.id, consent)
        nested.rollback()
    return _form(request, ctx, form, preview=admitted, referrals=made)


def _save(ctx: Gate, body: AdmissionCreate, consent: ConsentSet | None) -> Response:
    """Admit (and record her consent on the referrals): to the stay page, or the API's refusal."""
    result = stays.admit_route(body, ctx)
    if isinstance(result, JSONResponse):
        return result
    admitted = AdmissionPublic.model_validate(result)
    if consent is not None:
        _referrals(ctx, admitted.id, consent)
    url = shelter_url(ctx.shelter.organisation_id, ctx.shelter.id) + f"/stays/{admitted.id}"
    return redirect(url, done="admitted_split" if admitted.split_across_rooms else "admitted")


@router.post(ADMIT)
def admit_form(request: Request, form: Form, ctx: WorkCtx) -> Response:
    """`action=preview`: the referral it will send, nothing kept; `action=save`: admit;
    `action=edit`: back to the form with what she entered."""
    action = form.get("action")
    if action == "edit":
        return _form(request, ctx, form)
    data = values(form, lists=("consent-scope",))
    try:
        raw, raw_consent = _body(data, view_of(request, ctx).formats.zone)
        body = parse(AdmissionCreate, raw)
        consent = parse(ConsentSet, raw_consent) if raw_consent is not None else None
        if action != "save":
            return _preview(request, ctx, form, body, consent)
        with attempt(ctx.session):
            answer = _save(ctx, body, consent)
    except AppError as exc:
        return _form(request, ctx, form, exc.status_code, message=exc.message)
    if isinstance(answer, JSONResponse):
        # Refused: the turn-away is recorded (an answer, not an error), with where else to go.
        return _form(request, ctx, form, 409, refused=_refused(answer), saved_refusal=True)
    return answer
