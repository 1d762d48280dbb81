"""The second factor (TOTP and recovery codes), as a counselor meets it: a real password login,
then enrolment, confirmation and, in every later session, a code before any case content."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from core import second_factor
from core.access import SECOND_FACTOR_NEEDED
from core.audit import AuditEvent
from core.auth import TOKEN_PREFIX, new_secret, token_digest
from core.clock import FrozenClock
from core.config import Settings
from core.models import ApiToken, AuthSession, Organisation, Role, SecondFactor, User
from core.passwords import make_hasher
from tests.conftest import World, act_as

PASSWORD = "harbour-quilt-meadow-58"
STEP = 30
NEEDS_SECOND_FACTOR = {"error": "forbidden", "message": SECOND_FACTOR_NEEDED}
WRONG = {"error": "second_factor_failed", "message": second_factor.WRONG_CODE}
TOO_MANY = {"error": "second_factor_failed", "message": second_factor.TOO_MANY}
ENDED = {"error": "unauthenticated", "message": "Your session has ended; please log in again."}


@pytest.fixture
def org(world: World) -> Organisation:
    return world.organisation()


@pytest.fixture
def counselor(world: World, settings: Settings, org: Organisation) -> User:
    user = world.user(
        org,
        Role.COUNSELOR,
        email="counselor.one@example.org",
        password_hash=make_hasher(settings).hash(PASSWORD),
    )
    world.db.commit()
    return user


def login(client: TestClient, user: User) -> None:
    """A new session, through the password login (its cookie replaces any other)."""
    act_as(client, None)
    response = client.post("/auth/login", json={"email": user.email, "password": PASSWORD})
    assert response.status_code == 200, response.text


def cases(client: TestClient, org: Organisation) -> Any:
    return client.get(f"/organisations/{org.id}/cases")


def code_at(secret: str, clock: FrozenClock, steps: int = 0) -> str:
    """The TOTP code of the step `steps` away from the clock's."""
    return pyotp.TOTP(secret).at(int(clock.now().timestamp()) + steps * STEP)


def wrong_code(secret: str, clock: FrozenClock) -> str:
    """A six-digit code that is none of the codes accepted now (one step either side)."""
    valid = {code_at(secret, clock, steps) for steps in (-1, 0, 1)}
    return next(c for c in (f"{n:06d}" for n in range(10**6)) if c not in valid)


def enrol(client: TestClient, clock: FrozenClock) -> tuple[str, list[str]]:
    """Enrol and confirm in the current session: the secret and the recovery codes."""
    enrolled = client.post("/auth/mfa/enrol")
    assert enrolled.status_code == 201, enrolled.text
    secret = enrolled.json()["secret"]
    confirmed = client.post("/auth/mfa/confirm", json={"code": code_at(secret, clock)})
    assert confirmed.status_code == 200, confirmed.text
    return secret, confirmed.json()["recovery_codes"]


def verify(client: TestClient, code: str) -> Any:
    return client.post("/auth/mfa/verify", json={"code": code})


def status(client: TestClient) -> Any:
    response = client.get("/auth/mfa")
    assert response.status_code == 200, response.text
    return response.json()


def actions(db: Session) -> list[str]:
    db.expire_all()
    return list(db.exec(select(AuditEvent.action).order_by(col(AuditEvent.id))).all())


