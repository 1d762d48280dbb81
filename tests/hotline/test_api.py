"""The hotline staff API: hotlines, closures, duty phones, the rota, gaps and calendar feeds."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar as ICalendar
from sqlmodel import Session, col, func, select

from core.audit import AuditEvent
from core.clock import FrozenClock
from core.models import Organisation, Role, User
from hotline.models import (
    CalendarFeed,
    DutyPhone,
    Hotline,
    HotlineClosure,
    OverrideKind,
    Position,
    Shift,
    ShiftOverride,
)
from hotline.rota import nightly_shift_bounds
from notifications.models import OutboxMessage
from tests.conftest import World, act_as

PODGORICA = ZoneInfo("Europe/Podgorica")
LINE_NUMBER = "+442079460150"
OTHER_LINE_NUMBER = "+442079460151"
ANA_MOBILE = "+61491570011"
EVERY_DAY_8_TO_4 = {
    day: ["08:00-16:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


def local(text: str) -> datetime:
    """A Podgorica wall-clock time as a UTC instant."""
    return datetime.fromisoformat(text).replace(tzinfo=PODGORICA).astimezone(UTC)


def iso(value: datetime) -> str:
    """How the API writes an instant."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _count(db: Session, model: type[Any]) -> int:
    return int(db.exec(select(func.count()).select_from(model)).one())


def snapshot(db: Session) -> dict[str, int]:
    models: tuple[type[Any], ...] = (
        Hotline,
        HotlineClosure,
        DutyPhone,
        Shift,
        ShiftOverride,
        CalendarFeed,
        AuditEvent,
    )
    return {model.__name__: _count(db, model) for model in models}


def actions(db: Session, since: int) -> list[tuple[str, str | None]]:
    rows = db.exec(
        select(AuditEvent).where(col(AuditEvent.id) > since).order_by(col(AuditEvent.id))
    ).all()
    return [(e.action, e.subject_id) for e in rows]


def last_event_id(db: Session) -> int:
    return int(db.exec(select(func.coalesce(func.max(AuditEvent.id), 0))).one())


@dataclass
class Staff:
    organisation: Organisation
    admin: User
    supervisor: User
    ana: User
    boris: User
    vesna: User
    admin_only: User


@pytest.fixture
def staff(world: World) -> Staff:
    organisation = world.organisation(name="SOS Podgorica")
    return Staff(
        organisation=organisation,
        admin=world.user(organisation, Role.ADMIN, display_name="Admin Person"),
        supervisor=world.user(organisation, Role.SUPERVISOR, display_name="Sanja Supervisor"),
        ana=world.user(organisation, Role.COUNSELOR, display_name="Ana Counselor"),
        boris=world.user(organisation, Role.COUNSELOR, display_name="Boris Counselor"),
        vesna=world.user(organisation, Role.COUNSELOR, display_name="Vesna Counselor"),
        admin_only=world.user(organisation, Role.ADMIN, display_name="Other Admin"),
    )


def add_hotline(
    world: World,
    organisation: Organisation,
    *,
    number: str = LINE_NUMBER,
    name: str = "SOS line",
    office_hours: dict[str, list[str]] | None = None,
) -> Hotline:
    now = world.clock.now()
    hotline = Hotline(
        organisation_id=organisation.id,
        name=name,
        twilio_number=number,
        time_zone="Europe/Podgorica",
        holiday_country="ME",
        created_at=now,
        updated_at=now,
    )
    if office_hours is not None:
        hotline.office_hours = office_hours
    world.db.add(hotline)
    world.db.flush()
    return hotline


def add_shift(
    world: World,
    hotline: Hotline,
    starts_at: datetime,
    ends_at: datetime,
    primary: User,
    backup: User | None,
) -> Shift:
    shift = Shift(
        hotline_id=hotline.id,
        starts_at=starts_at,
        ends_at=ends_at,
        primary_user_id=primary.id,
        backup_user_id=backup.id if backup else None,
        created_at=world.clock.now(),
    )
    world.db.add(shift)
    world.db.flush()
    return shift


def login(client: TestClient, world: World, user: User) -> TestClient:
    return act_as(client, world.login_cookie(user))


def base(staff: Staff) -> str:
    return f"/organisations/{staff.organisation.id}"


# --- hotlines --------------------------------------------------------------------------------


