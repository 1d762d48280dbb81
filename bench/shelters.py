"""Shelters on PostgreSQL: a network of 50 to 500 shelters (20 beds each) with a year of stays.

Real uvicorn (1 worker), load from another process (`python -m bench.shelters load ...`): the
network availability query and a shelter's bed board, target p95 < 50 ms each, with 1 client
(the latency of one request) and with 10 (the worker saturated: throughput, and a queue), beside
the floor (`GET /organisations/{id}` with 10 clients: the session check and one lookup); the
free beds are read from the counts each shelter keeps (the COPY seed bypasses the ORM that keeps
them, so they are counted once after it, and checked against a recount at each size); each board
and each question is read once before the timed phases, as a night shift's have been since their
last change (kept: `shelters.service.board_cache`; the first read after a change is timed in
process, "read" beside "kept"). Then
the bed nights of a year for every shelter of every organisation, in this process
(`shelters.service.bed_nights` and the whole `shelters.service.figures`), and the figures route
for one organisation, target < 2 s. The network grows in place, 50 -> 100 -> 250 -> 500
shelters, seeded with COPY. Fictional data only: "Resident 12", "Test street 3".
"""

from __future__ import annotations

import asyncio
import http.client
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bench.hotline_voice import _start_server
from bench.loadgen import _exchange
from bench.stats import percentile
from bench.support import (
    ENCRYPTION_KEYS,
    SECRET_KEY,
    TWILIO_TOKEN,
    bench_settings,
    fresh_postgres,
)
from core.auth import SESSION_COOKIE, new_secret, token_digest
from core.clock import SystemClock
from core.crypto import cipher_from_settings
from core.db import create_db_engine, upgrade
from core.localtime import nights
from shelters import service
from shelters.models import Sex, Shelter

SIZES = (50, 100, 250, 500)
ORGANISATIONS = 10
COUNSELORS = 2  # per organisation: the availability load has one session per client
ROOMS = 5
BEDS_PER_ROOM = 4  # 20 beds: 18 beds, 1 cot, 1 emergency bed; hard capacity 20
DAYS = 365
WARM_UP_DAYS = 12  # stays begin before the year, so that it starts at the usual occupancy
ARRIVALS_PER_DAY = 2.3  # groups asking one shelter for a place: about 75% of its beds taken
NAMES = 64  # sealed "Resident N" blobs, reused: sealing every row would only slow the seed
ZONES = ("Europe/Podgorica", "Europe/Belgrade", "Europe/Sarajevo", "Europe/Zagreb")
FIGURES_ZONE = "Europe/Podgorica"

SECONDS = 4.0
CONCURRENCY = 10
RUNS = 3  # bed-night timings: the median of this many
TARGET_P95_MS = 50.0
TARGET_BED_NIGHTS_MS = 2000.0
AVAILABILITY = "/network/shelter-availability?sex=female&age=30&children={children}"
BOARD = "/organisations/{org}/shelters/{shelter}/board"
# The organisation's card: the session check and one lookup, what every request pays (no target).
FLOOR = "/organisations/{org}"
FIGURES = "/organisations/{org}/shelter-figures?from={first}&to={last}"

CHANNELS = ("in_person", "hotline", "police", "csw", "ngo", "other")
DESTINATIONS = ("home", "relatives", "csw_placement", "another_shelter", "own_decision")
SENT_TO = ("partner_shelter", "support_at_distance", "other_service", "nowhere", "unknown")

_Summary = dict[str, Any]  # what the load process prints for one phase


# --- the seed ----------------------------------------------------------------------------------


class _Table:
    """Rows waiting for one COPY."""

    def __init__(self, name: str, columns: str) -> None:
        self.name = name
        self.columns = columns.split()
        self.rows: list[tuple[Any, ...]] = []

    def add(self, *values: Any) -> None:
        self.rows.append(values)

    def copy(self, cursor: psycopg.Cursor[Any]) -> None:
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(self.name), sql.SQL(", ").join(map(sql.Identifier, self.columns))
        )
        with cursor.copy(statement) as copy:
            for row in self.rows:
                copy.write_row(row)
        self.rows.clear()


