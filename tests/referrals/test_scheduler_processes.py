"""`sigurna scheduler` as an operator runs it: real processes on a real PostgreSQL database,
sending signed webhooks to a real HTTP receiver.

Reminders fall due while the scheduler is killed (SIGKILL) and restarted thirty times: every
reminder's webhook arrives, a repeat is the same message (the same key, the same body), and the
database records each message once. Two schedulers on one database send each of 200 messages
exactly once. Each test has a PostgreSQL database of its own, dropped afterwards.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select, update
from standardwebhooks.webhooks import Webhook

from core.audit import Actor
from core.clock import SystemClock
from core.config import Settings
from core.crypto import cipher_from_settings
from core.db import create_db_engine, unit_of_work, upgrade
from core.localtime import add_local_days
from core.models import Organisation, OrganisationKind, Role, User, UserRole
from notifications import service as outbox
from notifications.models import (
    Channel,
    ContactCreate,
    DeliveryState,
    OutboxMessage,
    Purpose,
)
from referrals import service as referrals
from referrals.models import (
    ConsentScope,
    ConsentSet,
    LegalBasis,
    PersonFacts,
    PersonSex,
    Referral,
    ReferralCreate,
    ReferralReminder,
    ReminderKind,
    ReminderState,
    Source,
)
from tests.conftest import (
    TEST_ENCRYPTION_KEYS,
    TEST_SECRET,
    TWILIO_AUTH_TOKEN,
    drop_postgres_database,
    make_case,
    make_settings,
    private_postgres_url,
    recreate_postgres_database,
)
from tests.receivers import Received, WebhookReceiver, webhook_receiver

ZONE = "Europe/Podgorica"
BASE_URL = "https://sigurna.example.org"
# Personal data put into every referral: it must never reach a notification.
MARKER = "Qzvjezdana Markerovic"
REFERRALS = 40  # five reminder rows each (created, 3 days and 1 day before, deadline, overdue)
KILLS = 30
SEED = 20260302
SCHEDULER = Path(sys.executable).with_name("sigurna")
# A message claimed by a process that was killed before recording it is sent again once its
# claim has lapsed (short here, 2 minutes by default): the last scheduler needs that long, and
# a little more.
CLAIM_SECONDS = 5
DRAIN = timedelta(seconds=CLAIM_SECONDS + 45)
BODY_KEYS = ["deadline", "login", "overdue_day", "referral", "type"]


# --- the database, the data and the processes -------------------------------------------------


@dataclass(frozen=True)
class Database:
    url: str
    settings: Settings
    engine: Engine


@pytest.fixture
def scheduler_db(backend: str) -> Iterator[Database]:
    """A migrated PostgreSQL database of this test's own, dropped afterwards: the schedulers
    commit for real, and nothing they commit reaches the database other tests share."""
    assert backend == "postgresql"
    url = private_postgres_url("_scheduler")
    recreate_postgres_database(url)
    settings = make_settings(url, webhook_allow_private_hosts=True, public_base_url=BASE_URL)
    engine = create_db_engine(settings)
    try:
        upgrade(settings, engine)
        yield Database(url, settings, engine)
    finally:
        engine.dispose()
        drop_postgres_database(url)


@dataclass(frozen=True)
class Expected:
    """The webhook one reminder must produce."""

    reminder_id: uuid.UUID
    key: str  # the outbox idempotency key, sent as webhook-id
    body: dict[str, object]


@dataclass(frozen=True)
class Made:
    contact_id: uuid.UUID
    secret: str
    messages: dict[str, Expected]  # by idempotency key
    deadlines: dict[uuid.UUID, datetime]  # by referral
    case_references: list[str]


def _make(database: Database, receiver: WebhookReceiver) -> Made:
    """An NGO, a CSW with a webhook for referrals, and REFERRALS referrals to the CSW, committed."""
    clock = SystemClock()
    cipher = cipher_from_settings(database.settings)
    actor = Actor.system("test")
    with unit_of_work(database.engine) as session:
        now = clock.now()
        ngo, csw = (
            Organisation(
                name=f"{label} {uuid.uuid4().hex[:8]}",
                kind=kind,
                country_code="ME",
                time_zone=ZONE,
                created_at=now,
            )
            for label, kind in (("NGO", OrganisationKind.NGO), ("CSW", OrganisationKind.CSW))
        )
        session.add_all([ngo, csw])
        session.flush()
        contact, secret = outbox.create_contact(
            session,
            now=now,
            organisation_id=csw.id,
            data=ContactCreate(
                channel=Channel.WEBHOOK,
                address=receiver.url,
                label="CSW intake desk",
                purposes=[Purpose.REFERRALS],
            ),
            settings=database.settings,
            cipher=cipher,
            actor=actor,
        )
        assert secret is not None
        # The counselor whose cases the referrals are made from.
        author = User(
            organisation_id=ngo.id,
            email=f"author-{uuid.uuid4().hex[:8]}@example.org",
            display_name="Test Counselor",
            password_hash="-",
            created_at=now,
            password_changed_at=now,
        )
        session.add(author)
        session.flush()
        session.add(UserRole(user_id=author.id, role=Role.COUNSELOR))
        made = []
        for n in range(REFERRALS):
            consent = n % 2 == 0
            referral = referrals.create_referral(
                session,
                now=now,
                organisation_id=ngo.id,
                data=ReferralCreate(
                    source=Source.CASE,
                    case_id=make_case(session, author, cipher=cipher, now=now),
                    to_organisation_id=csw.id,
                    client=PersonFacts(name=f"{MARKER} {n}", sex=PersonSex.FEMALE, age=34),
                    consent=ConsentSet(
                        scope=[ConsentScope.IDENTITY, ConsentScope.CIRCUMSTANCES],
                        circumstances=f"{MARKER} left home with two children tonight.",
                    )
                    if consent
                    else None,
                    legal_basis=None if consent else LegalBasis.LEGAL_OBLIGATION,
                    legal_note=None if consent else "Domestic violence law: duty to report.",
                    respond_by=now + timedelta(days=10),
                ),
                cipher=cipher,
                actor=actor,
                user_id=author.id,
            )
            made.append(referral)
    with unit_of_work(database.engine) as session:
        # Read back as the scheduler will read them.
        reminders = session.exec(select(ReferralReminder)).all()
        saved = {
            r.id: r
            for r in session.exec(
                select(Referral).where(col(Referral.id).in_([r.id for r in made]))
            ).all()
        }
    assert Counter(r.kind for r in reminders) == {
        ReminderKind.CREATED: REFERRALS,
        ReminderKind.BEFORE_3_DAYS: REFERRALS,
        ReminderKind.BEFORE_1_DAY: REFERRALS,
        ReminderKind.DEADLINE: REFERRALS,
        ReminderKind.OVERDUE: REFERRALS,
    }
    messages: dict[str, Expected] = {}
    for reminder in reminders:
        referral = saved[reminder.referral_id]
        assert referral.deadline is not None
        key = f"referral:{reminder.id}:{contact.id}"
        messages[key] = Expected(
            reminder_id=reminder.id,
            key=key,
            body={
                "type": f"referral.{reminder.kind}",
                "referral": referral.reference,
                "deadline": referral.deadline.isoformat(),
                "overdue_day": reminder.sequence or None,
                "login": f"{BASE_URL}/",
            },
        )
    return Made(
        contact_id=contact.id,
        secret=secret,
        messages=messages,
        deadlines={r.id: r.deadline for r in saved.values() if r.deadline is not None},
        case_references=sorted(r.case_reference for r in saved.values() if r.case_reference),
    )


def _fall_due(database: Database, made: Made, due_at: Callable[[int], datetime]) -> None:
    """Move the reminders to real instants: the n-th (in a fixed order) to `due_at(n)`."""
    with unit_of_work(database.engine) as session:
        ordered = sorted(made.messages.values(), key=lambda e: e.key)
        for n, expected in enumerate(ordered):
            session.exec(
                update(ReferralReminder)
                .where(col(ReferralReminder.id) == expected.reminder_id)
                .values(due_at=due_at(n))
            )


@dataclass
class Schedulers:
    """Every `sigurna scheduler` process a test starts, with its output files."""

    database: Database
    directory: Path
    started: list[tuple[subprocess.Popen[bytes], Path, Path]] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SIGURNA_")}
        env.update(
            {
                "SIGURNA_DATABASE_URL": self.database.url,
                "SIGURNA_MODE": "test",
                "SIGURNA_SECRET_KEY": TEST_SECRET,
                "SIGURNA_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,
                "SIGURNA_TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
                "SIGURNA_PUBLIC_BASE_URL": BASE_URL,
                "SIGURNA_WEBHOOK_ALLOW_PRIVATE_HOSTS": "true",
                "SIGURNA_SWEEP_INTERVAL_SECONDS": "0.2",
                "SIGURNA_DELIVERY_INTERVAL_SECONDS": "0.2",
                "SIGURNA_DELIVERY_CLAIM_SECONDS": str(CLAIM_SECONDS),
                "SIGURNA_ROSTER_CACHE_PATH": str(self.directory / "roster-cache.json"),
                "SIGURNA_LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def start(self) -> subprocess.Popen[bytes]:
        number = len(self.started)
        out = self.directory / f"scheduler-{number:02d}.out"
        err = self.directory / f"scheduler-{number:02d}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(  # noqa: S603 (our own command, no shell)
                [str(SCHEDULER), "scheduler"],
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                cwd=self.directory,
                env=self.environment(),
            )
        self.started.append((process, out, err))
        return process

    def output(self, process: subprocess.Popen[bytes]) -> str:
        for started, out, err in self.started:
            if started is process:
                return (
                    f"\n--- scheduler pid {process.pid} stdout:\n{out.read_text()[-3000:]}"
                    f"\n--- stderr:\n{err.read_text()[-6000:]}"
                )
        return ""

    def wait_until_running(self, process: subprocess.Popen[bytes], within: float = 30) -> None:
        """Until the process says it is running (it has built the application and its jobs)."""
        out = next(o for p, o, _ in self.started if p is process)
        deadline = time.monotonic() + within
        while b"scheduler running" not in out.read_bytes():
            code = process.poll()
            assert code is None, f"the scheduler exited ({code}) before running" + self.output(
                process
            )
            assert time.monotonic() < deadline, "the scheduler did not start" + self.output(process)
            time.sleep(0.02)

    def run_for(self, process: subprocess.Popen[bytes], seconds: float) -> None:
        """Let it run; it must not exit by itself meanwhile."""
        try:
            code = process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return
        pytest.fail(f"the scheduler exited by itself ({code})" + self.output(process))

    def stop(self, process: subprocess.Popen[bytes]) -> int:
        """SIGTERM, as an operator's supervisor stops it; its exit code."""
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail("the scheduler did not stop on SIGTERM" + self.output(process))

    def kill_all(self) -> None:
        for process, _, _ in self.started:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def schedulers(scheduler_db: Database, tmp_path: Path) -> Iterator[Schedulers]:
    assert SCHEDULER.exists(), f"no sigurna command beside {sys.executable}"
    started = Schedulers(scheduler_db, tmp_path)
    try:
        yield started
    finally:
        started.kill_all()