def test_a_hotline_takes_its_zone_and_country_from_the_organisation(
    client: TestClient, world: World, db: Session
) -> None:
    organisation = world.organisation(country="RS", time_zone="Europe/Belgrade")
    admin = world.user(organisation, Role.ADMIN)
    counselor = world.user(organisation, Role.COUNSELOR)
    before = last_event_id(db)
    response = login(client, world, admin).post(
        f"/organisations/{organisation.id}/hotlines",
        json={"name": "  SOS   linija ", "twilio_number": "+44 20 7946 0150"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "SOS linija"
    assert body["twilio_number"] == LINE_NUMBER
    assert (body["time_zone"], body["holiday_country"]) == ("Europe/Belgrade", "RS")
    assert body["office_hours"] == {
        day: ["08:00-16:00"] for day in ("mon", "tue", "wed", "thu", "fri")
    }
    assert body["holiday_categories"] == ["public", "orthodox"]
    assert body["organisation_id"] == str(organisation.id)
    assert actions(db, before) == [("hotline.created", body["id"])]

    # Counselors may read the configuration, not change it.
    login(client, world, counselor)
    listed = client.get(f"/organisations/{organisation.id}/hotlines")
    assert [h["id"] for h in listed.json()] == [body["id"]]
    one = client.get(f"/organisations/{organisation.id}/hotlines/{body['id']}")
    assert one.json() == body
    refused = client.patch(
        f"/organisations/{organisation.id}/hotlines/{body['id']}", json={"name": "Renamed"}
    )
    assert refused.status_code == 403


def test_explicit_zone_and_country_win(client: TestClient, world: World, staff: Staff) -> None:
    response = login(client, world, staff.supervisor).post(
        f"{base(staff)}/hotlines",
        json={
            "name": "Linja SOS",
            "twilio_number": LINE_NUMBER,
            "time_zone": "Europe/Tirane",
            "holiday_country": "al",
            "office_hours": {"sat": ["10:00-12:00"]},
            "language": "sq",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["time_zone"], body["holiday_country"], body["language"]) == (
        "Europe/Tirane",
        "AL",
        "sq",
    )
    assert body["office_hours"] == {"sat": ["10:00-12:00"]}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 422, "name: Field required; twilio_number: Field required"),
        (
            {"name": "SOS", "twilio_number": "12"},
            422,
            "twilio_number: is not a phone number; write it as +61491570146",
        ),
        (
            {"name": "SOS", "twilio_number": LINE_NUMBER, "time_zone": "Mars/Olympus"},
            422,
            "time_zone: must be an IANA time zone such as Europe/Podgorica",
        ),
        (
            {"name": "SOS", "twilio_number": LINE_NUMBER, "office_hours": {"mon": ["16-08"]}},
            422,
            "office_hours: office_hours: write ranges as HH:MM-HH:MM, e.g. 08:00-16:00",
        ),
        (
            {"name": "SOS", "twilio_number": LINE_NUMBER, "colour": "red"},
            422,
            "colour: Extra inputs are not permitted",
        ),
        (
            {"name": "Second line", "twilio_number": "+44 20 7946 0151"},
            409,
            "twilio_number: another hotline already uses this number.",
        ),
    ],
)
def test_refused_hotlines_change_nothing(
    client: TestClient,
    world: World,
    db: Session,
    staff: Staff,
    body: dict[str, object],
    status: int,
    message: str,
) -> None:
    other = world.organisation()
    add_hotline(world, other, number=OTHER_LINE_NUMBER)
    before = snapshot(db)
    response = login(client, world, staff.admin).post(f"{base(staff)}/hotlines", json=body)
    assert response.status_code == status
    assert response.json()["message"] == message
    assert snapshot(db) == before


def test_updating_a_hotline(client: TestClient, world: World, db: Session, staff: Staff) -> None:
    hotline = add_hotline(world, staff.organisation)
    add_hotline(world, staff.organisation, number=OTHER_LINE_NUMBER, name="Other line")
    url = f"{base(staff)}/hotlines/{hotline.id}"
    login(client, world, staff.admin)
    before = last_event_id(db)
    response = client.patch(
        url,
        json={"name": "SOS line", "office_numbers": ["+442079460101"], "on_call_24h": True},
    )
    assert response.status_code == 200, response.text
    assert response.json()["office_numbers"] == ["+442079460101"]
    assert response.json()["on_call_24h"] is True
    # An unchanged field is not reported as a change.
    event = db.exec(select(AuditEvent).where(col(AuditEvent.id) > before)).one()
    assert (event.action, event.reason) == (
        "hotline.updated",
        "changed: office_numbers, on_call_24h",
    )

    unchanged = snapshot(db)
    for body, status, message in (
        ({}, 422, "Nothing to change: send at least one field of the hotline."),
        ({"name": None}, 422, "name: must not be null."),
        ({"twilio_number": OTHER_LINE_NUMBER}, 409, NUMBER_TAKEN),
        ({"holiday_categories": ["pagan"]}, 422, None),
    ):
        refused = client.patch(url, json=body)
        assert refused.status_code == status, body
        if message is not None:
            assert refused.json()["message"] == message
    assert snapshot(db) == unchanged
    assert client.patch(url, json={"last_resort_number": None}).status_code == 200


NUMBER_TAKEN = "twilio_number: another hotline already uses this number."


def test_another_organisations_hotline_is_not_found(
    client: TestClient, world: World, db: Session, staff: Staff
) -> None:
    other = world.organisation()
    theirs = add_hotline(world, other, number=OTHER_LINE_NUMBER)
    colleague = world.user(other, Role.COUNSELOR)
    shift = add_shift(
        world, theirs, world.clock.now(), world.clock.now() + timedelta(hours=8), colleague, None
    )
    mine = add_hotline(world, staff.organisation)
    before = snapshot(db)
    login(client, world, staff.admin)
    url = f"{base(staff)}/hotlines/{theirs.id}"
    now = world.clock.now()
    shift_body = {
        "starts_at": iso(now + timedelta(days=1)),
        "ends_at": iso(now + timedelta(days=1, hours=8)),
        "primary_user_id": str(staff.ana.id),
    }
    for method, path, body in (
        ("GET", url, None),
        ("PATCH", url, {"name": "Mine now"}),
        ("GET", url + "/closures", None),
        ("POST", url + "/closures", {"day": "2026-12-24", "reason": "Staff day"}),
        ("GET", url + "/shifts", None),
        ("POST", url + "/shifts", shift_body),
        ("DELETE", f"{url}/shifts/{shift.id}", None),
        ("GET", url + "/on-duty", None),
        ("GET", url + "/gaps", None),
        ("POST", url + "/calendar-feeds", None),
        # Their shift through my hotline is not found either.
        ("DELETE", f"{base(staff)}/hotlines/{mine.id}/shifts/{shift.id}", None),
    ):
        response = client.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json() == {"error": "not_found", "message": "Not found."}
    assert snapshot(db) == before


# --- closures --------------------------------------------------------------------------------