# In foreign-key order.
_TABLES = (
    ("organisation", "id name kind country_code time_zone created_at"),
    (
        "user_account",
        "id organisation_id email display_name is_volunteer password_hash must_change_password"
        " created_at password_changed_at",
    ),
    ("user_role", "user_id role"),
    ("auth_session", "id user_id token_hash created_at last_seen_at expires_at"),
    (
        "shelter",
        "id organisation_id name time_zone sexes min_age max_age groups accepts_children"
        " hard_capacity soft_capacity_max_nights address_key_id address_sealed lockdown"
        " created_at updated_at",
    ),
    ("shelter_staff", "shelter_id user_id created_at"),
    ("shelter_room", "id shelter_id name created_at"),
    (
        "shelter_bed",
        "id shelter_id room_id label kind out_of_service out_of_service_reason_key_id"
        " out_of_service_reason_sealed created_at",
    ),
    (
        "shelter_stay",
        "id organisation_id shelter_id reference channel municipality_key_id municipality_sealed"
        " at_distance people children"
        " admitted_at"
        " contract_days planned_end decision_due_at status ended_at destination admitted_by"
        " created_at",
    ),
    ("shelter_stay_member", "id stay_id role name_key_id name_sealed sex age"),
    (
        "shelter_bed_occupancy",
        "id shelter_id bed_id kind stay_id member_id child note_key_id note_sealed starts_at"
        " ends_at",
    ),
    (
        "shelter_stay_extension",
        "id stay_id previous_end new_end justification_key_id justification_sealed status"
        " requested_by requested_at"
        " decided_by decided_at",
    ),
    (
        "shelter_turn_away",
        "id shelter_id occurred_at group_size children failed sent_to recorded_by",
    ),
)


@dataclass(frozen=True)
class _Bed:
    id: uuid.UUID
    kind: str  # bed, cot, emergency


@dataclass(frozen=True)
class _Place:
    organisation_id: uuid.UUID
    shelter_id: uuid.UUID
    staff_token: str


@dataclass
class _Network:
    """What the load and the checks need to know of the seeded network."""

    now: datetime
    first: date
    last: date
    organisations: list[uuid.UUID] = field(default_factory=list)
    supervisors: list[uuid.UUID] = field(default_factory=list)
    supervisor_tokens: list[str] = field(default_factory=list)
    counselor_tokens: list[str] = field(default_factory=list)
    places: list[_Place] = field(default_factory=list)
    beds: int = 0
    stays: int = 0
    occupancies: int = 0
    open_occupancies: int = 0
    turn_aways: int = 0
    # Counted here, occupancy by occupancy, with shelters.time.nights: what the SQL must say.
    bed_nights: int = 0
    child_bed_nights: int = 0


