"""Cases and safety plans on PostgreSQL: 100 000 cases, 300 000 plan revisions, 1 000 000 audit
events.

4 organisations with 50 counselors each (an open session that passed its second factor); each
case is owned by one counselor and has one colleague on its team (about 1 000 cases a counselor),
3 sealed revisions of its safety plan; the audit log holds 1 000 000 events, properly chained
(hashed here with `core.audit._digest`). Seeded with COPY.

1. GET /organisations/{org}/cases/{case}/plan through real uvicorn (1 worker), one keep-alive
   client, random cases of random counselors: the gate, the audit row it writes, the latest
   revision opened; target p95 < 20 ms.
2. GET /organisations/{org}/cases (a counselor's first page, 50 cases), target p95 < 30 ms; and
   the next page through the cursor (no target).
3. `sigurna audit verify`: `core.audit.verify` over the whole chain (the seed plus what the
   requests appended): events per second, and no break found.
4. `sigurna keys rotate` for the case names: `core.sealed.rotate` of `safety_case.name` to a new
   key (100 000 rows): rows per second.

Fictional data only: "Client 12", "Bench NGO 3".
"""

from __future__ import annotations

import functools
import http.client
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import sqlalchemy as sa
from psycopg import sql
from sqlmodel import Session

from bench.hotline_voice import _start_server
from bench.shelters import _env, _Table
from bench.stats import percentile
from bench.support import ENCRYPTION_KEYS, bench_settings, fresh_postgres
from core import audit
from core.auth import SESSION_COOKIE, new_secret, token_digest
from core.clock import SystemClock
from core.crypto import FieldCipher, cipher_from_settings, parse_keys
from core.db import create_db_engine, upgrade
from safety_plans.models import PlanContent
from safety_plans.service import cases as case_service
from safety_plans.service import plans as plan_service

ORGANISATIONS = 4
COUNSELORS = 50  # per organisation: 200 in all
CASES = 100_000
REVISIONS = 3  # per case
EVENTS = 1_000_000  # audit events seeded
NAMES = 64  # sealed "Client N" blobs, reused: sealing every row would only slow the seed
ZONE = "Europe/Podgorica"
EVENT_SPACING = timedelta(seconds=30)  # 1 000 000 events: the last 347 days

WARM_UP = 30  # requests of each route before measuring
PLAN_READS = 500
LIST_READS = 500
NEXT_PAGES = 100
TARGET_PLAN_P95_MS = 20.0
TARGET_LIST_P95_MS = 30.0
ROTATE_BATCH = 500  # core.sealed.DEFAULT_BATCH, as `sigurna keys rotate` runs it
NEW_KEY_ID = "b2"

PLAN = "/organisations/{org}/cases/{case}/plan"
LIST = "/organisations/{org}/cases"

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
        "auth_session",
        "id user_id token_hash created_at last_seen_at expires_at second_factor_at",
    ),
    (
        "safety_case",
        "id organisation_id number owner_id status status_reason name_key_id name_sealed"
        " birth_year age_band municipality languages children_involved violence_types"
        " do_not_disclose risk_level reassess_by created_at created_by updated_at",
    ),
    ("safety_case_member", "case_id user_id case_updated_at added_at added_by"),
    ("safety_plan_revision", "id case_id revision key_id sealed author_id created_at"),
)
_AUDIT_COLUMNS = (
    "id",
    "occurred_at",
    "actor_type",
    "actor_id",
    "organisation_id",
    "action",
    "subject_type",
    "subject_id",
    "reason",
    "request_id",
    "prev_hash",
    "hash",
)


# --- the seed ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Counselor:
    id: uuid.UUID
    organisation_id: uuid.UUID
    token: str


@dataclass
class _Seed:
    now: datetime
    organisations: list[uuid.UUID] = field(default_factory=list)
    counselors: list[_Counselor] = field(default_factory=list)
    # (organisation, case, a counselor on its team) for the plan reads
    readable: list[tuple[uuid.UUID, uuid.UUID, int]] = field(default_factory=list)
    members: int = 0
    revisions: int = 0
    events: int = 0
    last_hash: str = audit.GENESIS_HASH