def test_closures_are_added_listed_and_removed(
    client: TestClient, world: World, db: Session, staff: Staff
) -> None:
    hotline = add_hotline(world, staff.organisation)
    url = f"{base(staff)}/hotlines/{hotline.id}/closures"
    login(client, world, staff.supervisor)
    before = last_event_id(db)
    created = client.post(url, json={"day": "2026-12-31", "reason": "Team training"})
    assert created.status_code == 201, created.text
    closure_id = created.json()["id"]
    assert created.json() == {"id": closure_id, "day": "2026-12-31", "reason": "Team training"}
    client.post(url, json={"day": "2026-12-24", "reason": "Staff day"})
    assert [c["day"] for c in client.get(url).json()] == ["2026-12-24", "2026-12-31"]

    unchanged = snapshot(db)
    duplicate = client.post(url, json={"day": "2026-12-31", "reason": "Again"})
    assert duplicate.status_code == 409
    assert duplicate.json()["message"] == "day: the hotline already has a closure on this day."
    assert client.post(url, json={"day": "someday", "reason": "Later"}).status_code == 422
    assert snapshot(db) == unchanged

    assert client.delete(f"{url}/{closure_id}").status_code == 204
    assert client.delete(f"{url}/{closure_id}").status_code == 404
    assert [c["day"] for c in client.get(url).json()] == ["2026-12-24"]
    assert [a for a, _ in actions(db, before)] == [
        "hotline.closure_added",
        "hotline.closure_added",
        "hotline.closure_removed",
    ]
    # Counselors do not manage closures.
    assert login(client, world, staff.ana).get(url).status_code == 403


# --- duty phones -----------------------------------------------------------------------------


class SentCodes:
    """The verification codes in the outbox, as (number, code), oldest first."""

    def __init__(self, db: Session) -> None:
        self._db = db

    def _all(self) -> list[tuple[str, str]]:
        rows = self._db.exec(select(OutboxMessage).order_by(col(OutboxMessage.created_at))).all()
        found = [(m.recipient, re.search(r"code is (\d{6})\.", m.body)) for m in rows]
        return [(number, match.group(1)) for number, match in found if match]

    def __getitem__(self, index: int) -> tuple[str, str]:
        return self._all()[index]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        return self._all() == other

    __hash__ = None  # type: ignore[assignment]


SMS_LINE = "+442079460160"


@pytest.fixture
def outbox(db: Session, world: World, staff: Staff) -> SentCodes:
    """Codes go out from one of the organisation's hotline numbers."""
    add_hotline(world, staff.organisation, number=SMS_LINE, name="Line for SMS")
    return SentCodes(db)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_a_counselor_sets_and_verifies_a_duty_phone(
    client: TestClient,
    world: World,
    db: Session,
    staff: Staff,
    clock: FrozenClock,
    outbox: SentCodes,
) -> None:
    login(client, world, staff.ana)
    before = last_event_id(db)
    response = client.put(f"{base(staff)}/duty-phones/me", json={"number": "+61 491 570 011"})
    assert response.status_code == 200, response.text
    assert response.json() == {"verification": "sent"}
    [(number, code)] = outbox
    assert number == ANA_MOBILE
    assert len(code) == 6
    assert code.isdigit()
    phone = db.exec(select(DutyPhone).where(DutyPhone.user_id == staff.ana.id)).one()
    assert phone.code_hash == hashlib.sha256(code.encode()).hexdigest()
    assert phone.code_expires_at == clock.now() + timedelta(minutes=10)
    assert (phone.number, phone.verified_at, phone.code_attempts) == (ANA_MOBILE, None, 0)

    listing = login(client, world, staff.supervisor).get(f"{base(staff)}/duty-phones")
    assert listing.json() == [
        {
            "user_id": str(staff.ana.id),
            "display_name": "Ana Counselor",
            "number": ANA_MOBILE,
            "verified": False,
        }
    ]

    login(client, world, staff.ana)
    clock.advance(timedelta(minutes=3))
    wrong = client.post(f"{base(staff)}/duty-phones/me/verify", json={"code": _wrong(code)})
    assert wrong.status_code == 422
    assert wrong.json() == {"error": "invalid_input", "message": "code: the code is wrong."}
    db.refresh(phone)
    assert (phone.code_attempts, phone.verified_at) == (1, None)

    right = client.post(f"{base(staff)}/duty-phones/me/verify", json={"code": code})
    assert right.status_code == 200, right.text
    assert right.json() == {
        "user_id": str(staff.ana.id),
        "display_name": "Ana Counselor",
        "number": ANA_MOBILE,
        "verified": True,
    }
    db.refresh(phone)
    assert phone.verified_at == clock.now()
    assert phone.code_hash is None
    assert actions(db, before) == [
        ("duty_phone.set", str(staff.ana.id)),
        ("duty_phone.verification_failed", str(staff.ana.id)),
        ("duty_phone.verified", str(staff.ana.id)),
    ]
    # The code is used up.
    again = client.post(f"{base(staff)}/duty-phones/me/verify", json={"code": code})
    assert again.status_code == 422
    assert again.json()["message"] == "No code is pending: set your duty phone number first."

    # A new number is unverified until its own code comes back.
    client.put(f"{base(staff)}/duty-phones/me", json={"number": "+61491570019"})
    db.refresh(phone)
    assert (phone.number, phone.verified_at) == ("+61491570019", None)
    assert _count(db, DutyPhone) == 1


def test_an_expired_code_is_refused(
    client: TestClient,
    world: World,
    db: Session,
    staff: Staff,
    clock: FrozenClock,
    outbox: SentCodes,
) -> None:
    login(client, world, staff.ana).put(
        f"{base(staff)}/duty-phones/me", json={"number": ANA_MOBILE}
    )
    [(_, code)] = outbox
    clock.advance(timedelta(minutes=10))
    response = login(client, world, staff.ana).post(
        f"{base(staff)}/duty-phones/me/verify", json={"code": code}
    )
    assert response.status_code == 422
    assert response.json()["message"] == "code: the code has expired, set the number again."
    phone = db.exec(select(DutyPhone).where(DutyPhone.user_id == staff.ana.id)).one()
    assert phone.verified_at is None


