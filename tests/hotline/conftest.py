"""A hotline with a rota, duty phones and signed Twilio requests."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

import httpx2
import pytest
from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from core.models import Organisation, Role, User
from hotline.models import DutyPhone, Hotline, Shift
from hotline.routing import format_tags, number_tag, tag_key
from tests.conftest import TEST_SECRET, TWILIO_AUTH_TOKEN, World

BASE = "https://sigurna.example.org"
HOTLINE_NUMBER = "+442079460100"
OFFICE_LINE = "+442079460101"
LAST_RESORT = "+442079460199"
PRIMARY_PHONE = "+61491570011"
BACKUP_PHONE = "+61491570012"
SUPERVISOR_PHONE = "+61491570013"
CALLER = "+61491570156"  # fictional


@dataclass
class Line:
    organisation: Organisation
    hotline: Hotline
    primary: User
    backup: User
    supervisor: User


def add_phone(world: World, user: User, number: str, *, verified: bool = True) -> None:
    now = world.clock.now()
    world.db.add(
        DutyPhone(
            organisation_id=user.organisation_id,
            user_id=user.id,
            number=number,
            verified_at=now if verified else None,
            created_at=now,
        )
    )
    world.db.flush()


def make_line(world: World, *, shift_from: datetime, shift_until: datetime) -> Line:
    organisation = world.organisation()
    primary = world.user(organisation, Role.COUNSELOR, display_name="Primary Person")
    backup = world.user(organisation, Role.COUNSELOR, display_name="Backup Person")
    supervisor = world.user(organisation, Role.SUPERVISOR, display_name="Supervising Person")
    for user, number in (
        (primary, PRIMARY_PHONE),
        (backup, BACKUP_PHONE),
        (supervisor, SUPERVISOR_PHONE),
    ):
        add_phone(world, user, number)
    now = world.clock.now()
    hotline = Hotline(
        organisation_id=organisation.id,
        name="SOS line",
        twilio_number=HOTLINE_NUMBER,
        time_zone="Europe/Podgorica",
        holiday_country="ME",
        office_numbers=[OFFICE_LINE],
        last_resort_number=LAST_RESORT,
        created_at=now,
        updated_at=now,
    )
    world.db.add(hotline)
    world.db.flush()
    world.db.add(
        Shift(
            hotline_id=hotline.id,
            starts_at=shift_from,
            ends_at=shift_until,
            primary_user_id=primary.id,
            backup_user_id=backup.id,
            created_at=now,
        )
    )
    world.db.flush()
    return Line(organisation, hotline, primary, backup, supervisor)


@pytest.fixture
def line(world: World) -> Line:
    now = world.clock.now()
    return make_line(world, shift_from=now - timedelta(days=1), shift_until=now + timedelta(days=1))


def sign(
    path: str, params: dict[str, str], *, query: str = "", token: str = TWILIO_AUTH_TOKEN
) -> str:
    url = BASE + path + (f"?{query}" if query else "")
    return str(RequestValidator(token).compute_signature(url, params))


def twilio(
    client: TestClient,
    path: str,
    params: dict[str, str],
    *,
    query: str = "",
    signature: str | None = None,
) -> httpx2.Response:
    """POST as Twilio would: form-encoded, signed against the public URL."""
    sig = sign(path, params, query=query) if signature is None else signature
    target = path + (f"?{query}" if query else "")
    return client.post(
        target,
        content=urlencode(params),
        headers={"X-Twilio-Signature": sig, "Content-Type": "application/x-www-form-urlencoded"},
    )


def call_params(call_sid: str = "CA" + "1" * 32, **extra: str) -> dict[str, str]:
    params = {
        "CallSid": call_sid,
        "AccountSid": "AC" + "0" * 32,
        "From": CALLER,
        "To": HOTLINE_NUMBER,
        "CallStatus": "ringing",
        "Direction": "inbound",
    }
    params.update(extra)
    return params


TAG_KEY = tag_key(TEST_SECRET)


def tags(*numbers: str) -> str:
    """An action URL's `tried` parameter for these numbers."""
    return format_tags(number_tag(TAG_KEY, n) for n in numbers)


def action_query(xml: str) -> str:
    """The query of a TwiML answer's <Dial action>, as Twilio would call it back."""
    found = re.search(r'<Dial action="[^"?]+\?([^"]*)"', xml)
    if found is None:
        raise AssertionError("no <Dial action> in the answer")
    return html.unescape(found.group(1))


def dialled(xml: str) -> list[str]:
    return re.findall(r"<Number[^>]*>([^<]+)</Number>", xml)
