"""One error shape, a request id and protective headers on every answer, and logs that hold
nothing a caller sent: no e-mail address, password, name, token or body."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.auth import SESSION_COOKIE
from core.config import Settings
from core.logs import ALLOWED_EXTRA, ConsoleFormatter, JsonFormatter
from core.models import Role
from core.passwords import make_hasher
from tests.conftest import World, act_as

GENERATED_ID = re.compile(r"^[0-9a-f]{24}$")

MARK_LOGIN_EMAIL = "marker-zq81-personal@example.org"
MARK_PASSWORD = "MARKER-Zq81-pass-lantern-harbour"
MARK_INVALID = "MARKER-Zq81-invalid@example.org"
MARK_NEW_EMAIL = "marker-zq81-newperson@example.org"
MARK_NAME = "Markerzq Personname"


# --- the error shape -----------------------------------------------------------------------------


def test_an_unknown_route_answers_404_in_the_error_shape(client: TestClient) -> None:
    response = client.get("/no-such-route")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "not_found", "message": "Not Found"}


def test_a_wrong_method_answers_405_in_the_error_shape(client: TestClient) -> None:
    response = client.delete("/healthz")
    assert response.status_code == 405
    assert response.json() == {"error": "method_not_allowed", "message": "Method Not Allowed"}
    assert "GET" in [m.strip() for m in response.headers["allow"].split(",")]


def test_a_body_that_is_not_json_answers_422(client: TestClient) -> None:
    response = client.post(
        "/auth/login",
        content=b'{"email": "a@example.org", "password": ',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json() == {
        "error": "invalid_input",
        "message": "the request body is not valid JSON",
    }


def test_a_body_that_is_not_an_object_answers_422(client: TestClient) -> None:
    response = client.post("/auth/login", json=["a@example.org", "pw"])
    assert response.status_code == 422
    assert response.json() == {
        "error": "invalid_input",
        "message": "the request body must be a JSON object (Content-Type: application/json)",
    }


def test_invalid_input_is_described_without_echoing_it(client: TestClient) -> None:
    response = client.post("/auth/login", json={"email": MARK_INVALID, "password": 5})
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"error", "message"}
    assert body["error"] == "invalid_input"
    assert body["message"].startswith("password: ")
    assert MARK_INVALID not in response.text
    assert MARK_INVALID.lower() not in response.text.lower()
    assert "Zq81" not in response.text


def test_an_unknown_field_is_named_but_its_value_is_not_echoed(client: TestClient) -> None:
    response = client.post(
        "/auth/login",
        json={"email": "a@example.org", "password": "pw", "remember": MARK_INVALID},
    )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_input"
    assert "remember" in response.json()["message"]
    assert "Zq81" not in response.text


class FormatAtEmit(logging.Handler):
    """Formats each record as it is emitted, as the service's own handler does: the request id
    is read from the context at that moment."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def emitted() -> Iterator[FormatAtEmit]:
    handler = FormatAtEmit()
    logger = logging.getLogger("sigurna")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def _exploding_client(app: FastAPI) -> TestClient:
    def explode() -> None:
        raise RuntimeError(f"database said: {MARK_INVALID}")

    app.add_api_route("/test-explode", explode)
    return TestClient(app, base_url="https://testserver", raise_server_exceptions=False)


def test_an_unexpected_error_answers_500_and_logs_only_its_type(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with _exploding_client(app) as client:
        response = client.get("/test-explode")
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "message": "An unexpected error occurred; it has been logged.",
    }
    assert "Zq81" not in response.text
    errors = [r for r in caplog.records if r.name == "sigurna.errors"]
    assert [(r.getMessage(), r.__dict__["error_type"]) for r in errors] == [
        ("unhandled error", "RuntimeError")
    ]
    assert "Zq81" not in _rendered(errors)
    requests = [r for r in caplog.records if r.name == "sigurna.request"]
    assert [(r.__dict__["route"], r.__dict__["status"]) for r in requests] == [
        ("/test-explode", 500)
    ]


def test_a_500_answer_carries_the_request_id_and_the_security_headers(app: FastAPI) -> None:
    with _exploding_client(app) as client:
        response = client.get("/test-explode", headers={"X-Request-ID": "abcdef0123456789"})
    assert response.status_code == 500
    assert response.headers.get("x-request-id") == "abcdef0123456789"
    assert response.headers.get("cache-control") == "no-store"
    assert response.headers.get("x-content-type-options") == "nosniff"


def test_the_request_line_carries_the_request_id(client: TestClient, emitted: FormatAtEmit) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "abcdef0123456789"})
    assert response.status_code == 200
    assert [line["request_id"] for line in emitted.lines if line["msg"] == "request"] == [
        "abcdef0123456789"
    ]


def test_the_unhandled_error_line_carries_the_request_id(
    app: FastAPI, emitted: FormatAtEmit
) -> None:
    # Without it, an operator cannot tell which request failed.
    with _exploding_client(app) as client:
        client.get("/test-explode", headers={"X-Request-ID": "abcdef0123456789"})
    errors = [line for line in emitted.lines if line["msg"] == "unhandled error"]
    assert len(errors) == 1
    assert errors[0]["error_type"] == "RuntimeError"
    assert errors[0].get("request_id") == "abcdef0123456789"


# --- request id and headers ----------------------------------------------------------------------


