"""The staff console's pages against the JSON routes they mirror, in the same run.

Real uvicorn (1 worker), one keep-alive client, sequential requests; each round asks the page and
then the JSON it is compared with, so both see the same server, database and caches. Target:
p95(page) within 1.5x of p95(JSON).

1. The bed board of a 40-bed shelter (10 rooms; about 30 people in real stays, a few holds, one
   bed out of service): GET /console/o/{org}/shelters/{id}/board against
   GET /organisations/{org}/shelters/{id}/board (the page also reads .../rooms and .../beds:
   reported, no target).
2. A CSW officer's inbox with 5 000 referrals addressed to her CSW (1 200 waiting for a
   decision: 600 open, 450 acknowledged, 150 with information requested; 3 650 decided, 150
   withdrawn): GET /console/inbox, which lists 500 + 450 + 150 waiting and the 50 latest decided,
   against the same four calls the page makes, GET /referrals/inbox?status=<s>&limit=500 for
   each open status and ?status=decided&limit=50, timed together (four requests, where the page
   is one); and, for reference, against one plain GET /referrals/inbox?limit=500.
3. A hotline's rota grid, two weeks with a couple of gaps: GET /console/o/{org}/rota against
   GET .../hotlines/{id}/shifts (the page's fortnight) and GET .../hotlines/{id}/gaps, timed
   together (the page also lists the hotlines and the users: reported, no target).

Seeded through the services where it matters (`shelters.service`: the shelter, rooms, beds,
admissions, discharges, holds, a bed out of service; `hotline.service`: the hotline, shifts,
covers, a swap; `referrals.service`: each admission's referral, acknowledgements). The bulk of
the inbox is inserted as `referrals.service._make` and the recipient's acts would write the
referral and reminder rows (what the inbox reads is the referral row); their audit events,
notes and outbox messages are left out. Users and sessions are rows, as the other benchmarks
make them. PostgreSQL when a server answers, else SQLite. Fictional data only.
"""

from __future__ import annotations

import http.client
import json
import random
import secrets
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from bench.hotline_voice import _start_server
from bench.shelters import _env
from bench.stats import percentile
from bench.support import bench_settings, fresh_postgres
from console.pages import rota as rota_page
from console.pages.inbox import DECIDED_LIMIT, PAGE_SIZE, WAITING, WAITING_LIMIT
from console.security import FORM_COOKIE
from core import domains
from core.audit import Actor
from core.auth import SESSION_COOKIE, new_secret, token_digest
from core.clock import SystemClock
from core.context import Act
from core.crypto import FieldCipher, cipher_from_settings
from core.db import create_db_engine, unit_of_work, upgrade
from core.localtime import add_local_days, local_midnight
from core.models import AuthSession, Organisation, OrganisationKind, Role, User, UserRole
from hotline import service as hotline_service
from hotline.models import HotlineCreate, OverrideCreate, Position, ShiftCreate, SwapCreate
from referrals import service as referral_service
from referrals.models import Outcome, Referral, ReferralStatus, ReminderKind
from referrals.service.referrals import REFERENCE_PREFIX
from shelters import service as shelter_service
from shelters.models import (
    AdmissionCreate,
    BedCreate,
    BedKind,
    BedState,
    DischargeCreate,
    HoldCreate,
    RoomCreate,
    ShelterCreate,
    Stay,
)

ZONE = "Europe/Podgorica"
ROOMS = 10
BEDS_PER_ROOM = 4  # 40 beds: 32 beds, 4 cots, 4 emergency beds
OCCUPIED = 30  # people in beds now, at least
HOLDS = 3
REFERRALS = 5_000  # addressed to the CSW, its admissions' referrals included
# Waiting for a decision (the admissions' own referrals count in); the rest is decided.
WAITING_MIX = {
    ReferralStatus.OPEN: 600,
    ReferralStatus.ACKNOWLEDGED: 450,
    ReferralStatus.INFORMATION_REQUESTED: 150,
}
WITHDRAWN = 150
SENDERS = 6  # NGOs referring to the CSW, besides the shelter's
DOSSIERS = 16  # sealed dossiers, reused: sealing every row would only slow the seed
CHUNK = 1_000  # rows an INSERT statement
COUNSELORS = 8
ROTA_DAYS = rota_page.DAYS + 2  # from yesterday, with a day to spare
DAY_SHIFT, NIGHT_SHIFT = wall_time(8), wall_time(20)