def _plan(n: int) -> dict[str, Any]:
    """A filled-in safety plan, `n` its revision."""
    return PlanContent.model_validate(
        {
            "safe_contacts": [
                {"name": "Sister", "how": "+382 67 000 000", "note": "knows the code word"},
                {"name": "Neighbour", "how": "flat 4, second floor"},
            ][: 1 + n % 2],
            "code_word": "blue umbrella",
            "safe_to_call": n % 2 == 0,
            "safe_times": "weekdays 9-12, when he is at work",
            "safe_ways": "text first, never leave a voice message",
            "escape_plan": {
                "bag": "at the sister's: clothes, medicines, a spare key",
                "documents": "copies of passports and birth certificates with the counselor",
                "money": "a small amount kept at work",
                "where_to_go": "the shelter's number is in the phone under 'Dentist'",
            },
            "children_safety": "the school knows who may collect the children",
            "work_safety": "the employer knows; calls are screened at reception",
            "online_safety": "new phone, location sharing off, new e-mail address",
            "her_decisions": f"Revision {n}: she wants to stay for now and keep the bag ready.",
        }
    ).model_dump(mode="json")


class _Seeder:
    def __init__(self, url: str, cipher: FieldCipher, seed: _Seed) -> None:
        self.conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.cipher = cipher
        self.seed = seed
        self.tables = {name: _Table(name, columns) for name, columns in _TABLES}
        self.names = [
            cipher.seal(f"Client {n}", context=case_service.NAME_CONTEXT) for n in range(NAMES)
        ]
        self.plans = [
            cipher.seal_json(_plan(n), context=plan_service.PLAN_CONTEXT)
            for n in range(1, REVISIONS + 1)
        ]
        self.cases: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]] = []  # (org, case, owner)

    def people(self) -> None:
        tables, now = self.tables, self.seed.now
        for o in range(ORGANISATIONS):
            organisation_id = uuid.uuid4()
            tables["organisation"].add(
                organisation_id, f"Bench NGO {o + 1}", "ngo", "ME", ZONE, now - timedelta(days=800)
            )
            self.seed.organisations.append(organisation_id)
            for c in range(COUNSELORS):
                user_id = uuid.uuid4()
                tables["user_account"].add(
                    user_id,
                    organisation_id,
                    f"bench-counselor-{o + 1}-{c + 1}@example.org",
                    f"Bench Counselor {o + 1}.{c + 1}",
                    False,
                    "x",
                    False,
                    now,
                    now,
                )
                tables["user_role"].add(user_id, "counselor")
                token = new_secret()
                tables["auth_session"].add(
                    uuid.uuid4(),
                    user_id,
                    token_digest(token),
                    now,
                    now,
                    now + timedelta(hours=12),
                    now,  # the second factor passed
                )
                self.seed.counselors.append(_Counselor(user_id, organisation_id, token))

    def cases_and_plans(self) -> None:
        tables, seed = self.tables, self.seed
        rng = random.Random(2026)
        now = seed.now
        violence = ("physical", "psychological", "economic", "stalking", "cyber", "sexual")
        for n in range(CASES):
            o = n % ORGANISATIONS
            organisation_id = seed.organisations[o]
            owner_index = o * COUNSELORS + rng.randrange(COUNSELORS)
            colleague_index = o * COUNSELORS + rng.randrange(COUNSELORS)
            if colleague_index == owner_index:
                colleague_index = o * COUNSELORS + (owner_index + 1) % COUNSELORS
            owner = seed.counselors[owner_index].id
            colleague = seed.counselors[colleague_index].id
            case_id = uuid.uuid4()
            created = now - timedelta(seconds=rng.uniform(30 * 86_400, 700 * 86_400))
            updated = now - timedelta(seconds=rng.uniform(60, 30 * 86_400))
            name = self.names[n % NAMES]
            status = rng.choices(("open", "dormant", "closed"), (6, 1, 3))[0]
            level = rng.choice(("standard", "medium", "high", None))
            tables["safety_case"].add(
                case_id,
                organisation_id,
                f"K-{n // ORGANISATIONS + 1:07d}",
                owner,
                status,
                {"closed": "goals_met", "dormant": "no_contact"}.get(status),
                name.key_id,
                name.blob,
                1960 + n % 45,
                None,
                f"Municipality {n % 25}",
                json.dumps(["sr"] if n % 3 else ["sr", "en"]),
                n % 4 == 0,
                json.dumps(sorted(rng.sample(violence, 1 + n % 3))),
                n % 50 == 0,
                level,
                None if level is None else updated + timedelta(days=30),
                created,
                owner,
                updated,
            )
            for member in (owner, colleague):
                tables["safety_case_member"].add(case_id, member, updated, created, owner)
                seed.members += 1
            step = (updated - created) / REVISIONS
            for r in range(REVISIONS):
                plan = self.plans[r]
                tables["safety_plan_revision"].add(
                    uuid.uuid4(),
                    case_id,
                    r + 1,
                    plan.key_id,
                    plan.blob,
                    owner if r % 2 == 0 else colleague,
                    created + step * (r + 1),
                )
                seed.revisions += 1
            self.cases.append((organisation_id, case_id, owner))
            seed.readable.append(
                (organisation_id, case_id, owner_index if n % 2 else colleague_index)
            )

    def flush(self) -> None:
        with psycopg.connect(self.conninfo) as connection:
            # Consistent by construction: skip the per-row foreign-key triggers.
            connection.execute("SET session_replication_role = replica")
            with connection.cursor() as cursor:
                for table in self.tables.values():
                    table.copy(cursor)
                self._audit(cursor)
            connection.commit()
            connection.autocommit = True
            connection.execute("VACUUM (ANALYZE)")

    def _events(self) -> Iterator[tuple[Any, ...]]:
        """EVENTS audit events, chained as `core.audit.record` chains them."""
        seed = self.seed
        rng = random.Random(7)
        cases = self.cases
        first = (seed.now - EVENT_SPACING * (EVENTS + 1)).replace(microsecond=0)
        prev = audit.GENESIS_HASH
        plan_view = "team; GET /organisations/{org_id}/cases/{case_id}/plan"
        card_view = "team; GET /organisations/{org_id}/cases/{case_id}"
        for event_id in range(1, EVENTS + 1):
            organisation_id, case_id, owner = cases[rng.randrange(CASES)]
            roll = rng.random()
            subject_id: str | None = str(case_id)
            if roll < 0.55:
                action, reason = "case.read", plan_view
            elif roll < 0.8:
                action, reason = "case.read", card_view
            elif roll < 0.92:
                action, reason, subject_id = "case.listed", None, None
            else:
                action, reason = "case.plan_revised", f"revision {1 + event_id % REVISIONS}"
            fields = {
                "id": event_id,
                "occurred_at": first + EVENT_SPACING * event_id,
                "actor_type": "user",
                "actor_id": str(owner),
                "organisation_id": organisation_id,
                "action": action,
                "subject_type": "safety_case",
                "subject_id": subject_id,
                "reason": reason,
                "request_id": f"{event_id:032x}",
            }
            digest = audit._digest(prev, fields)
            yield (*fields.values(), prev, digest)
            prev = digest
        seed.events = EVENTS
        seed.last_hash = prev

    def _audit(self, cursor: psycopg.Cursor[Any]) -> None:
        statement = sql.SQL("COPY audit_event ({}) FROM STDIN").format(
            sql.SQL(", ").join(map(sql.Identifier, _AUDIT_COLUMNS))
        )
        with cursor.copy(statement) as copy:
            for row in self._events():
                copy.write_row(row)
        cursor.execute(
            "UPDATE audit_head SET last_event_id = %s, last_hash = %s WHERE id = 1",
            (self.seed.events, self.seed.last_hash),
        )
        if cursor.rowcount != 1:
            raise RuntimeError("the audit chain's head row is missing")