class _Seeder:
    """Users with open sessions, shelters with rooms and beds, and a year of stays in each."""

    def __init__(self, url: str, network: _Network) -> None:
        self.cipher = cipher_from_settings(bench_settings(url))
        # Free text is sealed at rest: one sealed value of each kind, reused.
        self.repair = self.cipher.seal("Bench: under repair", context=service.BED_REASON_CONTEXT)
        self.municipality = self.cipher.seal(
            "Test municipality", context=service.MUNICIPALITY_CONTEXT
        )
        self.justification = self.cipher.seal(
            "Bench: the stay needs a few more days.", context=service.JUSTIFICATION_CONTEXT
        )
        self.hold_note = self.cipher.seal(
            "Bench: held for a transfer", context=service.NOTE_CONTEXT
        )
        self.conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.network = network
        self.names = [
            self.cipher.seal(f"Resident {n}", context=service.MEMBER_CONTEXT) for n in range(NAMES)
        ]
        self.tables = {name: _Table(name, columns) for name, columns in _TABLES}
        self.references = 0
        self.users = 0

    def _user(self, organisation_id: uuid.UUID, role: str) -> tuple[uuid.UUID, str]:
        """A user of `role` with an open session; its cookie value."""
        now = self.network.now
        self.users += 1
        user_id = uuid.uuid4()
        self.tables["user_account"].add(
            user_id,
            organisation_id,
            f"bench{self.users}@example.org",
            f"Bench User {self.users}",
            False,
            "x",
            False,
            now,
            now,
        )
        self.tables["user_role"].add(user_id, role)
        token = new_secret()
        self.tables["auth_session"].add(
            uuid.uuid4(), user_id, token_digest(token), now, now, now + timedelta(hours=12)
        )
        return user_id, token

    def organisations(self) -> None:
        network = self.network
        for index in range(ORGANISATIONS):
            organisation_id = uuid.uuid4()
            self.tables["organisation"].add(
                organisation_id, f"Bench NGO {index + 1}", "ngo", "ME", FIGURES_ZONE, network.now
            )
            network.organisations.append(organisation_id)
            supervisor, token = self._user(organisation_id, "supervisor")
            network.supervisors.append(supervisor)
            network.supervisor_tokens.append(token)
            for _ in range(COUNSELORS):
                network.counselor_tokens.append(self._user(organisation_id, "counselor")[1])
        self._flush()

    def shelters(self, count: int) -> None:
        """Grow the network to `count` shelters."""
        while len(self.network.places) < count:
            self._shelter(len(self.network.places))
        self._flush()

    def _shelter(self, index: int) -> None:
        network, tables, now = self.network, self.tables, self.network.now
        rng = random.Random(index)
        organisation_id = network.organisations[index % ORGANISATIONS]
        supervisor = network.supervisors[index % ORGANISATIONS]
        shelter_id = uuid.uuid4()
        zone = ZONES[index % len(ZONES)]
        address = self.cipher.seal(f"Test street {index + 1}", context=service.ADDRESS_CONTEXT)
        youth = index % 10 == 9  # a few shelters for LGBTI youth: other sexes, other ages
        tables["shelter"].add(
            shelter_id,
            organisation_id,
            f"Bench shelter {index + 1:03d}",
            zone,
            json.dumps(["female", "male", "other"] if youth else ["female"]),
            16 if youth else 18,
            30 if youth else None,
            json.dumps(["lgbti_youth"] if youth else ["women", "women_with_children"]),
            index % 10 != 4,
            ROOMS * BEDS_PER_ROOM,
            0,
            address.key_id,
            address.blob,
            False,
            now,
            now,
        )
        staff, token = self._user(organisation_id, "shelter_staff")
        tables["shelter_staff"].add(shelter_id, staff, now)
        beds: list[_Bed] = []
        for room_number in range(ROOMS):
            room_id = uuid.uuid4()
            tables["shelter_room"].add(room_id, shelter_id, f"Room {room_number + 1}", now)
            for slot in range(BEDS_PER_ROOM):
                number = room_number * BEDS_PER_ROOM + slot + 1
                kind = {19: "cot", 20: "emergency"}.get(number, "bed")
                out = index % 7 == 3 and number == 18
                tables["shelter_bed"].add(
                    bed_id := uuid.uuid4(),
                    shelter_id,
                    room_id,
                    f"B{number:02d}",
                    kind,
                    out,
                    self.repair.key_id if out else None,
                    self.repair.blob if out else None,
                    now,
                )
                if not out:
                    beds.append(_Bed(bed_id, kind))
        network.beds += ROOMS * BEDS_PER_ROOM
        network.places.append(_Place(organisation_id, shelter_id, token))
        self._year(rng, organisation_id, shelter_id, zone, beds, staff, supervisor)

    def _year(
        self,
        rng: random.Random,
        organisation_id: uuid.UUID,
        shelter_id: uuid.UUID,
        zone: str,
        beds: list[_Bed],
        staff: uuid.UUID,
        supervisor: uuid.UUID,
    ) -> None:
        """Groups arrive at random; those that fit stay 1-10 days, the others are turned away."""
        network, tables, now = self.network, self.tables, self.network.now
        period_start, period_end = service.period_bounds(network.first, network.last, zone)
        moment = now - timedelta(days=DAYS + WARM_UP_DAYS)
        free_at = {bed.id: moment for bed in beds}
        while True:
            moment += timedelta(days=rng.expovariate(ARRIVALS_PER_DAY))
            if moment >= now:
                break
            roll = rng.random()
            ages = [rng.randint(18, 64)] + [
                rng.randint(0, 17) for _ in range(0 if roll < 0.7 else 1 if roll < 0.9 else 2)
            ]
            free = [bed for bed in beds if free_at[bed.id] <= moment]
            rng.shuffle(free)
            picked = _pick(free, ages)
            if picked is None:
                network.turn_aways += 1
                tables["shelter_turn_away"].add(
                    uuid.uuid4(),
                    shelter_id,
                    moment,
                    len(ages),
                    len(ages) - 1,
                    '["capacity"]',
                    rng.choice(SENT_TO),
                    staff,
                )
                continue
            days = rng.triangular(1, 10, 5)
            end = moment + timedelta(days=days)
            ended = end <= now
            stay_id = uuid.uuid4()
            self.references += 1
            planned_end = moment + timedelta(days=7)
            tables["shelter_stay"].add(
                stay_id,
                organisation_id,
                shelter_id,
                f"BS-{self.references:09d}",
                rng.choice(CHANNELS),
                self.municipality.key_id,
                self.municipality.blob,
                False,
                len(ages),
                len(ages) - 1,
                moment,
                7,
                planned_end,
                planned_end,
                "ended" if ended else "active",
                end if ended else None,
                rng.choice(DESTINATIONS) if ended else None,
                staff,
                moment,
            )
            network.stays += 1
            requested = moment + timedelta(days=6)
            if days > 7 and requested < now:
                decided = requested + timedelta(hours=2)
                tables["shelter_stay_extension"].add(
                    uuid.uuid4(),
                    stay_id,
                    planned_end,
                    moment + timedelta(days=math.ceil(days)),
                    self.justification.key_id,
                    self.justification.blob,
                    "approved" if decided < now else "pending",
                    staff,
                    requested,
                    supervisor if decided < now else None,
                    decided if decided < now else None,
                )
            for position, (age, bed) in enumerate(zip(ages, picked, strict=True)):
                member_id = uuid.uuid4()
                name = self.names[rng.randrange(NAMES)]
                child = position > 0
                tables["shelter_stay_member"].add(
                    member_id,
                    stay_id,
                    "child" if child else "client",
                    name.key_id,
                    name.blob,
                    rng.choice(("female", "male")) if child else "female",
                    age,
                )
                tables["shelter_bed_occupancy"].add(
                    uuid.uuid4(),
                    shelter_id,
                    bed.id,
                    "occupied",
                    stay_id,
                    member_id,
                    child,
                    None,
                    None,
                    moment,
                    end if ended else None,
                )
                free_at[bed.id] = end
                network.occupancies += 1
                network.open_occupancies += not ended
                counted = nights(max(moment, period_start), min(end, period_end, now), zone)
                network.bed_nights += counted
                network.child_bed_nights += counted if child else 0
        # Now and then a bed held for someone on the way (a reservation, not a bed night).
        free = [bed for bed in beds if free_at[bed.id] <= now - timedelta(hours=1)]
        if free and rng.random() < 0.2:
            tables["shelter_bed_occupancy"].add(
                uuid.uuid4(),
                shelter_id,
                rng.choice(free).id,
                "reserved",
                None,
                None,
                False,
                self.hold_note.key_id,
                self.hold_note.blob,
                now - timedelta(hours=1),
                now + timedelta(hours=6),
            )
            network.occupancies += 1
            network.open_occupancies += 1

    def _flush(self) -> None:
        with psycopg.connect(self.conninfo) as connection:
            # The seed is consistent by construction: skip the per-row foreign-key triggers (the
            # exclusion constraints, which are indexes, still check every occupancy).
            connection.execute("SET session_replication_role = replica")
            with connection.cursor() as cursor:
                for table in self.tables.values():
                    table.copy(cursor)
            connection.commit()
            connection.autocommit = True
            connection.execute("VACUUM (ANALYZE)")