# --- what the database and the receiver saw ---------------------------------------------------


def _outstanding(database: Database, made: Made) -> tuple[int, int]:
    """(messages not yet recorded as sent, reminders still pending and due)."""
    now = SystemClock().now()
    with unit_of_work(database.engine) as session:
        sent = session.exec(
            select(OutboxMessage.idempotency_key).where(OutboxMessage.state == DeliveryState.SENT)
        ).all()
        due = session.exec(
            select(ReferralReminder.id).where(
                ReferralReminder.state == ReminderState.PENDING,
                col(ReferralReminder.due_at) <= now,
            )
        ).all()
    return len(set(made.messages) - set(sent)), len(due)


def _outbox_states(database: Database) -> list[tuple[str, int, str | None]]:
    """(state, attempts, last error) of every message not sent: what went wrong, if anything."""
    with unit_of_work(database.engine) as session:
        rows = session.exec(
            select(OutboxMessage.state, OutboxMessage.attempts, OutboxMessage.last_error).where(
                OutboxMessage.state != DeliveryState.SENT
            )
        ).all()
    return sorted({(str(state), attempts, error) for state, attempts, error in rows})


def _wait_until_delivered(
    database: Database, made: Made, within: timedelta, logs: Callable[[], str]
) -> None:
    deadline = time.monotonic() + within.total_seconds()
    while True:
        unsent, due = _outstanding(database, made)
        if (unsent, due) == (0, 0):
            return
        assert time.monotonic() < deadline, (
            f"after {within}: {unsent} messages unsent, {due} due reminders pending; "
            f"outbox: {_outbox_states(database)}" + logs()
        )
        time.sleep(0.1)