# --- HTTP --------------------------------------------------------------------------------------


class _Client:
    """One keep-alive HTTP/1.1 connection to the server under test."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, path: str, token: str) -> tuple[int, bytes]:
        self.connection.request("GET", path, headers={"Cookie": f"{SESSION_COOKIE}={token}"})
        response = self.connection.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.connection.close()


def _timed(
    client: _Client, requests: list[tuple[str, str]], check: Callable[[bytes], None]
) -> list[float]:
    """Milliseconds per request, in order; a non-200 answer stops the run."""
    samples: list[float] = []
    for path, token in requests:
        started = time.perf_counter()
        status, body = client.get(path, token)
        samples.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {body[:200]!r}")
        check(body)
    return samples


def _line(label: str, samples: list[float]) -> str:
    return (
        f"  {label:<52} n={len(samples):<4} p50={percentile(samples, 0.5):6.2f} ms"
        f"  p95={percentile(samples, 0.95):6.2f} ms  p99={percentile(samples, 0.99):6.2f} ms"
        f"  max={max(samples):6.1f} ms"
    )


@dataclass
class _Http:
    plan: list[float]
    first_pages: list[float]
    next_pages: list[float]
    page_size: float  # cases on a first page, on average


def _measure_http(seed: _Seed, port: int) -> _Http:
    rng = random.Random(11)
    counselors = seed.counselors

    def plan_request() -> tuple[str, str]:
        organisation_id, case_id, reader = seed.readable[rng.randrange(len(seed.readable))]
        return PLAN.format(org=organisation_id, case=case_id), counselors[reader].token

    def list_request() -> tuple[str, str]:
        counselor = counselors[rng.randrange(len(counselors))]
        return LIST.format(org=counselor.organisation_id), counselor.token

    def is_plan(body: bytes) -> None:
        if json.loads(body)["revision"] != REVISIONS:
            raise RuntimeError("the plan read did not answer the latest revision")

    cursors: list[str] = []
    sizes: list[int] = []

    def is_page(body: bytes) -> None:
        page = json.loads(body)
        if not page["items"]:
            raise RuntimeError("a counselor's first page is empty")
        sizes.append(len(page["items"]))
        if page["next_cursor"] is not None:
            cursors.append(page["next_cursor"])

    client = _Client(port)
    try:
        _timed(client, [plan_request() for _ in range(WARM_UP)], is_plan)
        _timed(client, [list_request() for _ in range(WARM_UP)], is_page)
        plan = _timed(client, [plan_request() for _ in range(PLAN_READS)], is_plan)
        requests = [list_request() for _ in range(LIST_READS)]
        cursors.clear()
        sizes.clear()
        first_pages = _timed(client, requests, is_page)
        follow = [
            (f"{path}?cursor={quote(cursor)}", token)
            for (path, token), cursor in zip(requests[:NEXT_PAGES], cursors, strict=False)
        ]
        next_pages = _timed(client, follow, lambda body: None)
    finally:
        client.close()
    return _Http(plan, first_pages, next_pages, statistics.fmean(sizes))


def _explain_list(engine: sa.Engine, seed: _Seed) -> list[str]:
    """The plan of the case list's query for one counselor (as the service builds it)."""
    counselor = seed.counselors[0]
    query = (
        "EXPLAIN (ANALYZE, BUFFERS) SELECT safety_case.* FROM safety_case"
        " JOIN safety_case_member ON safety_case_member.case_id = safety_case.id"
        " WHERE safety_case_member.user_id = :user"
        " ORDER BY safety_case_member.case_updated_at DESC, safety_case_member.case_id DESC"
        " LIMIT 51"
    )
    with engine.connect() as connection:
        rows = connection.execute(sa.text(query), {"user": counselor.id}).all()
    return [str(row[0]) for row in rows]