def _pick(free: list[_Bed], ages: list[int]) -> list[_Bed] | None:
    """A bed for each person as the service picks them (cots for the under-threes), or None."""
    chosen: list[_Bed] = []
    for age in ages:
        kinds = ("cot", "bed", "emergency") if age < service.CRIB_AGE else ("bed", "emergency")
        bed = next((b for kind in kinds for b in free if b.kind == kind), None)
        if bed is None:
            return None
        free.remove(bed)
        chosen.append(bed)
    return chosen


# --- the load ----------------------------------------------------------------------------------


async def _drive(
    port: int, plan: list[list[str]], concurrency: int, seconds: float, once: bool = False
) -> _Summary:
    """Each worker keeps one connection and cycles through its share of `plan` (path, token)
    for `seconds`, or goes through it `once`."""
    requests = [
        f"GET {path} HTTP/1.1\r\nHost: bench\r\nCookie: {SESSION_COOKIE}={token}\r\n\r\n".encode()
        for path, token in plan
    ]
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def worker(index: int) -> None:
        nonlocal errors
        mine = requests[index::concurrency] or requests
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sent = 0
        try:
            while (sent < len(mine)) if once else (time.monotonic() < deadline):
                request = mine[sent % len(mine)]
                sent += 1
                started = time.perf_counter()
                try:
                    status, _ = await asyncio.wait_for(_exchange(reader, writer, request), 30)
                except (OSError, asyncio.IncompleteReadError, TimeoutError):
                    errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                errors += status != 200
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.monotonic() - started
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": percentile(latencies, 0.50),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
        "errors": errors,
    }