def test_five_wrong_codes_use_up_the_code(
    client: TestClient,
    world: World,
    db: Session,
    staff: Staff,
    outbox: SentCodes,
) -> None:
    login(client, world, staff.boris)
    url = f"{base(staff)}/duty-phones/me"
    client.put(url, json={"number": "+61491570012"})
    code = outbox[-1][1]
    for _ in range(5):
        wrong = client.post(url + "/verify", json={"code": _wrong(code)})
        assert wrong.json()["message"] == "code: the code is wrong."
    exhausted = client.post(url + "/verify", json={"code": code})
    assert exhausted.status_code == 422
    assert exhausted.json()["message"] == "code: too many attempts, set the number again."
    phone = db.exec(select(DutyPhone).where(DutyPhone.user_id == staff.boris.id)).one()
    assert (phone.code_attempts, phone.verified_at) == (5, None)

    client.put(url, json={"number": "+61491570012"})
    assert client.post(url + "/verify", json={"code": outbox[-1][1]}).status_code == 200


def test_refused_duty_phones_change_nothing(
    client: TestClient, world: World, db: Session, staff: Staff, outbox: SentCodes
) -> None:
    before = snapshot(db)
    url = f"{base(staff)}/duty-phones/me"
    login(client, world, staff.ana)
    landline = client.put(url, json={"number": "+442079460101"})
    assert landline.status_code == 422
    assert landline.json()["message"] == (
        "number: must be a mobile number (for trials use the fictional mobile range"
        " +61 491 570 000 to +61 491 570 999)"
    )
    assert client.put(url, json={"number": ANA_MOBILE, "verified": True}).status_code == 422
    assert client.post(url + "/verify", json={"code": "12345"}).status_code == 422
    # Admins configure; they do not stand duty.
    assert (
        login(client, world, staff.admin).put(url, json={"number": ANA_MOBILE}).status_code == 403
    )
    assert snapshot(db) == before
    assert outbox == []


# --- rota ------------------------------------------------------------------------------------


@pytest.fixture
def hotline(world: World, staff: Staff) -> Hotline:
    return add_hotline(world, staff.organisation)


def shifts_url(staff: Staff, hotline: Hotline) -> str:
    return f"{base(staff)}/hotlines/{hotline.id}/shifts"


def test_shifts_are_created_listed_and_deleted(
    client: TestClient, world: World, db: Session, staff: Staff, hotline: Hotline
) -> None:
    start, end = nightly_shift_bounds(date(2026, 3, 2), start=time(16), end=time(8), zone=PODGORICA)
    login(client, world, staff.supervisor)
    before = last_event_id(db)
    created = client.post(
        shifts_url(staff, hotline),
        json={
            "starts_at": "2026-03-02T16:00:00+01:00",
            "ends_at": "2026-03-03T08:00:00+01:00",
            "primary_user_id": str(staff.ana.id),
            "backup_user_id": str(staff.supervisor.id),
        },
    )
    assert created.status_code == 201, created.text
    shift_id = created.json()["id"]
    assert created.json() == {
        "id": shift_id,
        "hotline_id": str(hotline.id),
        "starts_at": iso(start),
        "ends_at": iso(end),
        "primary_user_id": str(staff.ana.id),
        "primary_name": "Ana Counselor",
        "backup_user_id": str(staff.supervisor.id),
        "backup_name": "Sanja Supervisor",
        "overrides": [],
    }
    assert iso(start) == "2026-03-02T15:00:00Z"
    # A shift that starts where the last one ends does not overlap it.
    follow = client.post(
        shifts_url(staff, hotline),
        json={
            "starts_at": iso(end),
            "ends_at": iso(end + timedelta(hours=8)),
            "primary_user_id": str(staff.boris.id),
        },
    )
    assert follow.status_code == 201, follow.text

    # Counselors read the rota; the window is [from, until).
    login(client, world, staff.ana)
    listed = client.get(shifts_url(staff, hotline))
    assert [s["id"] for s in listed.json()] == [shift_id, follow.json()["id"]]
    later = client.get(
        shifts_url(staff, hotline), params={"from": iso(end), "until": iso(end + timedelta(days=1))}
    )
    assert [s["id"] for s in later.json()] == [follow.json()["id"]]
    for params, message in (
        ({"from": "2026-03-02T10:00:00"}, "query.from: Input should have timezone info"),
        ({"until": iso(world.clock.now())}, "until: must be after from."),
    ):
        bad = client.get(shifts_url(staff, hotline), params=params)
        assert bad.status_code == 422
        assert bad.json()["message"] == message

    login(client, world, staff.admin)
    client.post(
        f"{shifts_url(staff, hotline)}/{shift_id}/overrides",
        json={"position": "primary", "user_id": str(staff.vesna.id), "reason": "Sick day"},
    )
    assert client.delete(f"{shifts_url(staff, hotline)}/{shift_id}").status_code == 204
    assert client.delete(f"{shifts_url(staff, hotline)}/{shift_id}").status_code == 404
    assert _count(db, ShiftOverride) == 0
    assert [a for a, _ in actions(db, before)] == [
        "shift.created",
        "shift.created",
        "shift.override",
        "shift.deleted",
    ]