def _check_database(database: Database, made: Made, receiver_url: str) -> None:
    """Each message recorded once, sent; each reminder done; the next overdue day scheduled."""
    now = SystemClock().now()
    with unit_of_work(database.engine) as session:
        rows = session.exec(select(OutboxMessage)).all()
        reminders = session.exec(select(ReferralReminder)).all()
    keys = Counter(row.idempotency_key for row in rows)
    assert sorted(keys) == sorted(made.messages)
    assert set(keys.values()) == {1}
    for row in rows:
        expected = made.messages[row.idempotency_key]
        assert (row.state, row.attempts, row.claimed_until, row.last_error) == (
            DeliveryState.SENT,
            1,
            None,
            None,
        ), row.idempotency_key
        assert row.sent_at is not None
        assert (row.channel, row.recipient, row.topic) == (
            Channel.WEBHOOK,
            receiver_url,
            expected.body["type"],
        )
        assert json.loads(row.body) == expected.body
    reminder_ids = {e.reminder_id for e in made.messages.values()}
    ours = [r for r in reminders if r.id in reminder_ids]
    others = [r for r in reminders if r.id not in reminder_ids]
    assert len(ours) == len(reminder_ids)
    assert {(r.state, r.done_at is not None) for r in ours} == {(ReminderState.DONE, True)}
    # Each overdue reminder scheduled the next day's, due at the same local time two days after
    # the deadline: nothing else is pending, and nothing pending is due.
    following = sorted(
        ((r.referral_id, r.kind, r.sequence, r.due_at, r.state) for r in others),
        key=str,
    )
    assert following == sorted(
        (
            (
                referral_id,
                ReminderKind.OVERDUE,
                2,
                add_local_days(deadline, 2, ZONE),
                ReminderState.PENDING,
            )
            for referral_id, deadline in made.deadlines.items()
        ),
        key=str,
    )
    assert all(due_at > now for _, _, _, due_at, _ in following)


