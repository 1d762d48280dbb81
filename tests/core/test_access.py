"""Deny by default: every route declares a policy, and every role meets exactly that policy."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from core import domains
from core.access import Public, served_routes, undeclared_routes
from core.app import UndeclaredRouteError, create_app
from core.auth import TOKEN_PREFIX, new_secret, token_digest
from core.models import ApiToken, OrganisationKind, Role
from hotline.models import Call, CallbackTask, CallMode, CallStatus, Hotline, HotlineClosure, Shift
from tests.conftest import World, act_as, make_settings

# What each route must allow, stated independently of the code's policies.
# scope: "public" | "network" (any organisation) | "org" (only the organisation in the path)
#        | "signed" (the caller must sign the request; none of these callers does)
ALL = frozenset(Role)
ADMIN = frozenset({Role.ADMIN})
OVERSIGHT = frozenset({Role.ADMIN, Role.SUPERVISOR})
HOTLINE_READERS = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.COUNSELOR})
DUTY_STAFF = frozenset({Role.SUPERVISOR, Role.COUNSELOR})
HOTLINE = "/organisations/{org_id}/hotlines/{hotline_id}"


@dataclass(frozen=True)
class Expect:
    scope: str
    roles: frozenset[Role] = frozenset()
    tokens: bool = False


EXPECTED: dict[tuple[str, str], Expect] = {
    ("GET", "/healthz"): Expect("public"),
    ("GET", "/readyz"): Expect("public"),
    ("POST", "/auth/login"): Expect("public"),
    ("POST", "/auth/logout"): Expect("network", ALL),
    ("GET", "/auth/me"): Expect("network", ALL, tokens=True),
    ("POST", "/auth/password"): Expect("network", ALL),
    ("GET", "/organisations"): Expect("network", ALL, tokens=True),
    ("GET", "/organisations/{org_id}"): Expect("org", ALL, tokens=True),
    ("PATCH", "/organisations/{org_id}"): Expect("org", ADMIN),
    ("GET", "/organisations/{org_id}/users"): Expect("org", OVERSIGHT),
    ("POST", "/organisations/{org_id}/users"): Expect("org", ADMIN),
    ("GET", "/organisations/{org_id}/users/{user_id}"): Expect("org", OVERSIGHT),
    ("PATCH", "/organisations/{org_id}/users/{user_id}"): Expect("org", ADMIN),
    ("POST", "/organisations/{org_id}/users/{user_id}/disable"): Expect("org", ADMIN),
    ("POST", "/organisations/{org_id}/users/{user_id}/enable"): Expect("org", ADMIN),
    ("POST", "/organisations/{org_id}/users/{user_id}/revoke-sessions"): Expect("org", ADMIN),
    ("POST", "/organisations/{org_id}/users/{user_id}/reset-password"): Expect("org", ADMIN),
    ("GET", "/organisations/{org_id}/tokens"): Expect("org", ADMIN),
    ("POST", "/organisations/{org_id}/tokens"): Expect("org", ADMIN),
    ("POST", "/organisations/{org_id}/tokens/{token_id}/revoke"): Expect("org", ADMIN),
    ("GET", "/organisations/{org_id}/audit"): Expect("org", OVERSIGHT),
    # Twilio's webhooks: only a valid X-Twilio-Signature gets in, whatever cookie or token.
    ("POST", "/hotline/voice"): Expect("signed"),
    ("POST", "/hotline/voice/dial-result"): Expect("signed"),
    ("POST", "/hotline/voice/screen"): Expect("signed"),
    ("POST", "/hotline/voice/screen-result"): Expect("signed"),
    ("POST", "/hotline/voice/voicemail"): Expect("signed"),
    ("POST", "/hotline/voice/status"): Expect("signed"),
    # The hotline's staff API.
    ("GET", "/organisations/{org_id}/hotlines"): Expect("org", HOTLINE_READERS),
    ("POST", "/organisations/{org_id}/hotlines"): Expect("org", OVERSIGHT),
    ("GET", HOTLINE): Expect("org", HOTLINE_READERS),
    ("PATCH", HOTLINE): Expect("org", OVERSIGHT),
    ("GET", HOTLINE + "/closures"): Expect("org", OVERSIGHT),
    ("POST", HOTLINE + "/closures"): Expect("org", OVERSIGHT),
    ("DELETE", HOTLINE + "/closures/{closure_id}"): Expect("org", OVERSIGHT),
    ("GET", HOTLINE + "/shifts"): Expect("org", HOTLINE_READERS),
    ("POST", HOTLINE + "/shifts"): Expect("org", OVERSIGHT),
    ("DELETE", HOTLINE + "/shifts/{shift_id}"): Expect("org", OVERSIGHT),
    ("POST", HOTLINE + "/shifts/{shift_id}/overrides"): Expect("org", OVERSIGHT),
    ("POST", HOTLINE + "/shifts/{shift_id}/swap"): Expect("org", OVERSIGHT),
    ("GET", HOTLINE + "/on-duty"): Expect("org", HOTLINE_READERS),
    ("GET", HOTLINE + "/gaps"): Expect("org", OVERSIGHT),
    ("POST", HOTLINE + "/calendar-feeds"): Expect("org", OVERSIGHT),
    ("GET", "/organisations/{org_id}/duty-phones"): Expect("org", OVERSIGHT),
    ("PUT", "/organisations/{org_id}/duty-phones/me"): Expect("org", DUTY_STAFF),
    ("POST", "/organisations/{org_id}/duty-phones/me/verify"): Expect("org", DUTY_STAFF),
    ("POST", "/organisations/{org_id}/duty-phones/me/calendar-feed"): Expect("org", DUTY_STAFF),
    # The link's token is the credential; none of the matrix's callers holds a valid one.
    ("GET", "/hotline/calendar/{token}.ics"): Expect("signed"),
    # The call log and callback tasks: case content, for the people who answer and supervise.
    ("GET", "/organisations/{org_id}/calls"): Expect("org", DUTY_STAFF),
    ("GET", "/organisations/{org_id}/calls/{call_id}"): Expect("org", DUTY_STAFF),
    ("PATCH", "/organisations/{org_id}/calls/{call_id}"): Expect("org", DUTY_STAFF),
    ("POST", "/organisations/{org_id}/calls/{call_id}/reveal-caller"): Expect("org", DUTY_STAFF),
    ("POST", "/organisations/{org_id}/calls/{call_id}/reveal-voicemail"): Expect("org", DUTY_STAFF),
    ("GET", "/organisations/{org_id}/callback-tasks"): Expect("org", DUTY_STAFF),
    ("PATCH", "/organisations/{org_id}/callback-tasks/{task_id}"): Expect("org", DUTY_STAFF),
    ("POST", "/organisations/{org_id}/callback-tasks/{task_id}/close"): Expect("org", DUTY_STAFF),
}

# Callers: (label, home organisation, role, via). "home" is the organisation the paths name.
CALLERS: tuple[tuple[str, str, Role | None, str], ...] = (
    ("anonymous", "-", None, "none"),
    *(
        (f"home:{role}", "home", role, "session")
        for role in (Role.ADMIN, Role.SUPERVISOR, Role.COUNSELOR, Role.SHELTER_STAFF)
    ),
    ("csw:csw_officer", "csw", Role.CSW_OFFICER, "session"),
    ("csw:admin", "csw", Role.ADMIN, "session"),
    ("other:admin", "other", Role.ADMIN, "session"),
    ("other:supervisor", "other", Role.SUPERVISOR, "session"),
    ("home:token:counselor", "home", Role.COUNSELOR, "token"),
    ("csw:token:csw_officer", "csw", Role.CSW_OFFICER, "token"),
)


def _routes() -> list[tuple[str, str]]:
    app = create_app(make_settings("sqlite:///:memory:"))
    found = sorted(
        (method, route.path)
        for route in served_routes(app)
        if route.is_api
        for method in route.methods
        if method != "HEAD"
    )
    app.state.engine.dispose()
    return found


ROUTES = _routes()


def test_every_route_has_exactly_one_policy() -> None:
    app = create_app(make_settings("sqlite:///:memory:"))
    try:
        assert undeclared_routes(app) == []
        assert all(len(route.policies) == 1 for route in served_routes(app) if route.is_api)
    finally:
        app.state.engine.dispose()


def test_the_matrix_states_an_expectation_for_every_route() -> None:
    assert set(ROUTES) == set(EXPECTED), (
        "add the new route to EXPECTED with the roles that may call it: "
        f"{sorted(set(ROUTES) ^ set(EXPECTED))}"
    )


def test_a_route_without_a_policy_stops_the_app_from_starting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    careless = APIRouter()

    @careless.get("/forgot-to-declare")
    def forgot() -> dict[str, str]:
        return {"oops": "open"}

    twice = APIRouter()

    @twice.get("/declared-twice", dependencies=[Public, Public])
    def declared_twice() -> dict[str, str]:
        return {}

    monkeypatch.setattr(domains, "routers", lambda: [careless, twice])
    with pytest.raises(UndeclaredRouteError) as raised:
        create_app(make_settings("sqlite:///:memory:"))
    assert "/forgot-to-declare" in str(raised.value)
    assert "/declared-twice" in str(raised.value)


def test_docs_are_not_served_outside_development() -> None:
    app: FastAPI = create_app(make_settings("sqlite:///:memory:"))
    try:
        with TestClient(app, base_url="https://testserver") as client:
            assert client.get("/openapi.json").status_code == 404
            assert client.get("/docs").status_code == 404
    finally:
        app.state.engine.dispose()


@dataclass
class Population:
    home_org: uuid.UUID
    user_id: uuid.UUID
    token_id: uuid.UUID
    credentials: dict[str, tuple[str, str]]  # label -> ("cookie" | "bearer", secret)
    hotline_id: uuid.UUID
    closure_id: uuid.UUID
    shift_id: uuid.UUID
    call_id: uuid.UUID
    task_id: uuid.UUID


def _token(world: World, organisation_id: uuid.UUID, role: Role) -> tuple[uuid.UUID, str]:
    secret = TOKEN_PREFIX + new_secret()
    token = ApiToken(
        organisation_id=organisation_id,
        name="matrix token",
        role=role,
        prefix=secret[:10],
        token_hash=token_digest(secret),
        created_at=world.clock.now(),
    )
    world.db.add(token)
    world.db.flush()
    return token.id, secret


@pytest.fixture
def population(world: World, db: Session) -> Population:
    organisations = {
        "home": world.organisation(OrganisationKind.NGO),
        "other": world.organisation(OrganisationKind.NGO),
        "csw": world.organisation(OrganisationKind.CSW),
    }
    target = world.user(organisations["home"], Role.COUNSELOR)
    target_token, _ = _token(world, organisations["home"].id, Role.COUNSELOR)
    credentials: dict[str, tuple[str, str]] = {}
    for label, home, role, via in CALLERS:
        if role is None:
            continue
        if via == "token":
            _, secret = _token(world, organisations[home].id, role)
            credentials[label] = ("bearer", secret)
        else:
            user = world.user(organisations[home], role)
            credentials[label] = ("cookie", next(iter(world.login_cookie(user).values())))
    hotline, closure, shift = _hotline(world, organisations["home"].id, target.id)
    call, task = _missed_call(world, organisations["home"].id, hotline)
    return Population(
        organisations["home"].id,
        target.id,
        target_token,
        credentials,
        hotline,
        closure,
        shift,
        call,
        task,
    )


def _missed_call(
    world: World, organisation_id: uuid.UUID, hotline_id: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID]:
    """A call nobody accepted, with its callback task."""
    now = world.clock.now()
    call = Call(
        hotline_id=hotline_id,
        call_sid="CA" + uuid.uuid4().hex,
        started_at=now,
        mode=CallMode.DUTY,
        status=CallStatus.ENDED,
        plan=[],
    )
    world.db.add(call)
    world.db.flush()
    task = CallbackTask(
        organisation_id=organisation_id,
        hotline_id=hotline_id,
        call_id=call.id,
        short_ref=uuid.uuid4().hex[:6].upper(),
        due_at=now,
        created_at=now,
    )
    world.db.add(task)
    world.db.flush()
    return call.id, task.id


def _hotline(
    world: World, organisation_id: uuid.UUID, counselor_id: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """A hotline of the home organisation with one closure and one shift."""
    now = world.clock.now()
    hotline = Hotline(
        organisation_id=organisation_id,
        name="Matrix line",
        twilio_number="+442079460177",
        time_zone="Europe/Podgorica",
        holiday_country="ME",
        created_at=now,
        updated_at=now,
    )
    world.db.add(hotline)
    world.db.flush()
    closure = HotlineClosure(
        hotline_id=hotline.id, day=date(2026, 12, 24), reason="Staff day", created_at=now
    )
    shift = Shift(
        hotline_id=hotline.id,
        starts_at=now,
        ends_at=now + timedelta(hours=8),
        primary_user_id=counselor_id,
        created_at=now,
    )
    world.db.add_all([closure, shift])
    world.db.flush()
    return hotline.id, closure.id, shift.id


def _expected_status(expect: Expect, home: str, role: Role | None, via: str) -> int | None:
    """The denial status this caller must get, or None when it must get through."""
    if expect.scope == "public":
        return None
    if expect.scope == "signed":
        return 403
    if role is None:
        return 401
    if via == "token" and not expect.tokens:
        return 403
    if expect.scope == "org" and home != "home":
        return 404
    if role not in expect.roles:
        return 403
    return None


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
@pytest.mark.parametrize(
    ("label", "home", "role", "via"), CALLERS, ids=[caller[0] for caller in CALLERS]
)
def test_route_matrix(
    client: TestClient,
    population: Population,
    method: str,
    path: str,
    label: str,
    home: str,
    role: Role | None,
    via: str,
) -> None:
    url = path.format(
        org_id=population.home_org,
        user_id=population.user_id,
        token_id=population.token_id,
        hotline_id=population.hotline_id,
        closure_id=population.closure_id,
        shift_id=population.shift_id,
        call_id=population.call_id,
        task_id=population.task_id,
        token="no-such-calendar-token",
    )
    act_as(client, None)
    headers: dict[str, str] = {}
    if label in population.credentials:
        kind, secret = population.credentials[label]
        if kind == "bearer":
            headers["Authorization"] = f"Bearer {secret}"
        else:
            act_as(client, {"sigurna_session": secret})
    json_body: dict[str, object] | None = None if method == "GET" else {}
    response = client.request(method, url, headers=headers, json=json_body)

    denial = _expected_status(EXPECTED[(method, path)], home, role, via)
    if denial is None:
        assert response.status_code not in (401, 403, 404), (response.status_code, response.text)
        assert response.status_code < 500
    else:
        assert response.status_code == denial, response.text
        assert response.json()["error"] in {"unauthenticated", "forbidden", "not_found"}
