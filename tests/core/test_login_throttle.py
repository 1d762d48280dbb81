"""Failed logins are throttled by source: one source can never lock an account for anyone else.

Sources are client addresses (TestClient's `client`). An abuser who knows a worker's e-mail and
keeps failing from his address waits ever longer, while she logs in from hers. Only failures from
many sources together lock the account, and then its owner and the organisation's admins are told.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from core.app import create_app
from core.audit import AuditEvent
from core.auth import LOGIN_FAILED_MESSAGE
from core.clock import FrozenClock
from core.config import Settings
from core.db import UnitOfWork
from core.models import Organisation, Role, User
from core.passwords import make_hasher
from core.throttle import delay_after, most_from_one_source, source_of
from notifications.models import OutboxMessage
from tests.conftest import World, act_as

PASSWORD = "lantern-orchard-velvet-37"
WRONG = "wrong-password-000"
ABUSER = "203.0.113.66"
WORKER = "198.51.100.23"
PROXY = "10.0.0.2"

Login = Callable[..., httpx2.Response]


@pytest.fixture
def worker(world: World, settings: Settings) -> User:
    return world.user(
        world.organisation(), Role.COUNSELOR, password_hash=make_hasher(settings).hash(PASSWORD)
    )


@pytest.fixture
def login(app: FastAPI) -> Iterator[Login]:
    """Log in from a given address (or through the trusted proxy, with X-Forwarded-For)."""
    clients: dict[str, TestClient] = {}

    def attempt(
        email: str, password: str, *, source: str, forwarded: str | None = None
    ) -> httpx2.Response:
        if source not in clients:
            clients[source] = TestClient(app, base_url="https://testserver", client=(source, 4000))
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        return clients[source].post(
            "/auth/login", json={"email": email, "password": password}, headers=headers
        )

    yield attempt
    for client in clients.values():
        client.close()


def _waits(response: httpx2.Response) -> int:
    assert response.status_code == 429, response.text
    assert response.json()["error"] == "too_many_attempts"
    return int(response.headers["retry-after"])


def test_a_failing_source_waits_ever_longer_and_the_worker_is_never_held_up(
    login: Login, worker: User, clock: FrozenClock
) -> None:
    for _ in range(5):  # the first five failures from one address cost nothing
        assert login(worker.email, WRONG, source=ABUSER).status_code == 401
    assert login(worker.email, WRONG, source=ABUSER).status_code == 401  # the sixth: 1 s wait
    assert _waits(login(worker.email, WRONG, source=ABUSER)) == 1
    # Meanwhile she logs in from her own phone, at the same instant.
    assert login(worker.email, PASSWORD, source=WORKER).status_code == 200
    clock.advance(timedelta(milliseconds=999))
    assert _waits(login(worker.email, PASSWORD, source=ABUSER)) == 1  # not even the right one
    clock.advance(timedelta(milliseconds=1))
    assert login(worker.email, WRONG, source=ABUSER).status_code == 401  # the seventh: 2 s
    assert _waits(login(worker.email, WRONG, source=ABUSER)) == 2
    clock.advance(timedelta(seconds=2))
    assert login(worker.email, WRONG, source=ABUSER).status_code == 401  # the eighth: 4 s
    assert _waits(login(worker.email, WRONG, source=ABUSER)) == 4
    clock.advance(timedelta(seconds=4))
    # Once the wait is over, the right password works from there too, and clears its count.
    assert login(worker.email, PASSWORD, source=ABUSER).status_code == 200
    for _ in range(5):
        assert login(worker.email, WRONG, source=ABUSER).status_code == 401


def test_an_unknown_account_is_throttled_alike(
    login: Login, worker: User, clock: FrozenClock
) -> None:
    for email in (worker.email, "nobody-here@example.org"):
        answers = [login(email, WRONG, source=ABUSER) for _ in range(7)]
        assert [a.status_code for a in answers] == [401] * 6 + [429]
        assert answers[0].json() == {"error": "login_failed", "message": LOGIN_FAILED_MESSAGE}
        assert answers[6].json() == {
            "error": "too_many_attempts",
            "message": "Too many failed logins from this address: wait 1 s before trying again."
            " Logins from elsewhere are not affected.",
        }
        clock.advance(timedelta(minutes=20))


def test_delays_double_from_one_second_to_the_cap() -> None:
    cap = timedelta(minutes=15)
    assert [delay_after(n, free=5, cap=cap) for n in (1, 5)] == [None, None]
    assert [delay_after(n, free=5, cap=cap).total_seconds() for n in range(6, 17)] == [  # type: ignore[union-attr]
        1,
        2,
        4,
        8,
        16,
        32,
        64,
        128,
        256,
        512,
        900,
    ]
    assert delay_after(10_000, free=5, cap=cap) == cap
    # One source, waiting out every delay, fails at most 15 times a window on one account:
    # the account-wide lock (100) needs at least seven sources.
    assert most_from_one_source(free=5, cap=cap, window=timedelta(minutes=15)) == 15


def test_one_source_failing_as_fast_as_it_may_for_an_hour_never_locks_the_account(
    login: Login, worker: User, db: Session, clock: FrozenClock
) -> None:
    start, tries = clock.now(), 0
    while clock.now() < start + timedelta(hours=1):
        response = login(worker.email, WRONG, source=ABUSER)
        if response.status_code == 429:
            clock.advance(timedelta(seconds=_waits(response)))
        else:
            tries += 1
    assert tries == 60  # fifteen a window, four windows
    db.refresh(worker)
    assert worker.locked_until is None
    assert login(worker.email, PASSWORD, source=WORKER).status_code == 200
    assert db.exec(select(OutboxMessage)).all() == []  # below the alert level, nobody is woken


def test_many_sources_together_lock_the_account_and_her_admins_are_told(
    login: Login, worker: User, world: World, db: Session, clock: FrozenClock, client: TestClient
) -> None:
    organisation_id = worker.organisation_id
    admin = world.user(db.get_one(Organisation, organisation_id), Role.ADMIN)
    sources = [f"203.0.113.{n}" for n in range(1, 21)]
    for n in range(99):  # five free failures from each of twenty addresses, less one
        assert login(worker.email, WRONG, source=sources[n // 5]).status_code == 401
    db.refresh(worker)
    assert worker.locked_until is None
    alerts = db.exec(select(OutboxMessage).order_by(col(OutboxMessage.recipient))).all()
    assert sorted(m.recipient for m in alerts) == sorted([worker.email, admin.email])
    assert {m.subject for m in alerts} == {"Sigurna: failed logins blocked"}
    assert all(worker.email not in m.body and ABUSER not in m.body for m in alerts)
    assert login(worker.email, WRONG, source=sources[19]).status_code == 401  # the hundredth
    db.refresh(worker)
    assert worker.locked_until == clock.now() + timedelta(minutes=15)
    assert len(db.exec(select(OutboxMessage)).all()) == 4  # and the lock is told too
    assert login(worker.email, PASSWORD, source=WORKER).status_code == 401
    # An admin lifts the lock once it is safe: she is in at once, and it is audited.
    act_as(client, world.login_cookie(admin))
    unlocked = client.post(f"/organisations/{organisation_id}/users/{worker.id}/unlock")
    assert unlocked.status_code == 204
    assert login(worker.email, PASSWORD, source=WORKER).status_code == 200
    actions = db.exec(select(AuditEvent.action).order_by(col(AuditEvent.id))).all()
    assert actions.count("auth.account_locked") == 1
    assert "user.unlocked" in actions
    # The unlock also forgets every address's count: the last one starts afresh.
    for _ in range(5):
        assert login(worker.email, WRONG, source=sources[19]).status_code == 401


@pytest.mark.parametrize(
    ("peer", "forwarded", "source"),
    [
        (WORKER, None, WORKER),
        (WORKER, "192.0.2.1", WORKER),  # not our proxy: its header is ignored
        (PROXY, "192.0.2.1", "192.0.2.1"),
        (PROXY, "192.0.2.1, 10.0.0.9", "192.0.2.1"),  # through two of our proxies
        (PROXY, "198.51.100.7, 192.0.2.1", "192.0.2.1"),  # the client cannot prepend a fake
        (PROXY, "not-an-address", PROXY),
        (PROXY, None, PROXY),
        (None, None, "unknown"),
    ],
)
def test_the_source_is_the_client_as_our_proxies_saw_it(
    peer: str | None, forwarded: str | None, source: str
) -> None:
    assert source_of(peer, forwarded, ["10.0.0.0/8"]) == source


@pytest.fixture
def proxied_login(
    settings: Settings, engine: object, uow: UnitOfWork, clock: FrozenClock
) -> Iterator[Login]:
    app = create_app(
        settings.model_copy(update={"trusted_proxies": ["10.0.0.0/8"]}),
        engine=engine,  # type: ignore[arg-type]
        clock=clock,
    )
    app.state.unit_of_work = uow
    with TestClient(app, base_url="https://testserver", client=(PROXY, 4000)) as proxy:

        def attempt(email: str, password: str, *, forwarded: str) -> httpx2.Response:
            return proxy.post(
                "/auth/login",
                json={"email": email, "password": password},
                headers={"X-Forwarded-For": forwarded},
            )

        yield attempt


def test_behind_the_proxy_each_client_has_its_own_count(proxied_login: Login, worker: User) -> None:
    for _ in range(6):
        assert proxied_login(worker.email, WRONG, forwarded=ABUSER).status_code == 401
    assert proxied_login(worker.email, WRONG, forwarded=ABUSER).status_code == 429
    # A forged first hop does not make him someone new: the proxy appends what it saw.
    assert proxied_login(worker.email, WRONG, forwarded=f"192.0.2.99, {ABUSER}").status_code == 429
    assert proxied_login(worker.email, PASSWORD, forwarded=WORKER).status_code == 200