def test_refused_shifts_change_nothing(
    client: TestClient, world: World, db: Session, staff: Staff, hotline: Hotline
) -> None:
    other = world.organisation()
    stranger = world.user(other, Role.COUNSELOR)
    retired = world.user(staff.organisation, Role.COUNSELOR)
    retired.disabled_at = world.clock.now()
    shelter = world.user(staff.organisation, Role.SHELTER_STAFF)
    world.db.add(retired)
    world.db.flush()
    existing_start = datetime(2026, 3, 5, 15, tzinfo=UTC)
    add_shift(world, hotline, existing_start, existing_start + timedelta(hours=16), staff.ana, None)
    start = datetime(2026, 3, 10, 15, tzinfo=UTC)

    def body(**changes: object) -> dict[str, object]:
        values: dict[str, object] = {
            "starts_at": iso(start),
            "ends_at": iso(start + timedelta(hours=16)),
            "primary_user_id": str(staff.ana.id),
            "backup_user_id": str(staff.boris.id),
        }
        values.update(changes)
        return values

    eligible = "must be an active counselor or supervisor of this organisation."
    cases: list[tuple[dict[str, object], int, str]] = [
        (body(ends_at=iso(start)), 422, "ends_at: a shift must end after it starts."),
        (
            body(ends_at=iso(start + timedelta(days=7, seconds=1))),
            422,
            "ends_at: a shift lasts at most 7 days.",
        ),
        (
            body(starts_at="2026-03-10T16:00:00"),
            422,
            "starts_at: Input should have timezone info",
        ),
        (body(primary_user_id=str(staff.admin_only.id)), 422, f"primary_user_id: {eligible}"),
        (body(primary_user_id=str(stranger.id)), 422, f"primary_user_id: {eligible}"),
        (body(primary_user_id=str(uuid.uuid4())), 422, f"primary_user_id: {eligible}"),
        (body(backup_user_id=str(retired.id)), 422, f"backup_user_id: {eligible}"),
        (body(backup_user_id=str(shelter.id)), 422, f"backup_user_id: {eligible}"),
        (
            body(backup_user_id=str(staff.ana.id)),
            422,
            "backup_user_id: the backup must be someone other than primary.",
        ),
        (
            body(
                starts_at=iso(existing_start + timedelta(hours=15)),
                ends_at=iso(existing_start + timedelta(hours=20)),
            ),
            409,
            "The shift overlaps another shift of this hotline.",
        ),
        (
            body(
                starts_at=iso(existing_start - timedelta(hours=1)),
                ends_at=iso(existing_start + timedelta(days=1)),
            ),
            409,
            "The shift overlaps another shift of this hotline.",
        ),
    ]
    before = snapshot(db)
    login(client, world, staff.admin)
    for payload, status, message in cases:
        response = client.post(shifts_url(staff, hotline), json=payload)
        assert response.status_code == status, (payload, response.text)
        assert response.json()["message"] == message
    assert snapshot(db) == before
    exactly_a_week = body(ends_at=iso(start + timedelta(days=7)))
    assert client.post(shifts_url(staff, hotline), json=exactly_a_week).status_code == 201


def test_a_cover_override_holds_its_position_exactly_for_its_interval(
    client: TestClient, world: World, db: Session, staff: Staff, hotline: Hotline
) -> None:
    start, end = nightly_shift_bounds(date(2026, 3, 2), start=time(16), end=time(8), zone=PODGORICA)
    shift = add_shift(world, hotline, start, end, staff.ana, staff.boris)
    cover_from, cover_until = local("2026-03-02T20:00"), local("2026-03-02T22:00")
    login(client, world, staff.supervisor)
    before = last_event_id(db)
    response = client.post(
        f"{shifts_url(staff, hotline)}/{shift.id}/overrides",
        json={
            "position": "primary",
            "user_id": str(staff.vesna.id),
            "starts_at": "2026-03-02T20:00:00+01:00",
            "ends_at": "2026-03-02T22:00:00+01:00",
            "reason": "Ana has a family matter",
        },
    )
    assert response.status_code == 201, response.text
    assert response.json() == {
        "id": response.json()["id"],
        "position": "primary",
        "user_id": str(staff.vesna.id),
        "user_name": "Vesna Counselor",
        "starts_at": "2026-03-02T19:00:00Z",
        "ends_at": "2026-03-02T21:00:00Z",
        "kind": "cover",
        "swap_group": None,
        "reason": "Ana has a family matter",
    }
    row = db.get(ShiftOverride, uuid.UUID(response.json()["id"]))
    assert row is not None
    assert row.made_by_user_id == staff.supervisor.id
    assert actions(db, before) == [("shift.override", str(shift.id))]

    login(client, world, staff.ana)
    url = f"{base(staff)}/hotlines/{hotline.id}/on-duty"
    ana = {"user_id": str(staff.ana.id), "display_name": "Ana Counselor"}
    vesna = {"user_id": str(staff.vesna.id), "display_name": "Vesna Counselor"}
    boris = {"user_id": str(staff.boris.id), "display_name": "Boris Counselor"}
    tick = timedelta(microseconds=1)
    for at, primary, backup in (
        (cover_from - tick, ana, boris),
        (cover_from, vesna, boris),
        (cover_until - tick, vesna, boris),
        (cover_until, ana, boris),
        (end - tick, ana, boris),
        (end, None, None),
    ):
        answer = client.get(url, params={"at": at.isoformat()})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"at": iso(at), "primary": primary, "backup": backup}, at
    # Without `at`, now: the clock is at 10:00 local, before the shift.
    assert client.get(url).json() == {"at": iso(world.clock.now()), "primary": None, "backup": None}
    assert client.get(url, params={"at": "2026-03-02T20:00:00"}).status_code == 422


def test_refused_overrides_change_nothing(
    client: TestClient, world: World, db: Session, staff: Staff, hotline: Hotline
) -> None:
    start, end = local("2026-03-02T16:00"), local("2026-03-03T08:00")
    shift = add_shift(world, hotline, start, end, staff.ana, staff.boris)
    url = f"{shifts_url(staff, hotline)}/{shift.id}/overrides"
    before = snapshot(db)
    login(client, world, staff.admin)
    for payload, status, message in (
        (
            {"starts_at": iso(start - timedelta(minutes=1))},
            422,
            "starts_at: a cover must lie within its shift.",
        ),
        (
            {"ends_at": iso(end + timedelta(minutes=1))},
            422,
            "starts_at: a cover must lie within its shift.",
        ),
        ({"ends_at": iso(start)}, 422, "ends_at: a cover must end after it starts."),
        (
            {"user_id": str(staff.admin_only.id)},
            422,
            "user_id: must be an active counselor or supervisor of this organisation.",
        ),
        ({"reason": "x"}, 422, "reason: String should have at least 3 characters"),
    ):
        body = {"position": "primary", "user_id": str(staff.vesna.id), "reason": "Sick day"}
        body.update(payload)
        response = client.post(url, json=body)
        assert response.status_code == status, payload
        assert response.json()["message"] == message
    missing = f"{shifts_url(staff, hotline)}/{uuid.uuid4()}/overrides"
    assert (
        client.post(
            missing, json={"position": "primary", "user_id": str(staff.vesna.id), "reason": "Sick"}
        ).status_code
        == 404
    )
    assert snapshot(db) == before