def test_cases_are_refused_until_the_second_factor_is_set_up_and_confirmed(
    client: TestClient, db: Session, clock: FrozenClock, org: Organisation, counselor: User
) -> None:
    login(client, counselor)
    refused = cases(client, org)
    assert (refused.status_code, refused.json()) == (403, NEEDS_SECOND_FACTOR)
    assert status(client) == {"enrolled": False, "passed": False, "recovery_codes_left": None}

    enrolled = client.post("/auth/mfa/enrol")
    assert enrolled.status_code == 201
    body = enrolled.json()
    secret = body["secret"]
    assert len(secret) == 32
    assert body["uri"] == pyotp.TOTP(secret).provisioning_uri(
        name="counselor.one@example.org", issuer_name="Sigurna"
    )
    assert body["uri"].startswith("otpauth://totp/Sigurna:counselor.one%40example.org?secret=")
    assert "issuer=Sigurna" in body["uri"]
    # Enrolling is not enough: the first code confirms it.
    assert cases(client, org).status_code == 403
    assert status(client) == {"enrolled": False, "passed": False, "recovery_codes_left": None}

    wrong = client.post("/auth/mfa/confirm", json={"code": wrong_code(secret, clock)})
    assert (wrong.status_code, wrong.json()) == (
        422,
        {"error": "invalid_input", "message": second_factor.WRONG_CODE},
    )
    db.expire_all()
    factor = db.get(SecondFactor, counselor.id)
    assert factor is not None
    assert (factor.confirmed_at, factor.last_step, factor.recovery_digests) == (None, None, [])
    assert status(client) == {"enrolled": False, "passed": False, "recovery_codes_left": None}
    assert cases(client, org).status_code == 403

    confirmed = client.post("/auth/mfa/confirm", json={"code": pyotp.TOTP(secret).at(clock.now())})
    assert confirmed.status_code == 200
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    assert all(len(c) == 14 and c.count("-") == 2 for c in codes)
    passed = cases(client, org)
    assert (passed.status_code, passed.json()) == (200, {"items": [], "next_cursor": None})
    assert status(client) == {"enrolled": True, "passed": True, "recovery_codes_left": 10}
    db.expire_all()
    factor = db.get(SecondFactor, counselor.id)
    assert factor is not None
    assert factor.confirmed_at == clock.now()
    assert factor.last_step == int(clock.now().timestamp()) // STEP
    # Only digests are kept, never the codes; the secret is sealed.
    assert not set(codes) & set(factor.recovery_digests)
    assert secret.encode() not in factor.secret_sealed
    trail = [a for a in actions(db) if a.startswith("auth.second_factor")]
    assert trail == ["auth.second_factor_enrolling", "auth.second_factor_enrolled"]


def test_a_new_session_needs_a_code_never_the_same_one_twice(
    client: TestClient, db: Session, clock: FrozenClock, org: Organisation, counselor: User
) -> None:
    login(client, counselor)
    secret, _ = enrol(client, clock)  # step s0's code is used up

    clock.advance(timedelta(seconds=2 * STEP))  # step s0 + 2
    login(client, counselor)
    assert (cases(client, org).status_code, cases(client, org).json()) == (
        403,
        NEEDS_SECOND_FACTOR,
    )
    assert status(client) == {"enrolled": True, "passed": False, "recovery_codes_left": 10}
    code = code_at(secret, clock)
    ok = verify(client, code)
    assert (ok.status_code, ok.json()) == (
        200,
        {"enrolled": True, "passed": True, "recovery_codes_left": 10},
    )
    assert cases(client, org).status_code == 200

    # The same code again, in another session within its step: a replay, refused.
    login(client, counselor)
    replayed = verify(client, code)
    assert (replayed.status_code, replayed.json()) == (401, WRONG)
    assert cases(client, org).status_code == 403

    # One step ahead of the server's clock (s0 + 4 while it is s0 + 3): accepted.
    clock.advance(timedelta(seconds=STEP))
    login(client, counselor)
    assert verify(client, code_at(secret, clock, +1)).status_code == 200
    assert cases(client, org).status_code == 200

    # One step behind (s0 + 5 while it is s0 + 6), still after the last one used: accepted.
    clock.advance(timedelta(seconds=3 * STEP))
    login(client, counselor)
    assert verify(client, code_at(secret, clock, -1)).status_code == 200

    # Two steps either side: refused.
    clock.advance(timedelta(seconds=4 * STEP))
    login(client, counselor)
    for steps in (-2, +2):
        refused = verify(client, code_at(secret, clock, steps))
        assert (refused.status_code, refused.json()) == (401, WRONG)
    assert status(client)["passed"] is False
    assert cases(client, org).status_code == 403
    trail = [a for a in actions(db) if a.startswith("auth.second_factor")]
    assert trail == [
        "auth.second_factor_enrolling",
        "auth.second_factor_enrolled",
        "auth.second_factor",
        "auth.second_factor_failed",
        "auth.second_factor",
        "auth.second_factor",
        "auth.second_factor_failed",
        "auth.second_factor_failed",
    ]