WARM_UP = 30  # rounds before measuring, at most
WARM_UP_S = 5.0  # ... and seconds
ROUNDS = 200  # rounds measured at most
MIN_ROUNDS = 40  # ... and at least, whatever the budget
BUDGET_S = 20.0  # a pair's measuring time, past MIN_ROUNDS
TARGET_RATIO = 1.5
BROWSER = "bench-browser-form-value"  # the console's form cookie, as a browser holds it


# --- the seed ----------------------------------------------------------------------------------


class _Person(NamedTuple):
    id: uuid.UUID
    organisation_id: uuid.UUID

    @property
    def actor(self) -> Actor:
        return Actor("user", str(self.id), self.organisation_id)


_NIL = uuid.UUID(int=0)  # set by the seed


@dataclass
class _World:
    now: datetime
    ngo: uuid.UUID = _NIL
    csw: uuid.UUID = _NIL
    shelter: uuid.UUID = _NIL
    hotline: uuid.UUID = _NIL
    people: dict[str, _Person] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # desk -> its session cookie
    stays: int = 0
    people_in: int = 0
    holds: int = 0
    admitted: int = 0  # referrals the admissions made (to the CSW)
    statuses: Counter[ReferralStatus] = field(default_factory=Counter)
    shifts: int = 0
    gaps: int = 0


def _organisation(session: Session, now: datetime, name: str, kind: OrganisationKind) -> uuid.UUID:
    organisation = Organisation(
        name=name, kind=kind, country_code="ME", time_zone=ZONE, created_at=now
    )
    session.add(organisation)
    session.flush()
    return organisation.id


def _user(
    session: Session, now: datetime, organisation_id: uuid.UUID, name: str, role: Role
) -> _Person:
    user = User(
        organisation_id=organisation_id,
        email=f"{name.lower().replace(' ', '-').replace('.', '-')}@example.org",
        display_name=name,
        password_hash="x",
        created_at=now,
        password_changed_at=now,
    )
    session.add(user)
    session.flush()
    session.add(UserRole(user_id=user.id, role=role))
    session.flush()
    return _Person(user.id, organisation_id)


def _signed_in(session: Session, now: datetime, person: _Person) -> str:
    """An open session that passed its second factor; the cookie's value."""
    token = new_secret()
    session.add(
        AuthSession(
            user_id=person.id,
            token_hash=token_digest(token),
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=12),
            second_factor_at=now,
        )
    )
    session.flush()
    return token


def _people(session: Session, world: _World, _cipher: FieldCipher) -> None:
    """The NGO (a shelter, a hotline), the CSW competent for Podgorica, their staff."""
    now = world.now - timedelta(days=800)
    world.ngo = _organisation(session, now, "Bench NGO", OrganisationKind.NGO)
    world.csw = _organisation(session, now, "Bench CSW Podgorica", OrganisationKind.CSW)
    desks = {
        "staff": (world.ngo, "Bench Shelter Staff", Role.SHELTER_STAFF),
        "supervisor": (world.ngo, "Bench Supervisor", Role.SUPERVISOR),
        "officer": (world.csw, "Bench CSW Officer", Role.CSW_OFFICER),
    }
    for desk, (organisation_id, name, role) in desks.items():
        world.people[desk] = person = _user(session, now, organisation_id, name, role)
        world.tokens[desk] = _signed_in(session, world.now, person)
    for n in range(COUNSELORS):
        name = f"Bench Counselor {n + 1}"
        world.people[f"counselor{n}"] = _user(session, now, world.ngo, name, Role.COUNSELOR)
    for n in range(SENDERS):
        sender = _organisation(session, now, f"Bench NGO {n + 2}", OrganisationKind.NGO)
        name = f"Bench Sender {n + 2}"
        world.people[f"sender{n}"] = _user(session, now, sender, name, Role.COUNSELOR)
    podgorica = referral_service.find_municipality(session, country_code="ME", name="Podgorica")
    if podgorica is None:
        raise RuntimeError("the directory has no Podgorica")
    referral_service.set_competent_csw(
        session, now=now, municipality=podgorica, csw_organisation_id=world.csw, actor=Actor("cli")
    )