def _complete(item: Received) -> bool:
    """A request the sender finished writing (a process killed mid-request leaves it short)."""
    return len(item.body.encode()) == int(item.headers.get("content-length", "-1"))


def _check_received(
    received: list[Received], made: Made, sent_from: datetime, sent_until: datetime
) -> Counter[str]:
    """Every message arrived, signed, the same body under the same key, with no personal data;
    how many times each key arrived."""
    arrived: Counter[str] = Counter()
    bodies: dict[str, set[str]] = {}
    signer = Webhook(made.secret)
    for item in received:
        key = item.headers.get("webhook-id", "")
        assert key in made.messages, key
        if not _complete(item):
            continue
        arrived[key] += 1
        bodies.setdefault(key, set()).add(item.body)
        assert item.path == "/sigurna"
        assert item.headers["content-type"] == "application/json"
        assert item.headers["idempotency-key"] == key
        stamp = int(item.headers["webhook-timestamp"])
        assert int(sent_from.timestamp()) <= stamp <= int(sent_until.timestamp()) + 1
        at = datetime.fromtimestamp(stamp, tz=UTC)
        assert item.headers["webhook-signature"] == signer.sign(key, at, item.body), key
        body = json.loads(item.body)
        assert sorted(body) == BODY_KEYS
        assert body == made.messages[key].body
        for text in [item.body, item.path, *item.headers.values()]:
            assert MARKER not in text
            assert not any(case in text for case in made.case_references)
    assert sorted(arrived) == sorted(made.messages)
    # A repeat is the same message byte for byte.
    assert {key: len(found) for key, found in bodies.items()} == dict.fromkeys(made.messages, 1)
    return arrived