def test_a_recovery_code_works_once(
    client: TestClient, db: Session, clock: FrozenClock, org: Organisation, counselor: User
) -> None:
    login(client, counselor)
    _, codes = enrol(client, clock)

    login(client, counselor)
    used = verify(client, codes[3].upper().replace("-", ""))  # as typed from paper
    assert (used.status_code, used.json()) == (
        200,
        {"enrolled": True, "passed": True, "recovery_codes_left": 9},
    )
    assert cases(client, org).status_code == 200
    db.expire_all()
    event = db.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc())).first()
    assert event is not None
    assert (event.action, event.reason) == ("case.listed", None)
    passed = db.exec(select(AuditEvent).where(AuditEvent.action == "auth.second_factor")).one()
    assert passed.reason == "recovery code"

    login(client, counselor)
    again = verify(client, codes[3])
    assert (again.status_code, again.json()) == (401, WRONG)
    assert status(client) == {"enrolled": True, "passed": False, "recovery_codes_left": 9}
    assert verify(client, codes[4]).json()["recovery_codes_left"] == 8


def test_five_wrong_codes_end_the_session_and_each_is_audited(
    client: TestClient, db: Session, clock: FrozenClock, org: Organisation, counselor: User
) -> None:
    login(client, counselor)
    secret, _ = enrol(client, clock)
    clock.advance(timedelta(seconds=3 * STEP))

    login(client, counselor)
    wrong = wrong_code(secret, clock)
    for _ in range(4):
        refused = verify(client, wrong)
        assert (refused.status_code, refused.json()) == (401, WRONG)
        assert status(client)["passed"] is False  # the session goes on
    fifth = verify(client, wrong)
    assert (fifth.status_code, fifth.json()) == (401, TOO_MANY)
    for response in (client.get("/auth/mfa"), cases(client, org), verify(client, wrong)):
        assert (response.status_code, response.json()) == (401, ENDED)
    # Even the right code is no use now: the password is needed again.
    late = verify(client, code_at(secret, clock))
    assert (late.status_code, late.json()) == (401, ENDED)

    db.expire_all()
    failures = db.exec(
        select(AuditEvent).where(AuditEvent.action == "auth.second_factor_failed")
    ).all()
    assert len(failures) == 5
    ended = [
        s
        for s in db.exec(select(AuthSession).where(AuthSession.user_id == counselor.id)).all()
        if s.revoked_at is not None
    ]
    assert len(ended) == 1
    assert (ended[0].revoked_reason, ended[0].second_factor_failures) == (
        "second factor failures",
        5,
    )
    assert {(f.subject_type, f.subject_id) for f in failures} == {
        ("auth_session", str(ended[0].id))
    }

    login(client, counselor)
    assert verify(client, code_at(secret, clock)).status_code == 200
    assert cases(client, org).status_code == 200


def test_an_administrators_reset_means_enrolling_again(
    client: TestClient,
    db: Session,
    world: World,
    settings: Settings,
    clock: FrozenClock,
    org: Organisation,
    counselor: User,
) -> None:
    admin = world.user(org, Role.ADMIN, password_hash=make_hasher(settings).hash(PASSWORD))
    world.db.commit()
    login(client, counselor)
    old_secret, _ = enrol(client, clock)
    assert cases(client, org).status_code == 200
    passed_before = dict(client.cookies)

    login(client, admin)
    reset_url = f"/organisations/{org.id}/users/{counselor.id}/second-factor/reset"
    assert client.post(reset_url).status_code == 204
    again = client.post(reset_url)
    assert (again.status_code, again.json()) == (
        409,
        {"error": "conflict", "message": second_factor.NOT_ENROLLED},
    )
    missing = client.post(f"/organisations/{org.id}/users/{uuid.uuid4()}/second-factor/reset")
    assert missing.status_code == 404
    assert "auth.second_factor_reset" in actions(db)
    act_as(client, passed_before)  # every session of hers ended with the reset
    assert cases(client, org).status_code == 401

    clock.advance(timedelta(seconds=2 * STEP))
    login(client, counselor)
    assert (cases(client, org).status_code, cases(client, org).json()) == (
        403,
        NEEDS_SECOND_FACTOR,
    )
    assert status(client) == {"enrolled": False, "passed": False, "recovery_codes_left": None}
    refused = verify(client, code_at(old_secret, clock))
    assert (refused.status_code, refused.json()) == (
        409,
        {"error": "conflict", "message": second_factor.NOT_ENROLLED},
    )
    new_secret_, codes = enrol(client, clock)
    assert new_secret_ != old_secret
    assert len(codes) == 10
    assert cases(client, org).status_code == 200


