"""Logs carry a request id and the route, never a body, a number, a name or an address."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from core.config import Settings
from core.logs import ConsoleFormatter, JsonFormatter
from core.models import Role
from core.passwords import make_hasher
from tests.conftest import World, act_as
from tests.hotline.conftest import Line, call_params, make_line, twilio

MARK_EMAIL = "zq-marker-person@example.org"
MARK_PASSWORD = "zq-marker-password-lantern-11"
MARK_NAME = "Zqmarker Personname"
MARK_CALLER = "+61491570154"


@pytest.fixture
def hotline(world: World) -> Line:
    now = world.clock.now()
    return make_line(world, shift_from=now - timedelta(days=1), shift_until=now + timedelta(days=1))


def _rendered(records: list[logging.LogRecord]) -> str:
    json_formatter, console = JsonFormatter(), ConsoleFormatter()
    parts = []
    for record in records:
        parts += [json_formatter.format(record), console.format(record), repr(record.__dict__)]
    return "\n".join(parts)


def test_nothing_personal_reaches_the_logs(
    client: TestClient,
    world: World,
    settings: Settings,
    hotline: Line,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    organisation = hotline.organisation
    world.user(
        organisation,
        Role.ADMIN,
        email=MARK_EMAIL,
        password_hash=make_hasher(settings).hash(MARK_PASSWORD),
    )
    client.post("/auth/login", json={"email": MARK_EMAIL, "password": "wrong-" + MARK_PASSWORD})
    client.post("/auth/login", json={"email": MARK_EMAIL, "password": MARK_PASSWORD})
    client.post(
        f"/organisations/{organisation.id}/users",
        json={"email": "other-" + MARK_EMAIL, "display_name": MARK_NAME, "roles": ["wizard"]},
    )
    client.post(
        f"/organisations/{organisation.id}/users",
        json={"email": "other-" + MARK_EMAIL, "display_name": MARK_NAME, "roles": ["counselor"]},
    )
    world.clock.set(datetime(2026, 3, 2, 20, 0, tzinfo=UTC))
    twilio(client, "/hotline/voice", call_params(From=MARK_CALLER))
    twilio(client, "/hotline/voice", call_params(From=MARK_CALLER), signature="forged")
    client.get("/organisations?email=" + MARK_EMAIL)

    # The test's own HTTP client logs what it sends; only the service's records matter here.
    served = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    text = _rendered(served)
    for marker in (MARK_EMAIL, MARK_PASSWORD, MARK_NAME, "Zqmarker", MARK_CALLER, MARK_CALLER[1:]):
        assert marker not in text
    requests = [r for r in caplog.records if r.name == "sigurna.request"]
    assert len(requests) == 7
    assert [r.__dict__["route"] for r in requests][-3:] == [
        "/hotline/voice",
        "/hotline/voice",
        "/organisations",
    ]
    assert all(len(str(r.__dict__.get("status"))) == 3 for r in requests)


def test_every_response_has_a_request_id(client: TestClient) -> None:
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/healthz").headers["x-request-id"]
    assert len(first) == 24
    assert first != second
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abcdef0123456789"}).headers["x-request-id"]
        == "abcdef0123456789"
    )
    assert (
        client.get("/healthz", headers={"X-Request-ID": "<script>"}).headers["x-request-id"]
        != "<script>"
    )


def test_json_lines_keep_only_allowed_fields() -> None:
    record = logging.LogRecord("sigurna.test", logging.INFO, __file__, 1, "hello", None, None)
    record.__dict__.update({"status": 200, "payload": "a body", "phone": MARK_CALLER})
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "hello"
    assert line["status"] == 200
    assert "payload" not in line
    assert "phone" not in line


def test_an_admins_responses_never_echo_what_was_refused(client: TestClient, world: World) -> None:
    organisation = world.organisation()
    act_as(client, world.login_cookie(world.user(organisation, Role.ADMIN)))
    response = client.post(
        f"/organisations/{organisation.id}/users",
        json={"email": MARK_EMAIL, "display_name": MARK_NAME, "roles": [MARK_NAME]},
    )
    assert response.status_code == 422
    assert MARK_NAME not in response.text