def test_two_shifts_swap_their_primaries(
    client: TestClient, world: World, db: Session, staff: Staff, hotline: Hotline
) -> None:
    first = add_shift(
        world, hotline, local("2026-03-02T16:00"), local("2026-03-03T08:00"), staff.ana, staff.boris
    )
    second = add_shift(
        world,
        hotline,
        local("2026-03-03T16:00"),
        local("2026-03-04T08:00"),
        staff.vesna,
        staff.boris,
    )
    login(client, world, staff.supervisor)
    before = last_event_id(db)
    response = client.post(
        f"{shifts_url(staff, hotline)}/{first.id}/swap",
        json={"other_shift_id": str(second.id), "reason": "Exam on Monday"},
    )
    assert response.status_code == 201, response.text
    rows = response.json()
    assert [(r["user_id"], r["kind"], r["position"]) for r in rows] == [
        (str(staff.vesna.id), "swap", "primary"),
        (str(staff.ana.id), "swap", "primary"),
    ]
    assert rows[0]["swap_group"] == rows[1]["swap_group"] is not None
    assert (rows[0]["starts_at"], rows[0]["ends_at"]) == (iso(first.starts_at), iso(first.ends_at))
    assert (rows[1]["starts_at"], rows[1]["ends_at"]) == (
        iso(second.starts_at),
        iso(second.ends_at),
    )
    assert actions(db, before) == [("shift.swap", str(first.id)), ("shift.swap", str(second.id))]

    url = f"{base(staff)}/hotlines/{hotline.id}/on-duty"
    first_night = client.get(url, params={"at": iso(local("2026-03-02T23:00"))}).json()
    second_night = client.get(url, params={"at": iso(local("2026-03-03T23:00"))}).json()
    assert (first_night["primary"]["user_id"], first_night["backup"]["user_id"]) == (
        str(staff.vesna.id),
        str(staff.boris.id),
    )
    assert second_night["primary"]["user_id"] == str(staff.ana.id)

    # Swapping back restores the original rota (the newest override wins).
    back = client.post(
        f"{shifts_url(staff, hotline)}/{second.id}/swap",
        json={"other_shift_id": str(first.id), "reason": "Exam moved"},
    )
    assert back.status_code == 201, back.text
    assert client.get(url, params={"at": iso(local("2026-03-02T23:00"))}).json()["primary"][
        "user_id"
    ] == str(staff.ana.id)


def test_refused_swaps_change_nothing(
    client: TestClient, world: World, db: Session, staff: Staff, hotline: Hotline
) -> None:
    first = add_shift(
        world, hotline, local("2026-03-02T16:00"), local("2026-03-03T08:00"), staff.ana, staff.boris
    )
    # Boris is backup in the first shift: he cannot also become its primary.
    second = add_shift(
        world, hotline, local("2026-03-03T16:00"), local("2026-03-04T08:00"), staff.boris, None
    )
    same = add_shift(
        world, hotline, local("2026-03-04T16:00"), local("2026-03-05T08:00"), staff.ana, None
    )
    other = world.organisation()
    their_line = add_hotline(world, other, number=OTHER_LINE_NUMBER)
    theirs = add_shift(
        world,
        their_line,
        local("2026-03-02T16:00"),
        local("2026-03-03T08:00"),
        world.user(other, Role.COUNSELOR),
        None,
    )
    url = f"{shifts_url(staff, hotline)}/{first.id}/swap"
    before = snapshot(db)
    login(client, world, staff.admin)
    for payload, status, message in (
        (
            {"other_shift_id": str(second.id)},
            422,
            "position: the swap would give one person both positions of a shift.",
        ),
        (
            {"other_shift_id": str(second.id), "position": "backup"},
            422,
            "position: both shifts must have someone in this position.",
        ),
        (
            {"other_shift_id": str(same.id)},
            422,
            "other_shift_id: the same person holds this position in both shifts.",
        ),
        (
            {"other_shift_id": str(first.id)},
            422,
            "other_shift_id: a shift cannot swap with itself.",
        ),
        ({"other_shift_id": str(theirs.id)}, 404, "Not found."),
        ({"other_shift_id": str(uuid.uuid4())}, 404, "Not found."),
    ):
        response = client.post(url, json={**payload, "reason": "Because"})
        assert response.status_code == status, payload
        assert response.json()["message"] == message
    assert snapshot(db) == before


# --- gaps ------------------------------------------------------------------------------------


def _nightly_rota(
    world: World, hotline: Hotline, staff: Staff, first: date, last: date, *, skip: set[date]
) -> None:
    day = first
    while day <= last:
        if day not in skip:
            start, end = nightly_shift_bounds(day, start=time(16), end=time(8), zone=PODGORICA)
            add_shift(world, hotline, start, end, staff.ana, staff.boris)
        day += timedelta(days=1)