# --- audit verify and key rotation -------------------------------------------------------------


def _verify(engine: sa.Engine) -> tuple[int, int, float]:
    with Session(engine) as session:
        started = time.perf_counter()
        checked, problems = audit.verify(session)
        seconds = time.perf_counter() - started
    for problem in problems[:5]:
        print(f"    BROKEN at event {problem.event_id}: {problem.problem}")
    return checked, len(problems), seconds


@dataclass(frozen=True)
class _Rotation:
    resealed: int
    failed: int
    pending: int
    seconds: float
    readable: bool


def _rotate(engine: sa.Engine) -> _Rotation | None:
    """`safety_case.name` re-sealed under a new key (the old one still configured)."""
    try:
        from core import sealed
        from core.db import unit_of_work
    except ImportError as exc:
        print(f"  key rotation: skipped, core.sealed is not importable ({exc})")
        return None
    # The new key first (the active one), the seed's still configured to open what it sealed.
    keys = {NEW_KEY_ID: bytes(range(32))} | parse_keys(ENCRYPTION_KEYS)
    rotating = FieldCipher(keys, hash_key=b"\0" * 32)
    column = sealed.pair("safety_case", "name", case_service.NAME_CONTEXT)
    started = time.perf_counter()
    rotation = sealed.rotate(
        functools.partial(unit_of_work, engine), rotating, batch=ROTATE_BATCH, columns=[column]
    )
    seconds = time.perf_counter() - started
    with engine.connect() as connection:
        row = connection.execute(
            sa.text("SELECT name_key_id, name_sealed FROM safety_case ORDER BY id LIMIT 1")
        ).one()
    name = rotating.open_pair(row[0], row[1], context=case_service.NAME_CONTEXT) or ""
    readable = row[0] == NEW_KEY_ID and name.startswith("Client ")
    return _Rotation(rotation.resealed, rotation.failed, rotation.pending, seconds, readable)


