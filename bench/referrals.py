"""Referral reminders and the outbox on PostgreSQL: the deadline sweep and webhook delivery.

100 000 open referrals from a few NGOs to a few CSWs, five reminder rows each (created, done;
3 days and 1 day before the deadline, the deadline, the first overdue day, pending), seeded with
COPY in a steady state: everything due before the seed's instant has been swept (and its webhook
sent), everything after is pending. Each CSW has a signed webhook for referrals and an e-mail
for escalations; each NGO a supervisor (the overdue alerts' recipients).

1. The sweep (`referrals.service.sweep`, as the scheduler runs it) at the instant when exactly
   1 000 reminders are due, target < 2 s; each run moves the clock on to the next 1 000.
2. The sweep with nothing due, target < 50 ms, and the plan of its claim query: it must read the
   partial index `ix_referral_reminder_due`, never scan the table.
3. Delivery (`notifications.service.deliver_due`) of pending webhook messages to a real HTTP
   server on 127.0.0.1 (another process, threaded), with 1 and 8 workers: messages per second.

Fictional data only: "Bench CSW 3", "Client 12", csw3.example.org.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import random
import statistics
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench.shelters import _Table
from bench.support import bench_settings, fresh_postgres
from core.clock import SystemClock
from core.config import Settings
from core.crypto import FieldCipher, cipher_from_settings
from core.db import UnitOfWork, create_db_engine, unit_of_work, upgrade
from core.localtime import add_local_days
from notifications import service as outbox
from notifications.channels import Outgoing, SignedWebhook
from notifications.models import Channel
from referrals import service
from referrals.models import ReminderKind

REFERRALS = 100_000
NGOS = 4
CSWS = 8
ZONES = ("Europe/Podgorica", "Europe/Belgrade", "Europe/Sarajevo", "Europe/Zagreb")
DOSSIERS = 64  # sealed dossiers, reused: sealing every row would only slow the seed
DAY = 86_400.0  # seconds
BASE_URL = "https://sigurna.example.org"

DUE = 1_000  # reminders due in each measured sweep
SWEEP_RUNS = 5  # after one cold run
EMPTY_RUNS = 20  # enough for psycopg to prepare the claim and PostgreSQL to cache its plan
DELIVERIES = 2_000  # messages per delivery run
WORKERS = (1, 8)
SLOW_ANSWER_S = 0.02  # then a receiver that answers after 20 ms, like a distant host
SLOW_DELIVERIES = 400
TARGET_SWEEP_MS = 2000.0
TARGET_EMPTY_MS = 50.0
PARTIAL_INDEX = "ix_referral_reminder_due"

# In foreign-key order.
_TABLES = (
    ("organisation", "id name kind country_code time_zone created_at"),
    (
        "user_account",
        "id organisation_id email display_name is_volunteer password_hash must_change_password"
        " created_at password_changed_at",
    ),
    ("user_role", "user_id role"),
    (
        "notification_contact",
        "id organisation_id channel address label purposes enabled secret_key_id secret_sealed"
        " created_at updated_at",
    ),
    (
        "referral",
        "id reference from_organisation_id to_organisation_id source team call_id case_reference"
        " people children deadline status consent_scope consent_recorded_by consent_recorded_at"
        " legal_basis dossier_key_id dossier_sealed created_by created_at acknowledged_at",
    ),
    ("referral_reminder", "id referral_id kind sequence due_at state done_at"),
    (
        "outbox_message",
        "id organisation_id idempotency_key topic channel recipient body secret_key_id"
        " secret_sealed alert_on_dead state attempts next_attempt_at created_at sent_at",
    ),
)


# --- the seed ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Csw:
    id: uuid.UUID
    zone: str
    webhook_id: uuid.UUID
    webhook_url: str


@dataclass
class _Seed:
    start: datetime  # the seed's "now": due before it is done, due after it is pending
    ngos: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)  # (id, supervisor)
    csws: list[_Csw] = field(default_factory=list)
    reminders: int = 0
    pending: int = 0
    history: int = 0  # sent messages of the reminders already swept


class _Seeder:
    def __init__(self, url: str, cipher: FieldCipher, start: datetime) -> None:
        self.conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.cipher = cipher
        self.seed = _Seed(start)
        self.tables = {name: _Table(name, columns) for name, columns in _TABLES}
        self.secret = cipher.seal(outbox.new_signing_secret(), context=outbox.SECRET_CONTEXT)
        self.dossiers = [
            cipher.seal(
                json.dumps(
                    {
                        "client": {"name": f"Client {n}", "sex": "female", "age": 20 + n % 40},
                        "children": [],
                        "circumstances": "Bench: fictional circumstances.",
                    },
                    sort_keys=True,
                ),
                context=service.DOSSIER_CONTEXT,
            )
            for n in range(DOSSIERS)
        ]
        self.used: set[datetime] = set()  # pending due instants, kept distinct

    def organisations(self) -> None:
        tables, start = self.tables, self.seed.start
        for n in range(1, NGOS + 1):
            ngo, supervisor = uuid.uuid4(), uuid.uuid4()
            tables["organisation"].add(ngo, f"Bench NGO {n}", "ngo", "ME", ZONES[0], start)
            tables["user_account"].add(
                supervisor,
                ngo,
                f"bench-supervisor-{n}@example.org",
                f"Bench Supervisor {n}",
                False,
                "x",
                False,
                start,
                start,
            )
            tables["user_role"].add(supervisor, "supervisor")
            self.seed.ngos.append((ngo, supervisor))
        for n in range(1, CSWS + 1):
            csw, zone = uuid.uuid4(), ZONES[n % len(ZONES)]
            tables["organisation"].add(csw, f"Bench CSW {n}", "csw", "ME", zone, start)
            webhook = _Csw(csw, zone, uuid.uuid4(), f"https://csw{n}.example.org/sigurna")
            tables["notification_contact"].add(
                webhook.webhook_id,
                csw,
                "webhook",
                webhook.webhook_url,
                "Intake desk",
                '["referrals"]',
                True,
                self.secret.key_id,
                self.secret.blob,
                start,
                start,
            )
            tables["notification_contact"].add(
                uuid.uuid4(),
                csw,
                "email",
                f"head@csw{n}.example.org",
                "Head of the centre",
                '["escalation"]',
                True,
                None,
                None,
                start,
                start,
            )
            self.seed.csws.append(webhook)

    def referrals(self) -> None:
        """Deadlines from a day ago to 20 days ahead; each referral made 4 to 14 days before."""
        rng = random.Random(2024)
        start = self.seed.start
        for n in range(REFERRALS):
            ngo, supervisor = self.seed.ngos[n % NGOS]
            csw = self.seed.csws[rng.randrange(CSWS)]
            while True:
                deadline = start + timedelta(seconds=rng.uniform(-DAY, 20 * DAY))
                dues = [
                    (ReminderKind.BEFORE_3_DAYS, add_local_days(deadline, -3, csw.zone)),
                    (ReminderKind.BEFORE_1_DAY, add_local_days(deadline, -1, csw.zone)),
                    (ReminderKind.DEADLINE, deadline),
                    (ReminderKind.OVERDUE, add_local_days(deadline, 1, csw.zone)),
                ]
                pending = {due for _, due in dues if due > start}
                if len(pending) == sum(due > start for _, due in dues) and not pending & self.used:
                    break
            self.used |= pending
            created = min(
                deadline - timedelta(seconds=rng.uniform(4 * DAY, 14 * DAY)),
                start - timedelta(seconds=rng.uniform(60, DAY)),
            )
            child = rng.random() < 0.1
            status = rng.choices(("open", "acknowledged", "information_requested"), (7, 2, 1))[0]
            call = rng.random() < 0.6
            dossier = self.dossiers[n % DOSSIERS]
            referral_id = uuid.uuid4()
            self.tables["referral"].add(
                referral_id,
                f"RF-{n:08X}",
                ngo,
                csw.id,
                "call" if call else "case",
                "child_protection" if child else "general",
                uuid.uuid4() if call else None,
                None if call else f"BENCH/{n}",
                rng.randint(1, 3) if child else 1,
                rng.randint(1, 3) if child else 0,
                deadline,
                status,
                "[]" if child else '["circumstances", "identity"]',
                None if child else supervisor,
                None if child else created,
                "child_at_risk" if child else None,
                dossier.key_id,
                dossier.blob,
                supervisor,
                created,
                None if status == "open" else created + timedelta(hours=2),
            )
            self._reminder(referral_id, csw, ngo, ReminderKind.CREATED, 0, created)
            for kind, due in dues:
                sequence = 1 if kind is ReminderKind.OVERDUE else 0
                self._reminder(referral_id, csw, ngo, kind, sequence, due)

    def _reminder(
        self,
        referral_id: uuid.UUID,
        csw: _Csw,
        ngo: uuid.UUID,
        kind: ReminderKind,
        sequence: int,
        due: datetime,
    ) -> None:
        reminder_id = uuid.uuid4()
        done = due <= self.seed.start
        self.tables["referral_reminder"].add(
            reminder_id,
            referral_id,
            kind.value,
            sequence,
            due,
            "done" if done else "pending",
            due if done else None,
        )
        self.seed.reminders += 1
        self.seed.pending += not done
        if done:  # its webhook went out when it was swept
            self.seed.history += 1
            self.tables["outbox_message"].add(
                uuid.uuid4(),
                ngo,
                f"referral:{reminder_id}:{csw.webhook_id}",
                f"referral.{kind.value}",
                "webhook",
                csw.webhook_url,
                json.dumps({"type": f"referral.{kind.value}", "login": f"{BASE_URL}/"}),
                self.secret.key_id,
                self.secret.blob,
                True,
                "sent",
                1,
                due,
                due,
                due,
            )

    def flush(self) -> None:
        with psycopg.connect(self.conninfo) as connection:
            # Consistent by construction: skip the per-row foreign-key triggers.
            connection.execute("SET session_replication_role = replica")
            with connection.cursor() as cursor:
                for table in self.tables.values():
                    table.copy(cursor)
            connection.commit()
            connection.autocommit = True
            connection.execute("VACUUM (ANALYZE)")


# --- what the database did -------------------------------------------------------------------


class _Tally:
    """Round trips, commits and time spent waiting on the database (calling thread only)."""

    def __init__(self, engine: Engine) -> None:
        self.statements = 0
        self.commits = 0
        self.db_s = 0.0
        self.claim: tuple[str, Any] | None = None  # the sweep's claim: statement, parameters
        self._started: dict[int, float] = {}
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)
        sa.event.listen(engine, "commit", self._commit)

    def reset(self) -> None:
        self.statements = self.commits = 0
        self.db_s = 0.0

    def _before(self, _c: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        self.statements += 1
        claim = statement.startswith("SELECT") and statement.endswith("FOR UPDATE SKIP LOCKED")
        if claim and "FROM referral_reminder" in statement:
            self.claim = (statement, parameters)
        self._started[id(cursor)] = time.perf_counter()

    def _after(self, _c: Any, cursor: Any, *_: Any) -> None:
        self.db_s += time.perf_counter() - self._started.pop(id(cursor), time.perf_counter())

    def _commit(self, _c: Any) -> None:
        self.commits += 1


# --- the sweep -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SweepRun:
    ms: float
    handled: int
    messages: int
    following: int  # overdue reminders of the next day it scheduled
    statements: int
    commits: int
    db_ms: float


def _local(settings: Settings) -> Settings:
    """The receiver is on 127.0.0.1, which real webhook contacts may not be."""
    return settings.model_copy(update={"webhook_allow_private_hosts": True})


def _scalar(engine: Engine, query: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(sa.text(query), params).scalar_one()


def _window(engine: Engine) -> tuple[datetime, Counter[str]]:
    """The instant at which exactly DUE more reminders are due, and their kinds."""
    now: datetime = _scalar(
        engine,
        "SELECT due_at FROM referral_reminder WHERE state = 'pending'"
        " ORDER BY due_at OFFSET :skip LIMIT 1",
        skip=DUE - 1,
    )
    with engine.connect() as connection:
        kinds = Counter[str](
            dict(
                connection.execute(
                    sa.text(
                        "SELECT kind, count(*) FROM referral_reminder"
                        " WHERE state = 'pending' AND due_at <= :now GROUP BY kind"
                    ),
                    {"now": now},
                ).all()
            )
        )
    if kinds.total() != DUE:
        raise RuntimeError(f"{kinds.total()} reminders due at the window's end, not {DUE}")
    return now, kinds


def _sweep(engine: Engine, work: UnitOfWork, tally: _Tally, now: datetime) -> _SweepRun:
    tally.reset()
    started = time.perf_counter()
    handled = service.sweep(work, now=now, base_url=BASE_URL)
    ms = (time.perf_counter() - started) * 1000
    statements, commits, db_ms = tally.statements, tally.commits, tally.db_s * 1000
    messages = _scalar(
        engine, "SELECT count(*) FROM outbox_message WHERE created_at = :now", now=now
    )
    following = _scalar(
        engine,
        "SELECT count(*) FROM referral_reminder WHERE kind = 'overdue' AND sequence > 1",
    )
    return _SweepRun(ms, handled, messages, following, statements, commits, db_ms)


def _sweep_line(label: str, run: _SweepRun) -> str:
    return (
        f"    {label:<8} {run.ms:8.1f} ms  {run.handled:>5} reminders -> {run.messages:>5}"
        f" messages  {run.statements:>3} statements, {run.commits} commits,"
        f" {run.db_ms:6.1f} ms of it in cursor.execute"
    )


def _explain(engine: Engine, claim: tuple[str, Any]) -> list[str]:
    """EXPLAIN ANALYZE of the claim exactly as the sweep sent it (rolled back)."""
    statement, parameters = claim
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            rows = connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
            ).all()
        finally:
            transaction.rollback()
    return [str(row[0]) for row in rows]


def _prepared(engine: Engine) -> str:
    """How PostgreSQL planned the claim once psycopg prepared it (the pooled connection)."""
    with engine.connect() as connection:
        found = connection.execute(
            sa.text(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                " WHERE statement LIKE '%FROM referral_reminder%SKIP LOCKED%'"
            )
        ).first()
    if found is None:
        return "not prepared on the pooled connection"
    return f"prepared by psycopg: {found[1]} custom plans, {found[0]} generic"


# --- the webhook receiver (another process) --------------------------------------------------


def _receive(conn: Connection) -> None:
    """Serve POSTs on 127.0.0.1 (HTTP/1.1, a thread per connection) until told to stop."""
    lock = threading.Lock()
    ids: set[str] = set()
    counts = {"requests": 0, "unsigned": 0}
    delay = [0.0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver behind nginx would

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                counts["requests"] += 1
                counts["unsigned"] += not self.headers.get("webhook-signature")
                ids.add(self.headers.get("webhook-id", ""))
            if delay[0]:
                time.sleep(delay[0])
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send(server.server_address[1])
    while (command := conn.recv()) != "stop":
        if command == "count":
            with lock:
                conn.send((counts["requests"], len(ids), counts["unsigned"]))
                counts["requests"] = counts["unsigned"] = 0
                ids.clear()
        elif isinstance(command, float):
            delay[0] = command
    server.shutdown()
    server.server_close()


class _Receiver:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_receive, args=(child,), daemon=True)
        self._process.start()
        self.port: int = self._conn.recv()

    def counts(self) -> tuple[int, int, int]:
        """Requests, distinct webhook ids and unsigned requests since the last call."""
        self._conn.send("count")
        received: tuple[int, int, int] = self._conn.recv()
        return received

    def answer_after(self, seconds: float) -> None:
        self._conn.send(float(seconds))

    def stop(self) -> None:
        self._conn.send("stop")
        self._process.join(10)


# --- delivery --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Delivery:
    workers: int
    messages: int
    seconds: float
    sent: int
    received: int
    distinct: int
    statements: int
    commits: int
    db_s: float

    @property
    def rate(self) -> float:
        return self.sent / self.seconds


def _queue(seeder: _Seeder, port: int, count: int, at: datetime) -> None:
    """Pending webhook messages to the receiver, as the sweep would have made them."""
    words = service.wording(
        kind="before_1_day",
        reference="RF-0000BE9C",
        deadline=at + timedelta(days=1),
        zone=ZONES[0],
        base_url=BASE_URL,
    )
    table = seeder.tables["outbox_message"]
    ngos = seeder.seed.ngos
    tag = uuid.uuid4().hex[:12]
    for n in range(count):
        table.add(
            uuid.uuid4(),
            ngos[n % NGOS][0],
            f"referral:bench-{tag}-{n}",
            "referral.before_1_day",
            "webhook",
            f"http://127.0.0.1:{port}/bench/csw{n % CSWS + 1}",
            words.payload,
            seeder.secret.key_id,
            seeder.secret.blob,
            True,
            "pending",
            0,
            at,
            at,
            None,
        )
    with psycopg.connect(seeder.conninfo) as connection:
        # What the sweeps left pending goes to example.org: not part of this measurement.
        connection.execute("DELETE FROM outbox_message WHERE state = 'pending'")
        with connection.cursor() as cursor:
            table.copy(cursor)


def _deliver(
    engine: Engine,
    work: UnitOfWork,
    tally: _Tally,
    seeder: _Seeder,
    receiver: _Receiver,
    workers: int,
    count: int,
) -> _Delivery:
    settings = bench_settings(engine.url.render_as_string(hide_password=False))
    clock = SystemClock()
    webhook = SignedWebhook(_local(settings), clock)
    now = clock.now()
    _queue(seeder, receiver.port, count, now)
    tally.reset()
    sent = 0
    started = time.perf_counter()
    try:
        while True:
            done = outbox.deliver_due(
                work,
                now=now,
                transports={Channel.WEBHOOK: webhook},
                cipher=seeder.cipher,
                limit=100,
                workers=workers,
            )
            if not done:
                break
            sent += done
    finally:
        webhook.close()
    seconds = time.perf_counter() - started
    received, distinct, unsigned = receiver.counts()
    if unsigned:
        raise RuntimeError(f"{unsigned} webhooks arrived without a signature")
    return _Delivery(
        workers, count, seconds, sent, received, distinct, tally.statements,
        tally.commits, tally.db_s,
    )  # fmt: skip


def _transport_alone(settings_url: str, receiver: _Receiver, workers: int) -> float:
    """Messages per second through SignedWebhook alone (no database): the ceiling."""
    clock = SystemClock()
    webhook = SignedWebhook(_local(bench_settings(settings_url)), clock)
    secret = outbox.new_signing_secret()
    messages = [
        Outgoing(
            idempotency_key=f"bench-alone-{workers}-{n}",
            recipient=f"http://127.0.0.1:{receiver.port}/bench/alone",
            body='{"type":"referral.before_1_day"}',
            secret=secret,
        )
        for n in range(DELIVERIES)
    ]
    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(webhook.send, messages))
    finally:
        webhook.close()
    seconds = time.perf_counter() - started
    receiver.counts()
    return DELIVERIES / seconds


# --- the run ---------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _stats(values: list[float]) -> str:
    return f"median {statistics.median(values):.1f} ms, max {max(values):.1f} ms"


def _measure_sweeps(
    engine: Engine, work: UnitOfWork, tally: _Tally
) -> tuple[list[float], list[float], list[str]]:
    print(
        f"sweep with {DUE} reminders due (service.sweep, batches of 500; each run moves the"
        f" clock to the next {DUE}):"
    )
    due_ms: list[float] = []
    for run in range(SWEEP_RUNS + 1):
        now, kinds = _window(engine)
        if run == 0:
            print(
                "    due: " + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
            )
        result = _sweep(engine, work, tally, now)
        if result.handled != DUE:
            raise RuntimeError(f"the sweep handled {result.handled} reminders, not {DUE}")
        print(_sweep_line("cold" if run == 0 else f"run {run}", result))
        if run:
            due_ms.append(result.ms)
    print(f"    {_stats(due_ms)} (cold run left out); overdue reminders scheduled for the next")
    print(f"    day so far: {result.following}")

    # Nothing due: the instant just before the next pending reminder.
    first: datetime = _scalar(
        engine, "SELECT min(due_at) FROM referral_reminder WHERE state = 'pending'"
    )
    now = first - timedelta(microseconds=1)
    empty_ms: list[float] = []
    for _ in range(EMPTY_RUNS):
        tally.reset()
        started = time.perf_counter()
        handled = service.sweep(work, now=now, base_url=BASE_URL)
        empty_ms.append((time.perf_counter() - started) * 1000)
        if handled:
            raise RuntimeError(f"the sweep with nothing due handled {handled} reminders")
    print(
        f"sweep with nothing due: n={EMPTY_RUNS} {_stats(empty_ms)}"
        f" ({tally.statements} statement, {tally.commits} commit each); {_prepared(engine)}"
    )
    claim = tally.claim
    if claim is None:
        raise RuntimeError("the sweep's claim query was not seen")
    plan = _explain(engine, claim)
    print("  the sweep's claim query, as sent:")
    print("    " + " ".join(claim[0].split()))
    print("  EXPLAIN (ANALYZE, BUFFERS), nothing due:")
    for line in plan:
        print(f"    {line}")
    return due_ms, empty_ms, plan


def run() -> None:
    url = fresh_postgres("sigurna_bench_referrals")
    if url is None:
        print("postgresql: no server answers; set SIGURNA_BENCH_DATABASE_URL to run this benchmark")
        return
    settings = bench_settings(url)
    engine = create_db_engine(settings)
    upgrade(settings, engine)
    work: UnitOfWork = functools.partial(unit_of_work, engine)
    tally = _Tally(engine)
    receiver = _Receiver()
    try:
        started = time.monotonic()
        seeder = _Seeder(url, cipher_from_settings(settings), SystemClock().now())
        seeder.organisations()
        seeder.referrals()
        seeder.flush()
        seed = seeder.seed
        print(
            f"{NGOS} NGOs, {CSWS} CSWs (a signed webhook and an escalation e-mail each),"
            f" {REFERRALS} open referrals, {seed.reminders} reminders ({seed.pending} pending),"
            f" {seed.history} sent messages (seeded with COPY in"
            f" {time.monotonic() - started:.1f} s)"
        )
        due_ms, empty_ms, plan = _measure_sweeps(engine, work, tally)

        print(
            f"delivery: {DELIVERIES} pending webhook messages to 127.0.0.1 (ThreadingHTTPServer"
            " in another process, HTTP/1.1), deliver_due(limit=100) until none remain:"
        )
        deliveries: list[_Delivery] = []
        for workers in WORKERS:
            d = _deliver(engine, work, tally, seeder, receiver, workers, DELIVERIES)
            deliveries.append(d)
            alone = _transport_alone(url, receiver, workers)
            print(
                f"    workers={workers}: {d.rate:7.1f} msgs/s ({d.sent} sent in {d.seconds:.2f} s,"
                f" {d.received} POSTs received, {d.distinct} distinct ids);"
                f" {d.statements / max(d.sent, 1):.2f} statements and"
                f" {d.commits / max(d.sent, 1):.2f} commits a message,"
                f" {d.db_s / d.seconds:.0%} of the time in cursor.execute;"
                f" SignedWebhook alone (no database) {alone:.0f} msgs/s"
            )
        receiver.answer_after(SLOW_ANSWER_S)
        print(
            f"  the same, {SLOW_DELIVERIES} messages, the receiver answering after"
            f" {SLOW_ANSWER_S * 1000:.0f} ms (a distant host):"
        )
        for workers in WORKERS:
            d = _deliver(engine, work, tally, seeder, receiver, workers, SLOW_DELIVERIES)
            deliveries.append(d)
            print(
                f"    workers={workers}: {d.rate:7.1f} msgs/s ({d.sent} sent in {d.seconds:.2f} s,"
                f" {d.received} POSTs received, {d.distinct} distinct ids)"
            )
    finally:
        receiver.stop()
        engine.dispose()

    index_scan = any(f"Index Scan using {PARTIAL_INDEX}" in line for line in plan)
    seq_scan = any("Seq Scan" in line for line in plan)
    print("targets:")
    print(
        f"  {_verdict(max(due_ms) < TARGET_SWEEP_MS)} sweep of {DUE} due reminders:"
        f" {_stats(due_ms)} (target < {TARGET_SWEEP_MS:.0f} ms, every run)"
    )
    print(
        f"  {_verdict(max(empty_ms) < TARGET_EMPTY_MS)} sweep with nothing due:"
        f" {_stats(empty_ms)} (target < {TARGET_EMPTY_MS:.0f} ms, every run)"
    )
    print(
        f"  {_verdict(index_scan and not seq_scan)} the claim reads {PARTIAL_INDEX}"
        f" (Index Scan: {'yes' if index_scan else 'no'}, Seq Scan: {'yes' if seq_scan else 'no'})"
    )
    for d in deliveries:
        complete = d.sent == d.messages == d.distinct == d.received
        print(
            f"  {_verdict(complete)} delivery, {d.workers} worker(s): {d.sent} of {d.messages}"
            f" sent, each received once ({d.rate:.0f} msgs/s; no target)"
        )
    if not (index_scan and not seq_scan):
        raise AssertionError(f"the sweep's claim does not read {PARTIAL_INDEX}")