def _shelter(session: Session, world: _World, cipher: FieldCipher) -> None:
    """40 beds in 10 rooms, through `shelters.service` as the configuration routes make them."""
    now, actor = world.now - timedelta(days=400), world.people["supervisor"].actor
    organisation = session.get_one(Organisation, world.ngo)
    data = ShelterCreate.model_validate(
        {
            "name": "Bench shelter",
            "address": "Test street 1",
            "hard_capacity": ROOMS * BEDS_PER_ROOM,
            "groups": ["women", "women_with_children"],
        }
    )
    shelter = shelter_service.create_shelter(
        session, now=now, organisation=organisation, data=data, cipher=cipher, actor=actor
    )
    session.flush()
    world.shelter = shelter.id
    staff = world.people["staff"].id
    shelter_service.assign_staff(session, now=now, shelter=shelter, user_id=staff, actor=actor)
    for r in range(ROOMS):
        room = shelter_service.add_room(
            session, now=now, shelter=shelter, data=RoomCreate(name=f"Room {r + 1}"), actor=actor
        )
        session.flush()
        for b in range(BEDS_PER_ROOM):
            kind = BedKind.EMERGENCY if r == ROOMS - 1 else BedKind.BED
            if r in (1, 3, 5, 7) and b == BEDS_PER_ROOM - 1:
                kind = BedKind.COT
            label = f"B{r * BEDS_PER_ROOM + b + 1:02d}"
            bed = BedCreate(room_id=room.id, label=label, kind=kind)
            shelter_service.add_bed(session, now=now, shelter=shelter, data=bed, actor=actor)
    session.flush()


def _admission(rng: random.Random, n: int) -> AdmissionCreate:
    roll = rng.random()
    children = 0 if roll < 0.55 else 1 if roll < 0.85 else 2
    return AdmissionCreate.model_validate(
        {
            "client": {"name": f"Resident {n}", "sex": "female", "age": rng.randint(19, 60)},
            "children": [
                {
                    "name": f"Resident {n}.{c + 1}",
                    "sex": rng.choice(("female", "male")),
                    "age": rng.randint(0, 15),
                }
                for c in range(children)
            ],
            "channel": rng.choice(("in_person", "hotline", "police", "csw", "ngo")),
            "municipality": "Podgorica" if rng.random() < 0.9 else "Nikšić",
        }
    )


def _stays(session: Session, world: _World, cipher: FieldCipher) -> None:
    """Two weeks of admissions through `shelters.service.admit` (each refers its people to the
    CSW), the first week's discharged; then holds and a bed out of service."""
    rng = random.Random(40)
    staff = world.people["staff"]
    shelter = shelter_service.get_shelter(
        session, organisation_id=world.ngo, shelter_id=world.shelter
    )
    at, n = world.now - timedelta(days=14), 0
    leaving: list[tuple[datetime, Stay]] = []

    def discharge(stay: Stay, when: datetime) -> None:
        shelter_service.discharge(
            session,
            now=when,
            shelter=shelter,
            stay=stay,
            data=DischargeCreate.model_validate(
                {"destination": "relatives", "reason": "Bench: she moved to her sister's."}
            ),
            cipher=cipher,
            actor=staff.actor,
        )

    while world.people_in < OCCUPIED:
        at += timedelta(hours=rng.uniform(2, 9))
        n += 1
        for when, stay in sorted(s for s in leaving if s[0] <= at):
            leaving.remove((when, stay))
            discharge(stay, when)
        admitted = shelter_service.admit(
            session,
            now=at,
            shelter=shelter,
            data=_admission(rng, n),
            cipher=cipher,
            actor=staff.actor,
            actor_roles=frozenset({Role.SHELTER_STAFF}),
            user_id=staff.id,
        )
        if not isinstance(admitted, shelter_service.Admitted):
            continue
        world.stays += 1
        if at < world.now - timedelta(days=7):
            leaving.append((at + timedelta(days=rng.uniform(2, 6)), admitted.stay))
        else:
            world.people_in += len(admitted.members)
    for when, stay in sorted(leaving):  # the first week's still in leave before now
        discharge(stay, min(when, world.now - timedelta(minutes=5)))
    _holds_and_repair(session, world, cipher)


def _holds_and_repair(session: Session, world: _World, cipher: FieldCipher) -> None:
    now, actor = world.now, world.people["staff"].actor
    shelter = shelter_service.get_shelter(
        session, organisation_id=world.ngo, shelter_id=world.shelter
    )
    board = shelter_service.bed_board(session, shelter=shelter, now=now)
    free = [e.bed.id for e in board if e.bed.kind is BedKind.BED and e.state is BedState.FREE]
    for bed_id in free[:HOLDS]:
        hold = HoldCreate(bed_id=bed_id, until=now + timedelta(hours=10), note="Bench: on her way")
        shelter_service.hold_bed(
            session, now=now, shelter=shelter, data=hold, cipher=cipher, actor=actor
        )
        world.holds += 1
    shelter_service.set_bed_service(
        session,
        now=now,
        shelter=shelter,
        bed_id=free[HOLDS],
        out_of_service=True,
        reason="Bench: under repair",
        cipher=cipher,
        actor=actor,
    )