def test_every_response_carries_a_generated_request_id(client: TestClient) -> None:
    ids = [
        client.get("/healthz").headers["x-request-id"],
        client.get("/healthz").headers["x-request-id"],
        client.get("/no-such-route").headers["x-request-id"],
        client.delete("/healthz").headers["x-request-id"],
    ]
    assert all(GENERATED_ID.match(request_id) for request_id in ids)
    assert len(set(ids)) == 4


@pytest.mark.parametrize("incoming", ["abcdef0123456789", "a.b_c-d9", "x" * 64])
def test_a_valid_incoming_request_id_is_echoed(client: TestClient, incoming: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": incoming})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == incoming


@pytest.mark.parametrize(
    "incoming", ["<script>", "short7!", "abc1234", "x" * 65, "abcdef01 23456789", "abc/def/ghi"]
)
def test_an_invalid_incoming_request_id_is_replaced(client: TestClient, incoming: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": incoming})
    assert response.status_code == 200
    assert response.headers["x-request-id"] != incoming
    assert GENERATED_ID.match(response.headers["x-request-id"])
    assert incoming not in response.text


@pytest.mark.parametrize(("method", "path"), [("GET", "/healthz"), ("GET", "/nowhere")])
def test_security_headers_are_present(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    # Each once: a route's own header is not doubled by the middleware's.
    for name in ("cache-control", "x-content-type-options", "x-request-id"):
        assert len(response.headers.get_list(name)) == 1


def test_security_headers_are_present_on_refusals(client: TestClient) -> None:
    response = client.get("/auth/me")
    assert response.status_code == 401
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


# --- log hygiene ---------------------------------------------------------------------------------


def _rendered(records: list[logging.LogRecord]) -> str:
    """Every way a record can reach an operator: both formatters and its raw attributes."""
    json_formatter, console = JsonFormatter(), ConsoleFormatter()
    parts: list[str] = []
    for record in records:
        parts.append(json_formatter.format(record))
        parts.append(console.format(record))
        parts.extend(repr(value) for value in record.__dict__.values())
    return "\n".join(parts)


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.INFO, logger="sigurna")
    return caplog


def test_nothing_a_caller_sent_reaches_the_logs(
    client: TestClient, world: World, settings: Settings, captured: pytest.LogCaptureFixture
) -> None:
    organisation = world.organisation()
    world.user(
        organisation,
        Role.ADMIN,
        email=MARK_LOGIN_EMAIL,
        display_name=MARK_NAME,
        password_hash=make_hasher(settings).hash(MARK_PASSWORD),
    )
    admin = world.user(organisation, Role.ADMIN)
    captured.clear()

    wrong = client.post(
        "/auth/login", json={"email": MARK_LOGIN_EMAIL, "password": "wrong-" + MARK_PASSWORD}
    )
    assert wrong.status_code == 401
    right = client.post("/auth/login", json={"email": MARK_LOGIN_EMAIL, "password": MARK_PASSWORD})
    assert right.status_code == 200
    session_token = right.cookies[SESSION_COOKIE]
    invalid = client.post("/auth/login", json={"email": MARK_INVALID, "password": 5})
    assert invalid.status_code == 422
    act_as(client, world.login_cookie(admin))
    created = client.post(
        f"/organisations/{organisation.id}/users",
        json={"email": MARK_NEW_EMAIL, "display_name": MARK_NAME, "roles": ["counselor"]},
    )
    assert created.status_code == 201
    one_time = created.json()["one_time_password"]
    assert isinstance(one_time, str)
    assert len(one_time) == 20

    text = _rendered(captured.records).lower()
    for marker in (
        MARK_LOGIN_EMAIL,
        MARK_PASSWORD,
        MARK_INVALID,
        MARK_NEW_EMAIL,
        MARK_NAME,
        "zq81",
        "markerzq",
        one_time,
        session_token,
    ):
        assert marker.lower() not in text

    requests = [r for r in captured.records if r.name == "sigurna.request"]
    assert [r.getMessage() for r in requests] == ["request"] * 4
    assert [
        (r.__dict__["method"], r.__dict__["route"], r.__dict__["status"]) for r in requests
    ] == [
        ("POST", "/auth/login", 401),
        ("POST", "/auth/login", 200),
        ("POST", "/auth/login", 422),
        ("POST", "/organisations/{org_id}/users", 201),
    ]
    assert str(organisation.id) not in _rendered(requests)
    assert all(isinstance(r.__dict__["duration_ms"], float) for r in requests)


def test_an_unmatched_path_is_logged_without_the_path(
    client: TestClient, captured: pytest.LogCaptureFixture
) -> None:
    assert client.get("/no-such-route/MARKER-Zq81?email=" + MARK_INVALID).status_code == 404
    requests = [r for r in captured.records if r.name == "sigurna.request"]
    assert [(r.__dict__["route"], r.__dict__["status"]) for r in requests] == [("<unmatched>", 404)]
    assert "zq81" not in _rendered(requests).lower()


def test_the_json_formatter_drops_extra_fields_it_does_not_know(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    logging.getLogger("x").info("m", extra={"payload": "secret", "status": 200})
    (record,) = [r for r in caplog.records if r.name == "x"]

    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["msg"] == "m"
    assert entry["logger"] == "x"
    assert entry["level"] == "info"
    assert entry["status"] == 200
    assert "payload" not in entry
    assert "secret" not in line

    console = ConsoleFormatter().format(record)
    assert console == "INFO    x: m status=200"
    assert "payload" not in ALLOWED_EXTRA