# --- the tests --------------------------------------------------------------------------------


@pytest.mark.postgresql_only
def test_a_scheduler_killed_thirty_times_while_reminders_fall_due_delivers_each_once(
    scheduler_db: Database, schedulers: Schedulers
) -> None:
    """SIGKILL at random moments while reminders fall due, thirty times, restarting each time:
    every reminder's webhook arrives at least once, a repeat carries the same key and body, and
    the database records each message once, sent, and each reminder done."""
    rng = random.Random(SEED)
    with webhook_receiver() as receiver:
        made = _make(scheduler_db, receiver)
        start = SystemClock().now()
        offsets = sorted(rng.uniform(0, 20) for _ in made.messages)
        _fall_due(scheduler_db, made, lambda n: start + timedelta(seconds=offsets[n]))

        for _ in range(KILLS):
            process = schedulers.start()
            schedulers.wait_until_running(process)
            schedulers.run_for(process, rng.uniform(0.3, 1.5))
            process.kill()
            assert process.wait(timeout=10) == -signal.SIGKILL
        last = schedulers.start()
        schedulers.wait_until_running(last)
        _wait_until_delivered(scheduler_db, made, DRAIN, lambda: schedulers.output(last))
        assert schedulers.stop(last) == 0, schedulers.output(last)
        end = SystemClock().now()
        received = receiver.snapshot()

    arrived = _check_received(received, made, start, end)
    _check_database(scheduler_db, made, receiver.url)
    repeats = sum(arrived.values()) - len(arrived)
    print(f"{len(arrived)} messages, {repeats} sent again after a kill")  # noqa: T201


@pytest.mark.postgresql_only
def test_two_schedulers_on_one_database_send_each_of_200_due_reminders_once(
    scheduler_db: Database, schedulers: Schedulers
) -> None:
    """Two schedulers started at once on one database, 200 reminders due: each message is sent
    exactly once (nobody was killed, so not even a repeat) and recorded once."""
    with webhook_receiver() as receiver:
        made = _make(scheduler_db, receiver)
        assert len(made.messages) == 200
        start = SystemClock().now()
        _fall_due(
            scheduler_db,
            made,
            lambda n: start - timedelta(seconds=1) + n * timedelta(milliseconds=5),
        )

        pair = [schedulers.start(), schedulers.start()]
        for process in pair:
            schedulers.wait_until_running(process)

        def logs() -> str:
            return "".join(schedulers.output(p) for p in pair)

        _wait_until_delivered(scheduler_db, made, timedelta(seconds=60), logs)
        codes = [schedulers.stop(process) for process in pair]
        assert codes == [0, 0], logs()
        end = SystemClock().now()
        received = receiver.snapshot()

    assert all(_complete(item) for item in received)
    arrived = _check_received(received, made, start, end)
    assert arrived == Counter(dict.fromkeys(made.messages, 1))
    assert len(received) == 200
    _check_database(scheduler_db, made, receiver.url)
    for _, _, err in schedulers.started:
        assert "Traceback" not in err.read_text(), logs()