# --- the inbox ---------------------------------------------------------------------------------


def _acknowledge_admissions(session: Session, world: _World) -> list[Referral]:
    """The admissions' referrals to the CSW; the officer acknowledged (through the service)
    those older than two days."""
    officer = world.people["officer"]
    made = session.exec(select(Referral).where(Referral.to_organisation_id == world.csw)).all()
    for referral in sorted(made, key=lambda r: r.created_at):
        acknowledged = referral.created_at + timedelta(hours=5)
        if acknowledged < world.now - timedelta(days=2):
            referral_service.acknowledge(
                session, now=acknowledged, referral=referral, actor=officer.actor
            )
    world.admitted = len(made)
    return list(made)


@dataclass(frozen=True)
class _Sealed:
    dossiers: list[tuple[str, bytes]]
    decision: tuple[str, bytes]


def _sealed(cipher: FieldCipher) -> _Sealed:
    dossiers = []
    for n in range(DOSSIERS):
        dossier = {
            "client": {"name": f"Client {n}", "sex": "female", "age": 20 + n},
            "children": [{"name": f"Child {n}", "sex": "male", "age": n % 12}][: n % 2],
            "circumstances": "Bench: fictional circumstances.",
        }
        sealed = cipher.seal_json(dossier, context=referral_service.DOSSIER_CONTEXT)
        dossiers.append((sealed.key_id, sealed.blob))
    decision = cipher.seal_json(
        {"placement": None, "note": "Bench: decided."}, context=referral_service.DECISION_CONTEXT
    )
    return _Sealed(dossiers, (decision.key_id, decision.blob))


def _plan(world: _World, made: list[Referral]) -> list[ReferralStatus]:
    """The statuses of the rows still to insert, so that the CSW has REFERRALS in the mix."""
    have = Counter(ReferralStatus(r.status) for r in made)
    plan: list[ReferralStatus] = []
    for status, wanted in (*WAITING_MIX.items(), (ReferralStatus.WITHDRAWN, WITHDRAWN)):
        plan += [status] * max(0, wanted - have[status])
    plan += [ReferralStatus.DECIDED] * (REFERRALS - len(made) - len(plan))
    world.statuses = have + Counter(plan)
    return plan


def _when(rng: random.Random, now: datetime, status: ReferralStatus) -> tuple[datetime, datetime]:
    """When a referral of `status` was made, and when it was closed (now while it is open)."""
    days = {
        ReferralStatus.OPEN: (0.05, 30),
        ReferralStatus.ACKNOWLEDGED: (0.2, 45),
        ReferralStatus.INFORMATION_REQUESTED: (1, 60),
        ReferralStatus.WITHDRAWN: (1, 365),
        ReferralStatus.DECIDED: (2, 730),
    }[status]
    created = now - timedelta(days=rng.uniform(*days))
    if status in (ReferralStatus.DECIDED, ReferralStatus.WITHDRAWN):
        return created, min(created + timedelta(days=rng.uniform(0.1, 25)), now)
    return created, now


