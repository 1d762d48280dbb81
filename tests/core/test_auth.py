"""Login, sessions, lockout and password changes, as a browser and an admin would meet them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from core.audit import AuditEvent
from core.auth import LOGIN_FAILED_MESSAGE, SESSION_COOKIE, token_digest
from core.clock import FrozenClock
from core.config import Settings
from core.models import AuthSession, Role, User
from core.passwords import make_hasher
from tests.conftest import World, act_as

PASSWORD = "lantern-orchard-velvet-37"


def _user_with_password(world: World, settings: Settings, *roles: Role) -> User:
    organisation = world.organisation()
    return world.user(
        organisation,
        *(roles or (Role.COUNSELOR,)),
        password_hash=make_hasher(settings).hash(PASSWORD),
    )


def _login(client: TestClient, email: str, password: str = PASSWORD) -> tuple[int, dict[str, str]]:
    response = client.post("/auth/login", json={"email": email, "password": password})
    return response.status_code, response.json()


def _audit_actions(db: Session) -> list[str]:
    return list(db.exec(select(AuditEvent.action).order_by(col(AuditEvent.id))).all())


def test_login_opens_a_session_with_a_safe_cookie(
    client: TestClient, world: World, settings: Settings, db: Session
) -> None:
    user = _user_with_password(world, settings, Role.SUPERVISOR)
    response = client.post("/auth/login", json={"email": user.email.upper(), "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["id"] == str(user.id)
    assert body["roles"] == ["supervisor"]
    assert body["via"] == "session"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=lax" in cookie
    assert "Max-Age=43200" in cookie
    token = response.cookies[SESSION_COOKIE]
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    stored = db.exec(select(AuthSession).where(AuthSession.user_id == user.id)).one()
    assert stored.token_hash == token_digest(token)
    assert token not in stored.token_hash
    assert client.get("/auth/me").json()["user"]["id"] == str(user.id)
    assert _audit_actions(db)[-1] == "auth.login"


def test_cookie_is_not_secure_in_development(
    settings: Settings, engine: object, world: World, db: Session, clock: FrozenClock
) -> None:
    from core.app import create_app
    from core.config import Mode
    from core.deps import get_session

    dev = settings.model_copy(update={"mode": Mode.DEVELOPMENT})
    app = create_app(dev, engine=engine, clock=clock)  # type: ignore[arg-type]
    app.dependency_overrides[get_session] = lambda: db
    user = _user_with_password(world, settings)
    with TestClient(app, base_url="http://testserver") as client:
        response = client.post("/auth/login", json={"email": user.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "Secure" not in response.headers["set-cookie"]
    assert "HttpOnly" in response.headers["set-cookie"]


def test_wrong_password_and_unknown_account_get_the_same_answer(
    client: TestClient, world: World, settings: Settings, db: Session
) -> None:
    user = _user_with_password(world, settings)
    wrong = client.post("/auth/login", json={"email": user.email, "password": "not-the-one-1234"})
    unknown = client.post(
        "/auth/login", json={"email": "nobody@example.org", "password": "not-the-one-1234"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json() == unknown.json() == {"error": "login_failed", "message": LOGIN_FAILED_MESSAGE}
    )
    assert SESSION_COOKIE not in wrong.cookies
    assert _audit_actions(db)[-2:] == ["auth.login_failed", "auth.login_failed"]


def test_session_idle_timeout_is_thirty_minutes(
    client: TestClient, world: World, clock: FrozenClock
) -> None:
    user = world.user(world.organisation(), Role.COUNSELOR)
    client.cookies.update(world.login_cookie(user))
    clock.advance(timedelta(minutes=29, seconds=59))
    assert client.get("/auth/me").status_code == 200  # activity refreshes the idle timer
    clock.advance(timedelta(minutes=29, seconds=59))
    assert client.get("/auth/me").status_code == 200
    clock.advance(timedelta(minutes=30))
    response = client.get("/auth/me")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"


def test_session_absolute_timeout_is_twelve_hours(
    client: TestClient, world: World, clock: FrozenClock
) -> None:
    user = world.user(world.organisation(), Role.COUNSELOR)
    client.cookies.update(world.login_cookie(user))
    start = clock.now()
    while clock.now() < start + timedelta(hours=12) - timedelta(minutes=20):
        clock.advance(timedelta(minutes=20))
        assert client.get("/auth/me").status_code == 200
    clock.set(start + timedelta(hours=12) - timedelta(seconds=1))
    assert client.get("/auth/me").status_code == 200
    clock.set(start + timedelta(hours=12))
    assert client.get("/auth/me").status_code == 401


def test_logout_ends_the_session_at_once(client: TestClient, world: World, db: Session) -> None:
    user = world.user(world.organisation(), Role.COUNSELOR)
    cookies = world.login_cookie(user)
    client.cookies.update(cookies)
    assert client.post("/auth/logout").status_code == 204
    client.cookies.update(cookies)  # a stolen copy of the cookie is now worthless
    assert client.get("/auth/me").status_code == 401
    assert "auth.logout" in _audit_actions(db)


def test_admin_revocation_and_disabling_take_effect_at_once(
    client: TestClient, world: World, db: Session
) -> None:
    organisation = world.organisation()
    admin = world.user(organisation, Role.ADMIN)
    victim = world.user(organisation, Role.COUNSELOR)
    victim_cookie = world.login_cookie(victim)
    admin_cookie = world.login_cookie(admin)
    base = f"/organisations/{organisation.id}/users/{victim.id}"

    assert act_as(client, victim_cookie).get("/auth/me").status_code == 200
    response = act_as(client, admin_cookie).post(
        f"{base}/revoke-sessions", json={"reason": "lost phone"}
    )
    assert response.status_code == 200
    assert response.json() == {"revoked_sessions": 1}
    assert act_as(client, victim_cookie).get("/auth/me").status_code == 401

    second = world.login_cookie(victim)
    assert act_as(client, admin_cookie).post(f"{base}/disable").status_code == 200
    assert act_as(client, second).get("/auth/me").status_code == 401
    assert _audit_actions(db)[-2:] == ["user.sessions_revoked", "user.disabled"]


def test_disabled_account_cannot_log_in_and_is_not_told_why(
    client: TestClient, world: World, settings: Settings, clock: FrozenClock
) -> None:
    user = _user_with_password(world, settings)
    user.disabled_at = clock.now()
    status, body = _login(client, user.email)
    assert status == 401
    assert body["message"] == LOGIN_FAILED_MESSAGE


def test_login_rehashes_when_the_cost_parameters_change(
    client: TestClient, world: World, settings: Settings, db: Session
) -> None:
    weaker = settings.model_copy(update={"argon2_memory_kib": 19 * 1024, "argon2_time_cost": 2})
    organisation = world.organisation()
    user = world.user(
        organisation, Role.COUNSELOR, password_hash=make_hasher(weaker).hash(PASSWORD)
    )
    old_hash = user.password_hash
    assert "m=19456,t=2,p=1" in old_hash

    stronger = settings.model_copy(update={"argon2_memory_kib": 24 * 1024, "argon2_time_cost": 3})
    client.app.state.hasher = make_hasher(stronger)  # type: ignore[attr-defined]
    assert _login(client, user.email)[0] == 200
    db.refresh(user)
    assert user.password_hash != old_hash
    assert "m=24576,t=3,p=1" in user.password_hash
    assert "$argon2id$" in user.password_hash


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "someone@example.org"},
        {"password": "x"},
        {"email": "", "password": "long-enough-password"},
        {"email": "a@b.c", "password": ""},
        {"email": ["a@b.c"], "password": "long-enough-password"},
        {"email": "a@b.c", "password": "p" * 300},
    ],
)
def test_login_with_bad_input_is_refused_and_changes_nothing(
    client: TestClient, db: Session, body: dict[str, object]
) -> None:
    before = db.exec(select(func.count()).select_from(AuditEvent)).one()
    response = client.post("/auth/login", json=body)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_input"
    assert response.json()["message"]
    assert db.exec(select(func.count()).select_from(AuditEvent)).one() == before


def test_one_time_password_must_be_changed_before_anything_else(
    client: TestClient, world: World, settings: Settings, db: Session
) -> None:
    organisation = world.organisation()
    user = world.user(
        organisation,
        Role.SUPERVISOR,
        must_change_password=True,
        password_hash=make_hasher(settings).hash(PASSWORD),
    )
    assert _login(client, user.email)[0] == 200
    assert client.get("/auth/me").status_code == 200
    blocked = client.get(f"/organisations/{organisation.id}/users")
    assert blocked.status_code == 403
    assert "new password" in blocked.json()["message"]

    weak = client.post(
        "/auth/password", json={"current_password": PASSWORD, "new_password": "password1234"}
    )
    assert weak.status_code == 422
    assert "too common" in weak.json()["message"]
    wrong = client.post(
        "/auth/password",
        json={"current_password": "not-my-password-99", "new_password": "meadow-copper-signal-58"},
    )
    assert wrong.status_code == 422
    assert "current password is wrong" in wrong.json()["message"]

    other_device = world.login_cookie(user)
    changed = client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": "meadow-copper-signal-58"},
    )
    assert changed.status_code == 204
    assert client.get(f"/organisations/{organisation.id}/users").status_code == 200
    # Every other session of the account ended with the change.
    assert act_as(client, other_device).get("/auth/me").status_code == 401
    db.refresh(user)
    assert user.must_change_password is False
    assert "user.password_changed" in _audit_actions(db)


def test_admin_password_reset_gives_a_one_time_password(
    client: TestClient, world: World, db: Session
) -> None:
    organisation = world.organisation()
    admin = world.user(organisation, Role.ADMIN)
    user = world.user(organisation, Role.COUNSELOR)
    user_cookie = world.login_cookie(user)
    response = act_as(client, world.login_cookie(admin)).post(
        f"/organisations/{organisation.id}/users/{user.id}/reset-password"
    )
    assert response.status_code == 200
    one_time = response.json()["one_time_password"]
    assert len(one_time) == 20
    assert act_as(client, user_cookie).get("/auth/me").status_code == 401
    act_as(client, None)
    assert _login(client, user.email, one_time)[0] == 200
    assert client.get(f"/organisations/{organisation.id}").status_code == 403