async def _drive_all(port: int, phases: list[dict[str, Any]]) -> list[_Summary]:
    return [
        await _drive(
            port, phase["plan"], phase["concurrency"], phase["seconds"], phase.get("once", False)
        )
        for phase in phases
    ]


def _load(port: int, phases: list[dict[str, Any]], folder: Path) -> list[_Summary]:
    """Run the phases in another process (`python -m bench.shelters load ...`): a summary each."""
    path = folder / "phases.json"
    path.write_text(json.dumps(phases))
    out = subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "bench.shelters", "load", str(port), str(path)],
        capture_output=True,
        check=True,
        text=True,
    )
    result: list[_Summary] = json.loads(out.stdout)
    return result


def _get(port: int, path: str, token: str) -> tuple[int, Any]:
    """One request on a fresh connection: its status and decoded body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path, headers={"Cookie": f"{SESSION_COOKIE}={token}"})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    return response.status, json.loads(body) if body else None


def _env(database_url: str, folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "SIGURNA_MODE": "test",
            "SIGURNA_SECRET_KEY": SECRET_KEY,
            "SIGURNA_ENCRYPTION_KEYS": ENCRYPTION_KEYS,
            "SIGURNA_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "SIGURNA_DATABASE_URL": database_url,
            "SIGURNA_ROSTER_CACHE_PATH": str(folder / "roster.json"),
            "SIGURNA_BACKGROUND_JOBS": "false",
            "SIGURNA_LOG_LEVEL": "WARNING",
        }
    )
    return env


# --- one size of the network -------------------------------------------------------------------


@dataclass
class _Size:
    shelters: int
    beds: int
    occupancies: int
    http: dict[tuple[str, int], _Summary] = field(default_factory=dict)  # (route, clients)
    free_counts_ms: float = math.nan  # in process, the service functions alone
    availability_ms: float = math.nan
    board_ms: float = math.nan
    kept_availability_ms: float = math.nan  # the same, answered from what the process keeps
    kept_board_ms: float = math.nan
    bed_nights_ms: float = math.nan
    figures_ms: float = math.nan
    route_ms: float = math.nan  # GET .../shelter-figures for one organisation
    problems: list[str] = field(default_factory=list)


def _timed(call: Callable[[], object], runs: int = RUNS, budget_ms: float = math.inf) -> float:
    """Median milliseconds of `runs` calls; fewer when one call alone exceeds the budget."""
    samples: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
        if samples[-1] > budget_ms:
            break
    return statistics.median(samples)


def _count_free_beds(engine: Engine) -> None:
    """COPY bypasses the ORM, whose flushes keep each shelter's free beds: count them once, as
    migration 0011 does for the shelters it finds."""
    with Session(engine) as session:
        service.recount_free_beds(session)
        session.commit()


def _in_process(engine: Engine, network: _Network, size: _Size) -> None:
    """The service functions on their own, in this process, on the same database."""
    now = network.now
    with Session(engine) as session:
        kept, recounted = service.kept_and_counted(session)
        if kept != recounted:
            drifted = sum(1 for shelter_id in kept if kept[shelter_id] != recounted[shelter_id])
            size.problems.append(f"free beds: {drifted} shelters keep counts a recount denies")
        size.free_counts_ms = _timed(lambda: service.free_bed_counts(session, now=now), 10)

        def availability(*, kept: bool) -> object:
            if not kept:
                service.forget_kept_boards()
            return service.network_availability(
                session, now=now, sex=Sex.FEMALE, age=30, group=None, children=0
            )

        first = session.get(Shelter, network.places[0].shelter_id)
        assert first is not None

        def board(*, kept: bool) -> object:
            if not kept:
                service.forget_kept_boards()
            return service.bed_board(session, shelter=first, now=now)

        size.availability_ms = _timed(lambda: availability(kept=False), 10)
        size.board_ms = _timed(lambda: board(kept=False), 10)
        size.kept_availability_ms = _timed(lambda: availability(kept=True), 10)
        size.kept_board_ms = _timed(lambda: board(kept=True), 10)

        shelters = list(session.exec(select(Shelter)).all())
        bounds = {
            s.id: service.period_bounds(network.first, network.last, s.time_zone) for s in shelters
        }

        def bed_nights() -> dict[uuid.UUID, service.ShelterFigures]:
            into = {
                s.id: service.ShelterFigures(s.id, s.name, DAYS, s.hard_capacity) for s in shelters
            }
            service.bed_nights(session, shelters=shelters, bounds=bounds, now=now, into=into)
            return into

        size.bed_nights_ms = _timed(bed_nights)
        counted = bed_nights().values()
        total = sum(f.bed_nights for f in counted)
        children = sum(f.child_bed_nights for f in counted)
        if (total, children) != (network.bed_nights, network.child_bed_nights):
            size.problems.append(
                f"bed nights: the SQL says {total} ({children} children's), the seed counted"
                f" {network.bed_nights} ({network.child_bed_nights})"
            )
        try:
            size.figures_ms = _timed(
                lambda: service.figures(
                    session, shelters=shelters, first=network.first, last=network.last, now=now
                ),
                budget_ms=TARGET_BED_NIGHTS_MS,
            )
        except Exception as exc:  # a failure is a result too: report it and go on
            session.rollback()
            first_line = str(exc).splitlines()[0][:150]
            size.problems.append(
                f"service.figures, all shelters: {type(exc).__name__}: {first_line}"
            )


def _route(port: int, network: _Network, size: _Size) -> None:
    """The figures route for one organisation (a tenth of the network)."""
    path = FIGURES.format(org=network.organisations[0], first=network.first, last=network.last)
    token = network.supervisor_tokens[0]

    def call() -> None:
        status, _ = _get(port, path, token)
        if status != 200:
            raise RuntimeError(f"shelter-figures answered {status}")

    try:
        size.route_ms = _timed(call, budget_ms=TARGET_BED_NIGHTS_MS)
    except RuntimeError as exc:
        size.problems.append(str(exc))


def _measure(engine: Engine, network: _Network, port: int, folder: Path, seeded_s: float) -> _Size:
    size = _Size(len(network.places), network.beds, network.occupancies)
    print(
        f"{size.shelters} shelters, {size.beds} beds, {ORGANISATIONS} organisations:"
        f" {network.stays} stays, {network.occupancies} bed occupancies"
        f" ({network.open_occupancies} now), {network.turn_aways} turn-aways"
        f" (seeded in {seeded_s:.1f} s)"
    )
    status, found = _get(port, AVAILABILITY.format(children=0), network.counselor_tokens[0])
    if status == 200:
        print(
            f"  network now: {len(found)} shelters would take a woman of 30, with"
            f" {sum(a['free_beds'] for a in found)} free beds and"
            f" {sum(a['free_cots'] for a in found)} free cots; beds taken now"
            f" {network.open_occupancies / network.beds:.0%}"
        )
    else:
        size.problems.append(f"availability answered {status}")

    plans = {
        "availability": [
            [AVAILABILITY.format(children=n % 3), token]
            for n, token in enumerate(network.counselor_tokens)
        ],
        "board": [
            [BOARD.format(org=p.organisation_id, shelter=p.shelter_id), p.staff_token]
            for p in network.places
        ],
    }
    random.Random(size.shelters).shuffle(plans["board"])
    # Each board, and each question to the network, read once before the timed phases: a night
    # shift's boards have been read since their last change (the first read after a change is
    # the "read" figure in process, below, plus the version check).
    _load(
        port,
        [{"plan": plans[r], "concurrency": 2, "seconds": 0.0, "once": True} for r in TARGETED],
        folder,
    )
    plans["floor"] = [[FLOOR.format(org=p.organisation_id), p.staff_token] for p in network.places]
    phases = [(route, clients) for route in TARGETED for clients in (1, CONCURRENCY)]
    phases.append(("floor", CONCURRENCY))
    summaries = _load(
        port,
        [{"plan": plans[r], "concurrency": c, "seconds": SECONDS} for r, c in phases],
        folder,
    )
    size.http = dict(zip(phases, summaries, strict=True))
    print(f"  HTTP, uvicorn with 1 worker, {SECONDS:.0f} s a line:")
    for (route, clients), summary in size.http.items():
        print(_line(LABELS[route], clients, summary))

    _in_process(engine, network, size)
    _route(port, network, size)
    print(
        f"  in process: free_bed_counts {size.free_counts_ms:.1f} ms, network_availability"
        f" {size.availability_ms:.1f} ms read / {size.kept_availability_ms:.2f} ms kept, bed_board"
        f" {size.board_ms:.1f} ms read / {size.kept_board_ms:.2f} ms kept (medians)"
    )
    print(
        f"  bed nights, {DAYS} days, all {size.shelters} shelters (service.bed_nights):"
        f" {size.bed_nights_ms:.0f} ms; {network.bed_nights} bed nights"
        f" ({network.child_bed_nights} children's), occupancy"
        f" {network.bed_nights / (network.beds * DAYS):.0%}"
    )
    print(
        f"  figures, {DAYS} days, all {size.shelters} shelters (service.figures):"
        f" {_ms(size.figures_ms)}"
    )
    print(
        f"  GET /organisations/{{id}}/shelter-figures, {DAYS} days, one organisation"
        f" ({size.shelters // ORGANISATIONS} shelters): {_ms(size.route_ms)}"
    )
    for problem in size.problems:
        print(f"  PROBLEM: {problem}")
    return size


LABELS = {
    "availability": "GET /network/shelter-availability",
    "board": "GET .../shelters/{id}/board",
    "floor": "GET /organisations/{id} (floor)",
}
TARGETED = ("availability", "board")


def _ms(value: float) -> str:
    return "failed" if math.isnan(value) else f"{value:.0f} ms"


def _cell(value: float) -> str:
    return "failed" if math.isnan(value) else f"{value:.0f}"


def _line(label: str, clients: int, r: _Summary) -> str:
    who = f"{clients} client{'s' if clients > 1 else ''}"
    return (
        f"    {label:<34} {who:>10} {r['requests']:>6} req {r['rps']:6.1f} req/s"
        f"  p50={r['p50']:6.1f}  p95={r['p95']:6.1f}  p99={r['p99']:6.1f} ms"
        f"  errors={r['errors']}"
    )


def _growth(sizes: list[_Size]) -> None:
    c = CONCURRENCY
    print(f"growth (p95 in ms with 1 client; req/s and p95 with {c} clients; times in ms):")
    print(
        f"  {'shelters':>8} {'occupancies':>11} | {'avail':>6} {'board':>6} |"
        f" {'avail req/s':>11} {'p95':>6} {'board req/s':>11} {'p95':>6} |"
        f" {'bed nights':>10} {'figures':>8} {'route 1 org':>11}"
    )
    for s in sizes:
        a1, b1 = s.http["availability", 1], s.http["board", 1]
        a, b = s.http["availability", c], s.http["board", c]
        print(
            f"  {s.shelters:>8} {s.occupancies:>11} | {a1['p95']:>6.1f} {b1['p95']:>6.1f} |"
            f" {a['rps']:>11.1f} {a['p95']:>6.0f} {b['rps']:>11.1f} {b['p95']:>6.0f} |"
            f" {_cell(s.bed_nights_ms):>10} {_cell(s.figures_ms):>8} {_cell(s.route_ms):>11}"
        )
    small, large = sizes[0], sizes[-1]

    def grew(before: float, after: float) -> str:
        return "-" if math.isnan(before) or math.isnan(after) else f"x{after / before:.1f}"

    print(
        f"  {small.shelters} -> {large.shelters} shelters (x{large.shelters // small.shelters}):"
        f" availability p95"
        f" {grew(small.http['availability', 1]['p95'], large.http['availability', 1]['p95'])},"
        f" board p95 {grew(small.http['board', 1]['p95'], large.http['board', 1]['p95'])},"
        f" bed nights {grew(small.bed_nights_ms, large.bed_nights_ms)},"
        f" figures {grew(small.figures_ms, large.figures_ms)},"
        f" route {grew(small.route_ms, large.route_ms)}"
    )


def _verdicts(size: _Size) -> None:
    def verdict(ms: float, target: float) -> str:
        return "PASS" if ms < target else "FAIL"

    print(f"targets at {size.shelters} shelters:")
    for route in TARGETED:
        for clients in (1, CONCURRENCY):
            r = size.http[route, clients]
            note = ""
            if clients > 1:  # a closed loop on one worker: latency is mostly the queue
                queue = clients / r["rps"] * 1000
                note = f"; {clients} clients / {r['rps']:.0f} req/s = {queue:.0f} ms"
            print(
                f"  {verdict(r['p95'], TARGET_P95_MS)} {route} p95 {r['p95']:.1f} ms with"
                f" {clients} client(s) (target < {TARGET_P95_MS:.0f} ms{note})"
            )
    floor = size.http["floor", CONCURRENCY]
    print(
        f"  (floor) {LABELS['floor']} p95 {floor['p95']:.1f} ms, {floor['rps']:.0f} req/s with"
        f" {CONCURRENCY} clients: the session check and one lookup, which every request pays"
    )
    for label, ms in (
        ("bed nights, service.bed_nights, all shelters", size.bed_nights_ms),
        ("bed nights, service.figures, all shelters", size.figures_ms),
        ("bed nights, shelter-figures route, one organisation", size.route_ms),
    ):
        print(
            f"  {verdict(ms, TARGET_BED_NIGHTS_MS)} {label}, {DAYS} days: {_ms(ms)}"
            f" (target < {TARGET_BED_NIGHTS_MS:.0f} ms)"
        )


def run() -> None:
    url = fresh_postgres("sigurna_bench_shelters")
    if url is None:
        print("postgresql: no server answers; set SIGURNA_BENCH_DATABASE_URL to run this benchmark")
        return
    settings = bench_settings(url)
    engine = create_db_engine(settings)
    upgrade(settings, engine)
    now = SystemClock().now()
    today = now.astimezone(ZoneInfo(FIGURES_ZONE)).date()
    network = _Network(now=now, first=today - timedelta(days=DAYS - 1), last=today)
    seeder = _Seeder(url, network)
    seeder.organisations()
    sizes: list[_Size] = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        server: subprocess.Popen[bytes] | None = None
        try:
            for count in SIZES:
                started = time.monotonic()
                seeder.shelters(count)
                _count_free_beds(engine)
                seeded = time.monotonic() - started
                if server is None:
                    server, port = _start_server(_env(url, folder))
                    place = network.places[0]
                    warm = [
                        [AVAILABILITY.format(children=0), network.counselor_tokens[0]],
                        [
                            BOARD.format(org=place.organisation_id, shelter=place.shelter_id),
                            place.staff_token,
                        ],
                    ]
                    _load(port, [{"plan": warm, "concurrency": 2, "seconds": 1.0}], folder)
                sizes.append(_measure(engine, network, port, folder, seeded))
        finally:
            if server is not None:
                server.terminate()
                server.wait(10)
            engine.dispose()
    _growth(sizes)
    _verdicts(sizes[-1])


if __name__ == "__main__" and sys.argv[1:2] == ["load"]:
    print(
        json.dumps(
            asyncio.run(_drive_all(int(sys.argv[2]), json.loads(Path(sys.argv[3]).read_text())))
        )
    )