def _referral_row(
    rng: random.Random, world: _World, sealed: _Sealed, status: ReferralStatus, n: int
) -> dict[str, Any]:
    """A referral from a call or a case, as `referrals.service._make` writes it, then as the
    acts that brought it to `status` left it."""
    created, closed = _when(rng, world.now, status)
    sender = world.people[f"sender{n % SENDERS}"]
    child = rng.random() < 0.1
    call = rng.random() < 0.6
    children = rng.randint(1, 3) if child else rng.choice((0, 0, 0, 1, 2))
    deadline = created + timedelta(days=rng.uniform(3, 30)) if rng.random() < 0.8 else None
    key_id, blob = sealed.dossiers[n % DOSSIERS]
    acted = created + timedelta(hours=rng.uniform(1, 48))
    acknowledged = min(acted, closed) if status is not ReferralStatus.OPEN else None
    decided = status is ReferralStatus.DECIDED
    officer = world.people["officer"]
    return {
        "id": uuid.uuid4(),
        "reference": "",  # set by the caller, unique
        "from_organisation_id": sender.organisation_id,
        "to_organisation_id": world.csw,
        "municipality_id": None,
        "source": "call" if call else "case",
        "team": "child_protection" if child else "general",
        "stay_id": None,
        "call_id": uuid.uuid4() if call else None,
        "case_id": None if call else uuid.uuid4(),
        "case_reference": None if call else f"K-{n:07d}",
        "people": children if child else 1 + children,
        "children": children,
        "deadline": deadline,
        "status": status.value,
        "consent_scope": [] if child else ["identity", "circumstances"],
        "consent_recorded_by": None if child else sender.id,
        "consent_recorded_at": None if child else created,
        "legal_basis": "child_at_risk" if child else None,
        "legal_note": None,
        "dossier_key_id": key_id,
        "dossier_sealed": blob,
        "created_by": sender.id,
        "created_at": created,
        "acknowledged_at": None if status is ReferralStatus.WITHDRAWN else acknowledged,
        "outcome": rng.choice(list(Outcome)).value if decided else None,
        "decision_date": closed.astimezone(ZoneInfo(ZONE)).date() if decided else None,
        "decision_number": f"BENCH-{n}/2026" if decided else None,
        "decision_key_id": sealed.decision[0] if decided else None,
        "decision_sealed": sealed.decision[1] if decided else None,
        "decided_at": closed if decided else None,
        "decided_by": f"user:{officer.id}" if decided else None,
        "withdrawn_at": closed if status is ReferralStatus.WITHDRAWN else None,
    }