def test_gaps_across_the_spring_clock_change(
    client: TestClient, world: World, staff: Staff, clock: FrozenClock
) -> None:
    # Saturday 20 March 2027, 10:00 in Podgorica; the clocks go forward on Sunday 28 March.
    clock.set(datetime(2027, 3, 20, 9, tzinfo=UTC))
    hotline = add_hotline(world, staff.organisation, office_hours=EVERY_DAY_8_TO_4)
    missing_night = date(2027, 3, 27)
    _nightly_rota(world, hotline, staff, date(2027, 3, 19), date(2027, 4, 2), skip={missing_night})
    response = login(client, world, staff.supervisor).get(
        f"{base(staff)}/hotlines/{hotline.id}/gaps"
    )
    assert response.status_code == 200, response.text
    # 16:00 CET on the 27th to 08:00 CEST on the 28th: 15 hours, not 16.
    assert response.json() == [
        {
            "starts_at": "2027-03-27T15:00:00Z",
            "ends_at": "2027-03-28T06:00:00Z",
            "missing": ["primary", "backup"],
        }
    ]
    # Counselors do not see gaps.
    assert (
        login(client, world, staff.ana).get(f"{base(staff)}/hotlines/{hotline.id}/gaps").status_code
        == 403
    )


def test_gaps_name_the_missing_position_and_closed_days(
    client: TestClient, world: World, staff: Staff, clock: FrozenClock
) -> None:
    clock.set(datetime(2027, 3, 20, 9, tzinfo=UTC))
    hotline = add_hotline(world, staff.organisation, office_hours=EVERY_DAY_8_TO_4)
    no_backup = date(2027, 3, 22)
    _nightly_rota(world, hotline, staff, date(2027, 3, 19), date(2027, 4, 2), skip={no_backup})
    start, end = nightly_shift_bounds(no_backup, start=time(16), end=time(8), zone=PODGORICA)
    add_shift(world, hotline, start, end, staff.vesna, None)
    world.db.add(
        HotlineClosure(
            hotline_id=hotline.id,
            day=date(2027, 3, 24),
            reason="Team training",
            created_at=clock.now(),
        )
    )
    # The backup leaves for two hours of an otherwise covered night; the cover ends the gap.
    night = nightly_shift_bounds(date(2027, 3, 30), start=time(16), end=time(8), zone=PODGORICA)
    shift = world.db.exec(select(Shift).where(Shift.starts_at == night[0])).one()
    world.db.add(
        ShiftOverride(
            shift_id=shift.id,
            position=Position.BACKUP,
            user_id=staff.ana.id,
            starts_at=local("2027-03-30T22:00"),
            ends_at=local("2027-03-31T00:00"),
            kind=OverrideKind.COVER,
            reason="Ana covers Boris",
            created_at=clock.now(),
        )
    )
    world.db.flush()
    response = login(client, world, staff.admin).get(f"{base(staff)}/hotlines/{hotline.id}/gaps")
    assert response.json() == [
        {
            "starts_at": "2027-03-22T15:00:00Z",
            "ends_at": "2027-03-23T07:00:00Z",
            "missing": ["backup"],
        },
        {
            "starts_at": "2027-03-24T07:00:00Z",
            "ends_at": "2027-03-24T15:00:00Z",
            "missing": ["primary", "backup"],
        },
        # Ana as backup of her own primary shift leaves the backup position empty.
        {
            "starts_at": "2027-03-30T20:00:00Z",
            "ends_at": "2027-03-30T22:00:00Z",
            "missing": ["backup"],
        },
    ]


# --- calendar feeds --------------------------------------------------------------------------


def _token(url: str) -> str:
    prefix, suffix = "https://sigurna.example.org/hotline/calendar/", ".ics"
    assert url.startswith(prefix)
    assert url.endswith(suffix)
    return url[len(prefix) : -len(suffix)]


def _events(body: bytes) -> list[tuple[str, datetime, datetime, str]]:
    calendar = ICalendar.from_ical(body)
    return [
        (
            str(event["UID"]),
            event.decoded("DTSTART"),
            event.decoded("DTEND"),
            str(event["SUMMARY"]),
        )
        for event in calendar.walk("VEVENT")
    ]


def test_the_hotline_feed_lists_its_shifts(
    client: TestClient, world: World, db: Session, staff: Staff, hotline: Hotline
) -> None:
    now = world.clock.now()
    first = add_shift(
        world, hotline, local("2026-03-02T16:00"), local("2026-03-03T08:00"), staff.ana, staff.boris
    )
    second = add_shift(
        world, hotline, local("2026-03-03T16:00"), local("2026-03-04T08:00"), staff.vesna, None
    )
    add_shift(world, hotline, now - timedelta(days=40), now - timedelta(days=39), staff.ana, None)
    add_shift(world, hotline, now + timedelta(days=91), now + timedelta(days=92), staff.ana, None)
    # A whole-shift cover shows in the feed; a partial one does not change the shift's line.
    world.db.add(
        ShiftOverride(
            shift_id=second.id,
            position=Position.BACKUP,
            user_id=staff.boris.id,
            starts_at=second.starts_at,
            ends_at=second.ends_at,
            kind=OverrideKind.COVER,
            reason="Boris helps",
            created_at=now,
        )
    )
    world.db.flush()
    login(client, world, staff.supervisor)
    before = last_event_id(db)
    created = client.post(f"{base(staff)}/hotlines/{hotline.id}/calendar-feeds")
    assert created.status_code == 201, created.text
    token = _token(created.json()["url"])
    feed = db.exec(select(CalendarFeed)).one()
    assert feed.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert (feed.hotline_id, feed.user_id) == (hotline.id, None)
    assert actions(db, before) == [("calendar_feed.created", str(feed.id))]

    act_as(client, None)
    response = client.get(f"/hotline/calendar/{token}.ics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    assert _events(response.content) == [
        (
            f"shift-{first.id}@sigurna",
            datetime(2026, 3, 2, 15, tzinfo=UTC),
            datetime(2026, 3, 3, 7, tzinfo=UTC),
            "Duty: primary Ana Counselor, backup Boris Counselor",
        ),
        (
            f"shift-{second.id}@sigurna",
            datetime(2026, 3, 3, 15, tzinfo=UTC),
            datetime(2026, 3, 4, 7, tzinfo=UTC),
            "Duty: primary Vesna Counselor, backup Boris Counselor",
        ),
    ]
    # The same link answers the same UIDs tomorrow.
    again = client.get(f"/hotline/calendar/{token}.ics")
    assert [e[0] for e in _events(again.content)] == [e[0] for e in _events(response.content)]
    assert b"+44" not in response.content
    assert b"+61" not in response.content

    feed.revoked_at = now
    db.add(feed)
    db.flush()
    revoked = client.get(f"/hotline/calendar/{token}.ics")
    assert revoked.status_code == 403
    assert revoked.json() == {
        "error": "forbidden",
        "message": "This calendar link is unknown or has been revoked.",
    }
    unknown = client.get("/hotline/calendar/not-a-real-token.ics")
    assert unknown.status_code == 403
    assert unknown.json()["error"] == "forbidden"