def test_a_colleague_who_is_not_an_administrator_cannot_reset(
    client: TestClient, world: World, clock: FrozenClock, org: Organisation, counselor: User
) -> None:
    supervisor = world.user(org, Role.SUPERVISOR)
    cookie = world.login_cookie(supervisor, second_factor=True)
    world.db.commit()
    login(client, counselor)
    enrol(client, clock)
    act_as(client, cookie)
    refused = client.post(f"/organisations/{org.id}/users/{counselor.id}/second-factor/reset")
    assert refused.status_code == 403


def test_enrolling_again_is_a_conflict_and_an_unconfirmed_secret_is_replaced(
    client: TestClient, db: Session, clock: FrozenClock, counselor: User
) -> None:
    login(client, counselor)
    unconfirmed = client.post("/auth/mfa/confirm", json={"code": "123456"})
    assert (unconfirmed.status_code, unconfirmed.json()) == (
        409,
        {"error": "conflict", "message": second_factor.NOT_ENROLLING},
    )
    first = client.post("/auth/mfa/enrol").json()["secret"]
    second = client.post("/auth/mfa/enrol").json()["secret"]
    assert first != second
    # The first secret was replaced: its code no longer confirms.
    if code_at(first, clock) != code_at(second, clock):
        stale = client.post("/auth/mfa/confirm", json={"code": code_at(first, clock)})
        assert stale.status_code == 422
    assert (
        client.post("/auth/mfa/confirm", json={"code": code_at(second, clock)}).status_code == 200
    )

    conflict = {"error": "conflict", "message": second_factor.ALREADY_ENROLLED}
    enrolled = client.post("/auth/mfa/enrol")
    assert (enrolled.status_code, enrolled.json()) == (409, conflict)
    clock.advance(timedelta(seconds=STEP))
    confirmed = client.post("/auth/mfa/confirm", json={"code": code_at(second, clock)})
    assert (confirmed.status_code, confirmed.json()) == (409, conflict)
    db.expire_all()
    factor = db.get(SecondFactor, counselor.id)
    assert factor is not None
    assert len(factor.recovery_digests) == 10


def test_verify_before_enrolment_is_a_conflict(client: TestClient, counselor: User) -> None:
    login(client, counselor)
    refused = verify(client, "123456")
    assert (refused.status_code, refused.json()) == (
        409,
        {"error": "conflict", "message": second_factor.NOT_ENROLLED},
    )


def test_an_api_token_cannot_use_the_second_factor_routes(
    client: TestClient, world: World, org: Organisation
) -> None:
    secret = TOKEN_PREFIX + new_secret()
    world.db.add(
        ApiToken(
            organisation_id=org.id,
            name="case system",
            role=Role.COUNSELOR,
            prefix=secret[:10],
            token_hash=token_digest(secret),
            created_at=world.clock.now(),
        )
    )
    world.db.commit()
    act_as(client, None)
    bearer = {"Authorization": f"Bearer {secret}"}
    refused = {"error": "forbidden", "message": "API tokens cannot use this route."}
    for response in (
        client.get("/auth/mfa", headers=bearer),
        client.post("/auth/mfa/enrol", headers=bearer),
        client.post("/auth/mfa/confirm", headers=bearer, json={"code": "123456"}),
        client.post("/auth/mfa/verify", headers=bearer, json={"code": "123456"}),
        client.get(f"/organisations/{org.id}/cases", headers=bearer),
    ):
        assert (response.status_code, response.json()) == (403, refused)