def _reminder_rows(referral: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Its reminders as `referrals.service._schedule` makes them (in the CSW's zone), done when
    due before it closed (swept), cancelled by its decision or withdrawal, else pending."""
    created, deadline = referral["created_at"], referral["deadline"]
    closed = referral["decided_at"] or referral["withdrawn_at"]
    dues: list[tuple[ReminderKind, int, datetime]] = [(ReminderKind.CREATED, 0, created)]
    if deadline is not None:
        for kind, days in referral_service.REMINDERS_BEFORE:
            due = add_local_days(deadline, -days, ZONE)
            if due > created:
                dues.append((kind, 0, due))
        dues.append((ReminderKind.DEADLINE, 0, deadline))
        dues.append((ReminderKind.OVERDUE, 1, add_local_days(deadline, 1, ZONE)))
    rows = []
    for kind, sequence, due in dues:
        if due <= (closed or now):
            state, done = "done", due
        elif closed is not None:
            state, done = "cancelled", closed
        else:
            state, done = "pending", None
        rows.append(
            {
                "id": uuid.uuid4(),
                "referral_id": referral["id"],
                "kind": kind.value,
                "sequence": sequence,
                "due_at": due,
                "state": state,
                "done_at": done,
            }
        )
    return rows


def _referrals(session: Session, world: _World, cipher: FieldCipher) -> None:
    """REFERRALS to the CSW: its admissions' and, inserted in bulk, calls' and cases'."""
    made = _acknowledge_admissions(session, world)
    sealed = _sealed(cipher)
    rng = random.Random(5000)
    taken = set(session.exec(select(Referral.reference)).all())
    referrals: list[dict[str, Any]] = []
    reminders: list[dict[str, Any]] = []
    for n, status in enumerate(_plan(world, made)):
        row = _referral_row(rng, world, sealed, status, n)
        while not row["reference"] or row["reference"] in taken:
            row["reference"] = REFERENCE_PREFIX + secrets.token_hex(4).upper()
        taken.add(row["reference"])
        referrals.append(row)
        reminders += _reminder_rows(row, world.now)
    connection = session.connection()
    for table, rows in (("referral", referrals), ("referral_reminder", reminders)):
        for start in range(0, len(rows), CHUNK):
            connection.execute(
                sa.insert(SQLModel.metadata.tables[table]), rows[start : start + CHUNK]
            )


# --- the rota ----------------------------------------------------------------------------------


def _rota(session: Session, world: _World, cipher: FieldCipher) -> None:
    """A hotline and ROTA_DAYS of day and night shifts from yesterday, through
    `hotline.service`: one night nobody took, two shifts without a backup, two covers, a swap."""
    supervisor = world.people["supervisor"]
    act = Act(session, world.now, supervisor.actor, supervisor.id, cipher)
    hotline = hotline_service.create_hotline(
        session,
        now=world.now - timedelta(days=300),
        organisation=session.get_one(Organisation, world.ngo),
        data=HotlineCreate.model_validate(
            {"name": "Bench line", "twilio_number": "+442079460110", "time_zone": ZONE}
        ),
        actor=supervisor.actor,
    )
    world.hotline = hotline.id
    zone = ZoneInfo(ZONE)
    first = world.now.astimezone(zone).date() - timedelta(days=1)
    counselors = [world.people[f"counselor{n}"].id for n in range(COUNSELORS)]
    shifts = []
    for index in range(ROTA_DAYS * 2):
        day, night = first + timedelta(days=index // 2), index % 2 == 1
        if index == 9:  # the night of the day after tomorrow: nobody took it
            continue
        starts = datetime.combine(day, NIGHT_SHIFT if night else DAY_SHIFT, tzinfo=zone)
        ends = datetime.combine(
            day + timedelta(days=1) if night else day, DAY_SHIFT if night else NIGHT_SHIFT, zone
        )
        backup = None if index in (14, 23) else counselors[(index + 3) % COUNSELORS]
        data = ShiftCreate(
            starts_at=starts,
            ends_at=ends,
            primary_user_id=counselors[index % COUNSELORS],
            backup_user_id=backup,
        )
        shifts.append(hotline_service.create_shift(act, hotline, data))
    for shift, who in ((shifts[6], 5), (shifts[17], 2)):
        cover = OverrideCreate.model_validate(
            {
                "position": Position.BACKUP,
                "user_id": counselors[who],
                "starts_at": shift.starts_at + timedelta(hours=2),
                "ends_at": shift.ends_at - timedelta(hours=3),
                "reason": "Bench: a doctor's appointment",
            }
        )
        hotline_service.add_override(act, hotline, shift.id, cover)
    swap = SwapCreate.model_validate(
        {"other_shift_id": shifts[12].id, "position": Position.PRIMARY, "reason": "Bench: a swap"}
    )
    hotline_service.swap_shifts(act, hotline, shifts[10].id, swap)
    world.shifts = len(shifts)
    world.gaps = len(hotline_service.rota_gaps(session, now=world.now, hotline=hotline))


def _seed(engine: sa.Engine, cipher: FieldCipher) -> _World:
    world = _World(SystemClock().now())
    for step in (_people, _shelter, _stays, _referrals, _rota):
        with unit_of_work(engine) as session:
            step(session, world, cipher)
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(sa.text("ANALYZE"))
            connection.commit()
    return world


# --- HTTP --------------------------------------------------------------------------------------


class _Client:
    """One keep-alive HTTP/1.1 connection, as a signed-in browser (its form cookie too)."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, path: str, token: str) -> bytes:
        cookies = f"{SESSION_COOKIE}={token}; {FORM_COOKIE}={BROWSER}"
        self.connection.request("GET", path, headers={"Cookie": cookies})
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path} answered {response.status}: {body[:200]!r}")
        return body

    def close(self) -> None:
        self.connection.close()


@dataclass(frozen=True)
class _Pair:
    """A page, the JSON calls it is measured against (timed together), and other JSON calls
    reported beside them (no target)."""

    name: str
    desk: str
    page: str
    page_label: str
    json_label: str
    json: tuple[str, ...]
    check: Callable[[bytes, list[bytes]], str | None]  # page, JSON answers -> a problem
    others: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass
class _Result:
    pair: _Pair
    page: list[float] = field(default_factory=list)
    json: list[float] = field(default_factory=list)
    others: dict[str, list[float]] = field(default_factory=dict)
    page_kb: float = 0.0
    json_kb: float = 0.0
    other_kb: dict[str, float] = field(default_factory=dict)


def _timed(client: _Client, paths: tuple[str, ...], token: str) -> tuple[float, list[bytes]]:
    started = time.perf_counter()
    bodies = [client.get(path, token) for path in paths]
    return (time.perf_counter() - started) * 1000, bodies


def _round(client: _Client, pair: _Pair, token: str, result: _Result | None) -> list[bytes]:
    """The page, its JSON and the others, in turn; timed into `result` (None: warming up)."""
    page_ms, bodies = _timed(client, (pair.page,), token)
    json_ms, answers = _timed(client, pair.json, token)
    others = {label: _timed(client, paths, token)[0] for label, paths in pair.others}
    if result is not None:
        result.page.append(page_ms)
        result.json.append(json_ms)
        for label, ms in others.items():
            result.others[label].append(ms)
    return bodies + answers


def _measure(client: _Client, pair: _Pair, token: str) -> _Result:
    """Warm up (WARM_UP rounds, WARM_UP_S at most), then measure ROUNDS rounds or BUDGET_S
    (MIN_ROUNDS at least)."""
    page, *answers = _round(client, pair, token, None)
    problem = pair.check(page, answers)
    if problem is not None:
        raise RuntimeError(f"{pair.name}: {problem}")
    result = _Result(pair, others={label: [] for label, _ in pair.others})
    result.page_kb, result.json_kb = len(page) / 1024, sum(map(len, answers)) / 1024
    for label, paths in pair.others:
        result.other_kb[label] = sum(len(client.get(path, token)) for path in paths) / 1024
    started = time.monotonic()
    for _ in range(WARM_UP - 1):
        if time.monotonic() - started > WARM_UP_S:
            break
        _round(client, pair, token, result=None)
    started = time.monotonic()
    for n in range(ROUNDS):
        if n >= MIN_ROUNDS and time.monotonic() - started > BUDGET_S:
            break
        _round(client, pair, token, result)
    return result


def _board_pair(world: _World) -> _Pair:
    api = f"/organisations/{world.ngo}/shelters/{world.shelter}"

    def check(page: bytes, answers: list[bytes]) -> str | None:
        beds = json.loads(answers[0])["beds"]
        if len(beds) != ROOMS * BEDS_PER_ROOM:
            return f"the board lists {len(beds)} beds"
        missing = [b["label"] for b in beds if b["label"].encode() not in page]
        return f"the page lacks beds {missing[:3]}" if missing else None

    return _Pair(
        "bed board",
        "staff",
        f"/console/o/{world.ngo}/shelters/{world.shelter}/board",
        "GET /console/o/{org}/shelters/{id}/board",
        "GET .../shelters/{id}/board (JSON)",
        (api + "/board",),
        check,
        (
            (
                "GET .../board + /rooms + /beds (the page's 3)",
                (api + "/board", api + "/rooms", api + "/beds"),
            ),
        ),
    )


def _inbox_pair(world: _World) -> _Pair:
    waiting = [f"/referrals/inbox?status={s.value}&limit={WAITING_LIMIT}" for s in WAITING]
    calls = (*waiting, f"/referrals/inbox?status=decided&limit={DECIDED_LIMIT}")
    counts = world.statuses
    expected = [min(counts[s], WAITING_LIMIT) for s in WAITING]
    expected.append(min(counts[ReferralStatus.DECIDED], DECIDED_LIMIT))

    def check(page: bytes, answers: list[bytes]) -> str | None:
        found = [len(json.loads(a)) for a in answers]
        if found != expected:
            return f"the JSON lists {found} referrals, not {expected}"
        # The page reads every waiting referral (to put the overdue first) and shows a page of
        # them (PAGE_SIZE), then the decided ones.
        shown = min(sum(expected[:-1]), PAGE_SIZE) + expected[-1]
        links = page.count(b'href="/console/inbox/')
        return None if links == shown else f"the page links {links}, not {shown}"

    return _Pair(
        "CSW inbox",
        "officer",
        "/console/inbox",
        "GET /console/inbox",
        "the page's 4 GET /referrals/inbox calls",
        calls,
        check,
        (("GET /referrals/inbox?limit=500 (one call)", ("/referrals/inbox?limit=500",)),),
    )


def _rota_pair(world: _World) -> _Pair:
    zone = ZoneInfo(ZONE)
    first = world.now.astimezone(zone).date()
    start, until = (
        local_midnight(first, ZONE),
        local_midnight(first + timedelta(days=rota_page.DAYS), ZONE),
    )
    hotlines = f"/organisations/{world.ngo}/hotlines"
    hotline = f"{hotlines}/{world.hotline}"
    shifts = f"{hotline}/shifts?from={quote(start.isoformat())}&until={quote(until.isoformat())}"
    users = f"/organisations/{world.ngo}/users"

    def check(page: bytes, answers: list[bytes]) -> str | None:
        listed, gaps = json.loads(answers[0]), json.loads(answers[1])
        if not gaps:
            return "the gaps route finds no gap"
        missing = [s["primary_name"] for s in listed if s["primary_name"].encode() not in page]
        return f"the page lacks {missing[:3]}" if missing else None

    return _Pair(
        "rota grid",
        "supervisor",
        f"/console/o/{world.ngo}/rota",
        "GET /console/o/{org}/rota",
        "GET .../shifts (the fortnight) + .../gaps",
        (shifts, hotline + "/gaps"),
        check,
        (
            (
                "GET hotlines, shifts, gaps, users (the page's 4)",
                (hotlines, shifts, hotline + "/gaps", users),
            ),
        ),
    )


# --- the run -----------------------------------------------------------------------------------


def _line(label: str, samples: list[float], kb: float) -> str:
    return (
        f"    {label:<50} n={len(samples):<4} p50={percentile(samples, 0.5):7.2f} ms"
        f"  p95={percentile(samples, 0.95):7.2f} ms  p99={percentile(samples, 0.99):7.2f} ms"
        f"  max={max(samples):7.1f} ms  {kb:7.1f} KB"
    )


def _ratio(page: list[float], json_: list[float], fraction: float = 0.95) -> float:
    return percentile(page, fraction) / percentile(json_, fraction)


def _verdict(ratio: float) -> str:
    return "PASS" if ratio <= TARGET_RATIO else "FAIL"


def _print(results: list[_Result]) -> None:
    for r in results:
        pair = r.pair
        print(f"  {pair.name}:")
        print(_line(pair.page_label, r.page, r.page_kb))
        print(_line(pair.json_label, r.json, r.json_kb))
        for label, samples in r.others.items():
            print(_line(label, samples, r.other_kb[label]))
        others = "".join(
            f"; against {label.split(' (')[0]}: x{_ratio(r.page, samples):.2f}"
            for label, samples in r.others.items()
        )
        median = _ratio(r.page, r.json, 0.5)
        print(
            f"    p95 page / p95 JSON: x{_ratio(r.page, r.json):.2f} (p50: x{median:.2f}){others}"
        )
    print("targets:")
    for r in results:
        ratio = _ratio(r.page, r.json)
        print(
            f"  {_verdict(ratio)} {r.pair.name}: page p95 {percentile(r.page, 0.95):.1f} ms,"
            f" JSON p95 {percentile(r.json, 0.95):.1f} ms ({r.pair.json_label}): x{ratio:.2f}"
            f" (target within x{TARGET_RATIO}; page {r.page_kb:.0f} KB)"
        )
        if r.pair.name == "CSW inbox":
            label, samples = next(iter(r.others.items()))
            plain = _ratio(r.page, samples)
            print(
                f"  {_verdict(plain)} {r.pair.name}, against {label}: JSON p95"
                f" {percentile(samples, 0.95):.1f} ms: x{plain:.2f} (the same target, for"
                " reference: one call lists at most 500 of any status)"
            )


def run() -> None:
    domains.wire()
    url = fresh_postgres("sigurna_bench_console")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        backend = "postgresql"
        if url is None:
            print("postgresql: no server answers; on SQLite (set SIGURNA_BENCH_DATABASE_URL)")
            backend, url = "sqlite", f"sqlite:///{folder / 'bench.db'}"
        settings = bench_settings(url)
        engine = create_db_engine(settings)
        upgrade(settings, engine)
        started = time.monotonic()
        world = _seed(engine, cipher_from_settings(settings))
        engine.dispose()
        statuses = ", ".join(f"{n} {s.value}" for s, n in world.statuses.most_common())
        print(
            f"{backend}: a shelter of {ROOMS * BEDS_PER_ROOM} beds in {ROOMS} rooms ({world.stays}"
            f" admissions, {world.people_in} people in beds now, {world.holds} holds, 1 bed out"
            f" of service); a CSW with {world.statuses.total()} referrals ({statuses};"
            f" {world.admitted} made by the admissions); a hotline with {world.shifts} shifts"
            f" over {ROTA_DAYS} days, {world.gaps} gaps in the next 14 (seeded in"
            f" {time.monotonic() - started:.1f} s)"
        )
        server, port = _start_server(_env(url, folder))
        client = _Client(port)
        try:
            results = [
                _measure(client, pair, world.tokens[pair.desk])
                for pair in (_board_pair(world), _inbox_pair(world), _rota_pair(world))
            ]
        finally:
            client.close()
            server.terminate()
            server.wait(10)
    print(
        f"HTTP, uvicorn with 1 worker, one keep-alive client; up to {WARM_UP} warm-up rounds"
        f" ({WARM_UP_S:.0f} s at most), then up to {ROUNDS} ({BUDGET_S:.0f} s, at least"
        f" {MIN_ROUNDS}), each round the page then its JSON:"
    )
    _print(results)