# --- the run -----------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def run() -> None:
    url = fresh_postgres("sigurna_bench_safety_plans")
    if url is None:
        print("postgresql: no server answers; set SIGURNA_BENCH_DATABASE_URL to run this benchmark")
        return
    settings = bench_settings(url)
    engine = create_db_engine(settings)
    upgrade(settings, engine)
    cipher = cipher_from_settings(settings)
    seed = _Seed(SystemClock().now())
    started = time.monotonic()
    seeder = _Seeder(url, cipher, seed)
    seeder.people()
    seeder.cases_and_plans()
    seeder.flush()
    print(
        f"{ORGANISATIONS} organisations, {len(seed.counselors)} counselors (a session with its"
        f" second factor each), {CASES} cases, {seed.members} team memberships,"
        f" {seed.revisions} plan revisions, {seed.events} chained audit events"
        f" (seeded with COPY in {time.monotonic() - started:.1f} s)"
    )
    del seeder

    with tempfile.TemporaryDirectory() as name:
        server, port = _start_server(_env(url, Path(name)))
        try:
            result = _measure_http(seed, port)
        finally:
            server.terminate()
            server.wait(10)
    print(f"HTTP, uvicorn with 1 worker, one keep-alive client, {WARM_UP} warm-up requests each:")
    print(_line("GET .../cases/{id}/plan (gate, audit row, open)", result.plan))
    print(_line("GET .../cases (a counselor's first page)", result.first_pages))
    print(f"    ({result.page_size:.1f} cases a first page on average)")
    if result.next_pages:
        print(_line("GET .../cases?cursor= (the next page)", result.next_pages))
    print("  the case list's query, EXPLAIN (ANALYZE, BUFFERS):")
    for line in _explain_list(engine, seed):
        print(f"    {line}")

    checked, problems, verify_s = _verify(engine)
    print(
        f"audit verify (core.audit.verify): {checked} events in {verify_s:.1f} s,"
        f" {checked / verify_s:,.0f} events/s, {problems} problem(s)"
    )
    rotation = _rotate(engine)
    if rotation is not None:
        print(
            f"key rotation (core.sealed.rotate, safety_case.name, batches of {ROTATE_BATCH}):"
            f" {rotation.resealed} re-sealed in {rotation.seconds:.1f} s,"
            f" {rotation.resealed / rotation.seconds:,.0f} rows/s;"
            f" {rotation.failed} failed, {rotation.pending} pending"
        )
    engine.dispose()

    plan_p95 = percentile(result.plan, 0.95)
    list_p95 = percentile(result.first_pages, 0.95)
    print("targets:")
    print(
        f"  {_verdict(plan_p95 < TARGET_PLAN_P95_MS)} plan read p95 {plan_p95:.1f} ms"
        f" (target < {TARGET_PLAN_P95_MS:.0f} ms; p50 {statistics.median(result.plan):.1f} ms)"
    )
    print(
        f"  {_verdict(list_p95 < TARGET_LIST_P95_MS)} case list p95 {list_p95:.1f} ms"
        f" (target < {TARGET_LIST_P95_MS:.0f} ms;"
        f" p50 {statistics.median(result.first_pages):.1f} ms)"
    )
    expected = EVENTS + WARM_UP * 2 + PLAN_READS + LIST_READS + NEXT_PAGES
    print(
        f"  {_verdict(problems == 0 and checked >= expected)} audit chain intact: {checked}"
        f" events, {problems} problem(s) ({checked / verify_s:,.0f} events/s; no target)"
    )
    if rotation is not None:
        complete = rotation.resealed == CASES and not (rotation.failed or rotation.pending)
        print(
            f"  {_verdict(complete and rotation.readable)} key rotation: {rotation.resealed} of"
            f" {CASES} names re-sealed under {NEW_KEY_ID}, readable"
            f" ({rotation.resealed / rotation.seconds:,.0f} rows/s; no target)"
        )