def test_a_counselors_own_feed(
    client: TestClient, world: World, db: Session, staff: Staff, hotline: Hotline
) -> None:
    second_line = add_hotline(world, staff.organisation, number=OTHER_LINE_NUMBER, name="Line 2")
    as_primary = add_shift(
        world, hotline, local("2026-03-02T16:00"), local("2026-03-03T08:00"), staff.ana, staff.boris
    )
    as_backup = add_shift(
        world,
        second_line,
        local("2026-03-02T16:00"),
        local("2026-03-03T08:00"),
        staff.vesna,
        staff.ana,
    )
    swapped_away = add_shift(
        world, hotline, local("2026-03-03T16:00"), local("2026-03-04T08:00"), staff.ana, None
    )
    add_shift(
        world, hotline, local("2026-03-04T16:00"), local("2026-03-05T08:00"), staff.boris, None
    )
    world.db.add(
        ShiftOverride(
            shift_id=swapped_away.id,
            position=Position.PRIMARY,
            user_id=staff.vesna.id,
            starts_at=swapped_away.starts_at,
            ends_at=swapped_away.ends_at,
            kind=OverrideKind.COVER,
            reason="Vesna takes it",
            created_at=world.clock.now(),
        )
    )
    world.db.flush()
    assert (
        login(client, world, staff.admin)
        .post(f"{base(staff)}/duty-phones/me/calendar-feed")
        .status_code
        == 403
    )
    created = login(client, world, staff.ana).post(f"{base(staff)}/duty-phones/me/calendar-feed")
    assert created.status_code == 201, created.text
    token = _token(created.json()["url"])
    feed = db.exec(select(CalendarFeed)).one()
    assert (feed.hotline_id, feed.user_id) == (None, staff.ana.id)

    act_as(client, None)
    response = client.get(f"/hotline/calendar/{token}.ics")
    assert response.status_code == 200, response.text
    assert sorted(_events(response.content)) == sorted(
        [
            (
                f"shift-{as_primary.id}@sigurna",
                datetime(2026, 3, 2, 15, tzinfo=UTC),
                datetime(2026, 3, 3, 7, tzinfo=UTC),
                "Duty: primary on SOS line",
            ),
            (
                f"shift-{as_backup.id}@sigurna",
                datetime(2026, 3, 2, 15, tzinfo=UTC),
                datetime(2026, 3, 3, 7, tzinfo=UTC),
                "Duty: backup on Line 2",
            ),
        ]
    )
    # A disabled account's feed stops at once.
    staff.ana.disabled_at = world.clock.now()
    db.add(staff.ana)
    db.flush()
    assert client.get(f"/hotline/calendar/{token}.ics").status_code == 403


def test_the_code_is_sent_by_sms_from_a_hotline_number(
    client: TestClient, world: World, db: Session, staff: Staff, outbox: SentCodes
) -> None:
    url = f"/organisations/{staff.organisation.id}/duty-phones/me"
    assert (
        login(client, world, staff.ana).put(url, json={"number": "+61491570021"}).status_code == 200
    )
    message = db.exec(select(OutboxMessage)).one()
    [(number, code)] = outbox
    assert number == message.recipient == "+61491570021"
    assert message.sender == SMS_LINE
    assert message.body == f"Sigurna: your duty phone code is {code}. It expires in 10 minutes."


def test_no_code_can_be_sent_without_a_number_to_send_it_from(
    client: TestClient, world: World, db: Session, staff: Staff
) -> None:
    url = f"/organisations/{staff.organisation.id}/duty-phones/me"
    response = login(client, world, staff.ana).put(url, json={"number": "+61491570021"})
    assert response.status_code == 409
    assert "no number to send the code from" in response.json()["message"]
    assert db.exec(select(func.count()).select_from(OutboxMessage)).one() == 0
    assert db.exec(select(func.count()).select_from(DutyPhone)).one() == 0


def test_a_new_link_shuts_the_old_one(
    client: TestClient, world: World, db: Session, staff: Staff, hotline: Hotline
) -> None:
    url = f"{base(staff)}/hotlines/{hotline.id}/calendar-feeds"
    first = _token(login(client, world, staff.supervisor).post(url).json()["url"])
    personal = _token(
        login(client, world, staff.ana)
        .post(f"{base(staff)}/duty-phones/me/calendar-feed")
        .json()["url"]
    )
    second = _token(login(client, world, staff.supervisor).post(url).json()["url"])
    act_as(client, None)
    assert client.get(f"/hotline/calendar/{first}.ics").status_code == 403
    assert client.get(f"/hotline/calendar/{second}.ics").status_code == 200
    # Another subject's link is untouched.
    assert client.get(f"/hotline/calendar/{personal}.ics").status_code == 200
    reasons = db.exec(
        select(AuditEvent.reason)
        .where(AuditEvent.action == "calendar_feed.created")
        .order_by(col(AuditEvent.id))
    ).all()
    assert reasons == ["hotline feed", "personal feed", "hotline feed; 1 earlier link(s) revoked"]
