"""No free text of the shelters and no person's name is stored readable, and migration 0007 seals
what was stored before it (and its downgrade opens it again).

Every shelter write route is called with a marker in every text field, on a database of the
test's own whose transactions really commit. Then the raw storage is searched: on SQLite the
database file's bytes and its write-ahead log's, on PostgreSQL every text, JSON and bytea column
of the shelters' tables and the audit log, read as text. A room's name is a label the network
reads, stored readable on purpose: finding it proves the search sees the data.
"""

from __future__ import annotations

import sqlite3
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from alembic import command
from core.access import served_routes
from core.app import create_app
from core.clock import FrozenClock
from core.config import Settings
from core.crypto import FieldCipher, cipher_from_settings
from core.db import alembic_config, create_db_engine, upgrade
from core.models import Role
from core.passwords import make_hasher
from shelters import service
from shelters.models import (
    Bed,
    BedOccupancy,
    EntryApproval,
    OccupancyKind,
    Perpetrator,
    Stay,
    StayExtension,
)
from tests.conftest import (
    FIXTURE_PASSWORD,
    T0,
    World,
    act_as,
    drop_postgres_database,
    make_settings,
    private_postgres_url,
    recreate_postgres_database,
)

ORG = "/organisations/{org_id}/shelters"
SHELTER = ORG + "/{shelter_id}"
STAY = SHELTER + "/stays/{stay_id}"


def marker(kind: str) -> str:
    return f"Zq{kind}{uuid.uuid4().hex[:12]}"


@dataclass
class Fresh:
    backend: str
    settings: Settings
    engine: Engine
    path: Path | None  # the SQLite file


@pytest.fixture
def fresh(backend: str, tmp_path: Path) -> Iterator[Fresh]:
    """An empty database of this test's own, migrated to the head."""
    path = tmp_path / "sealed.db" if backend == "sqlite" else None
    url = f"sqlite:///{path}" if path else private_postgres_url("_sealed")
    if path is None:
        recreate_postgres_database(url)
    settings = make_settings(url, voice_journal_path=str(tmp_path / "journal.jsonl"))
    engine = create_db_engine(settings)
    upgrade(settings, engine)
    try:
        yield Fresh(backend, settings, engine, path)
    finally:
        engine.dispose()
        if path is None:
            drop_postgres_database(url)


@dataclass
class Writer:
    """Calls shelter write routes as the staff member or the supervisor, noting each route."""

    client: TestClient
    cookies: dict[str, dict[str, str]]
    ids: dict[str, Any]
    called: set[tuple[str, str]] = field(default_factory=set)
    sealed: dict[str, str] = field(default_factory=dict)  # what must never be stored readable

    def mark(self, kind: str) -> str:
        self.sealed[kind] = marker(kind)
        return self.sealed[kind]

    def call(
        self, who: str, method: str, path: str, status: int, body: Any = None, **params: Any
    ) -> Any:
        act_as(self.client, self.cookies[who])
        url = path.format(**{**self.ids, **params})
        response = self.client.request(method, url, json=body)
        assert response.status_code == status, (method, path, response.text)
        self.called.add((method, path))
        return response.json() if response.content else None


def _configure(w: Writer, control: str) -> None:
    """A shelter, moved; its room, beds and staff; a bed out of service; a lockdown."""
    shelter = w.call(
        "supervisor",
        "POST",
        ORG,
        201,
        {"name": "Sealed house", "address": f"Ulica {w.mark('address')} 1", "hard_capacity": 6},
    )
    w.ids["shelter_id"] = shelter["id"]
    w.call("supervisor", "PATCH", SHELTER, 200, {"address": f"Trg {w.mark('moved')} 2"})
    room = w.call("supervisor", "POST", SHELTER + "/rooms", 201, {"name": f"Room {control}"})
    for label, kind in (("A1", "bed"), ("A2", "bed"), ("A3", "bed"), ("C1", "cot")):
        bed = w.call(
            "supervisor",
            "POST",
            SHELTER + "/beds",
            201,
            {"room_id": room["id"], "label": label, "kind": kind},
        )
        w.ids[label] = bed["id"]
    for label in ("B1", "E1"):
        bed = w.call(
            "supervisor", "POST", SHELTER + "/beds", 201, {"room_id": room["id"], "label": label}
        )
        w.ids[label] = bed["id"]
    w.call("supervisor", "PUT", SHELTER + "/staff/{user_id}", 200)
    service_url = SHELTER + "/beds/{bed_id}/service"
    for out, kind in ((True, "broken"), (False, "repaired"), (True, "infection")):
        body = {"out_of_service": out, "reason": w.mark(kind)}
        w.call("staff", "PUT", service_url, 200, body, bed_id=w.ids["B1"])
    for on, kind in ((True, "lockdown"), (False, "lifted")):
        w.call(
            "supervisor",
            "PUT",
            SHELTER + "/lockdown",
            200,
            {"lockdown": on, "reason": w.mark(kind)},
        )


def _stay(w: Writer) -> None:
    """Holds, an admission and a refused one, a transfer, extensions, assessment and plan."""
    until = (T0 + timedelta(hours=6)).isoformat()
    w.call(
        "staff",
        "POST",
        SHELTER + "/holds",
        201,
        {"bed_id": w.ids["A3"], "until": until, "note": w.mark("note")},
    )
    gone = w.call(
        "staff",
        "POST",
        SHELTER + "/holds",
        201,
        {"bed_id": w.ids["E1"], "until": until, "note": w.mark("gone")},
    )
    w.call("staff", "DELETE", SHELTER + "/holds/{hold_id}", 204, hold_id=gone["id"])
    family = {
        "client": {"name": f"Ana {w.mark('client')}", "sex": "female", "age": 30},
        "children": [{"name": f"Luka {w.mark('child')}", "sex": "male", "age": 1}],
        "channel": "in_person",
        "municipality": f"Grad {w.mark('municipality')}",
    }
    stay = w.call("staff", "POST", SHELTER + "/stays", 201, family)
    w.ids["stay_id"] = stay["id"]
    man = {**family, "client": {"name": f"Marko {w.mark('refused')}", "sex": "male", "age": 30}}
    refused = w.call("staff", "POST", SHELTER + "/stays", 409, man)
    w.ids["turn_away_id"] = refused["turn_away_id"]
    w.call(
        "staff", "PATCH", SHELTER + "/turn-aways/{turn_away_id}", 200, {"sent_to": "other_service"}
    )
    client_id = stay["members"][0]["id"]
    move = {
        "moves": [{"member_id": client_id, "bed_id": w.ids["A2"]}],
        "reason": w.mark("transfer"),
    }
    w.call("staff", "POST", STAY + "/transfer", 200, move)
    for decision, kind, new_end in (
        ("approve", "approved", "2026-03-20T09:00:00Z"),
        ("reject", "rejected", "2026-03-25T09:00:00Z"),
    ):
        asked = w.call(
            "staff",
            "POST",
            STAY + "/extensions",
            201,
            {"new_end": new_end, "justification": f"Because {w.mark(kind + 'why')}"},
        )
        w.ids["extension_id"] = asked["id"]
        path = STAY + "/extensions/{extension_id}/" + decision
        w.call("supervisor", "POST", path, 200, {"note": w.mark(kind)})
    areas = ("security", "love_and_belonging", "respect", "self_accomplishment")
    w.call("staff", "POST", STAY + "/assessments", 201, {a: w.mark(a) for a in areas})
    step = {"what": w.mark("what"), "who": w.mark("who"), "by": "2026-03-05T12:00:00Z"}
    w.call(
        "staff",
        "POST",
        STAY + "/work-plans",
        201,
        {"goals": [{"goal": w.mark("goal"), "steps": [step]}]},
    )


def _visitors(w: Writer) -> None:
    """A perpetrator; a visitor who comes and goes; a close name let in by an override."""
    perpetrator = w.mark("perpetrator")
    w.call("staff", "POST", STAY + "/perpetrators", 201, {"name": f"Petar {perpetrator}"})
    visitor = {
        "person_name": f"Vesna {w.mark('visitor')}",
        "organisation": f"Office {w.mark('organisation')}",
        "purpose": f"To {w.mark('purpose')}",
        "valid_from": (T0 - timedelta(hours=1)).isoformat(),
        "valid_until": (T0 + timedelta(days=2)).isoformat(),
    }
    approved = w.call("supervisor", "POST", SHELTER + "/entry-approvals", 201, visitor)
    w.ids["approval_id"] = approved["id"]
    entry = w.call("staff", "POST", SHELTER + "/entry-approvals/{approval_id}/entries", 201)
    w.ids["entry_id"] = entry["id"]
    w.call("staff", "POST", SHELTER + "/entries/{entry_id}/exit", 200)
    close = {**visitor, "person_name": f"P. {perpetrator}", "override_reason": w.mark("override")}
    overridden = w.call("supervisor", "POST", SHELTER + "/entry-approvals", 201, close)
    assert overridden["override_reason"] == w.sealed["override"]
    w.ids["approval_id"] = overridden["id"]
    w.call("supervisor", "POST", SHELTER + "/entry-approvals/{approval_id}/revoke", 200)
    discharge = {"destination": "relatives", "reason": w.mark("discharge")}
    w.call("staff", "POST", STAY + "/discharge", 200, discharge)
    w.call("supervisor", "DELETE", SHELTER + "/staff/{user_id}", 204)


def _write_everything(fresh: Fresh, tmp_path: Path) -> tuple[Writer, FrozenClock]:
    clock = FrozenClock(T0)
    hashed = make_hasher(fresh.settings).hash(FIXTURE_PASSWORD)
    with Session(fresh.engine) as session:
        world = World(session, clock, hashed)
        organisation = world.organisation()
        staff = world.user(organisation, Role.SHELTER_STAFF)
        supervisor = world.user(organisation, Role.SUPERVISOR)
        cookies = {"staff": world.login_cookie(staff), "supervisor": world.login_cookie(supervisor)}
        ids: dict[str, Any] = {"org_id": organisation.id, "user_id": staff.id}
        session.commit()
    app = create_app(fresh.settings, engine=fresh.engine, clock=clock)
    control = marker("control")
    with TestClient(app, base_url="https://testserver") as client:
        writer = Writer(client, cookies, ids)
        _configure(writer, control)
        _stay(writer)
        _visitors(writer)
    writer.ids["control"] = control
    return writer, clock


def _write_routes() -> set[tuple[str, str]]:
    app = create_app(make_settings("sqlite:///:memory:"))
    found = {
        (method, route.path)
        for route in served_routes(app)
        if route.is_api and route.path.startswith(ORG)
        for method in route.methods
        if method not in {"GET", "HEAD"}
    }
    app.state.engine.dispose()
    return found


# --- reading the raw storage -----------------------------------------------------------------


def _sqlite_bytes(path: Path) -> bytes:
    """The database file and its write-ahead log as they are, then the file once checkpointed."""
    wal = path.with_name(path.name + "-wal")
    found = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return found + path.read_bytes()


def _postgres_text(engine: Engine) -> str:
    """Every text, JSON and bytea value of the shelters' tables and the audit log, as text."""
    with engine.connect() as connection:
        columns = connection.execute(
            sa.text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = current_schema()"
                " AND (table_name LIKE 'shelter%' OR table_name = 'audit_event')"
                " AND data_type IN ('text', 'character varying', 'bytea', 'json', 'jsonb')"
                " ORDER BY table_name, column_name"
            )
        ).all()
        tables: dict[str, list[str]] = {}
        for table, column, data_type in columns:
            value = (
                f"encode(\"{column}\", 'escape')" if data_type == "bytea" else f'"{column}"::text'
            )
            tables.setdefault(table, []).append(value)
        found: list[str] = []
        for table, values in tables.items():
            query = f"SELECT concat_ws(' | ', {', '.join(values)}) FROM \"{table}\""  # noqa: S608
            found.extend(connection.execute(sa.text(query)).scalars().all())
    assert {"shelter_stay", "shelter_entry_approval", "audit_event"} <= set(tables)
    return "\n".join(found)


def _stored(fresh: Fresh) -> bytes:
    if fresh.path is not None:
        fresh.engine.dispose()
        return _sqlite_bytes(fresh.path)
    return _postgres_text(fresh.engine).encode()


def _readable(fresh: Fresh, writer: Writer) -> list[str]:
    stored = _stored(fresh)
    assert writer.ids["control"].encode() in stored  # the search sees the data
    return sorted(kind for kind, value in writer.sealed.items() if value.encode() in stored)


# --- the tests -------------------------------------------------------------------------------


def test_every_shelter_write_route_leaves_no_text_readable_at_rest(
    fresh: Fresh, tmp_path: Path
) -> None:
    writer, _ = _write_everything(fresh, tmp_path)

    assert writer.called == _write_routes()
    assert len(writer.sealed) == 31
    assert _readable(fresh, writer) == []


def _no_secure_delete(dbapi_connection: Any, _: object) -> None:
    dbapi_connection.execute("PRAGMA secure_delete=OFF")


def _migrate(fresh: Fresh, cipher: FieldCipher, revision: str, *, down: bool = False) -> None:
    with fresh.engine.begin() as connection:
        config = alembic_config(fresh.settings, connection)
        config.attributes["cipher"] = cipher
        (command.downgrade if down else command.upgrade)(config, revision)


def _legacy_hash(cipher: FieldCipher, name: str) -> str:
    """Revision 0004's fingerprint of a name, which its code compared."""
    text = name.casefold().replace("đ", "dj")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    words = "".join(c if c.isalnum() else " " for c in text).split()
    return cipher.keyed_hash(" ".join(sorted(words)), purpose="person-name")


def _legacy_rows(fresh: Fresh) -> dict[str, list[Any]]:
    with fresh.engine.connect() as connection:

        def rows(query: str) -> list[Any]:
            return [tuple(row) for row in connection.execute(sa.text(query)).all()]

        return {
            "bed": rows("SELECT label, out_of_service_reason FROM shelter_bed ORDER BY label"),
            "hold": rows("SELECT note FROM shelter_bed_occupancy WHERE kind = 'reserved'"),
            "stay": rows("SELECT municipality FROM shelter_stay"),
            "extension": rows(
                "SELECT justification, decision_note FROM shelter_stay_extension"
                " ORDER BY requested_at, status"
            ),
            "approval": rows(
                "SELECT person_name, organisation, purpose, name_hash FROM shelter_entry_approval"
                " ORDER BY person_name"
            ),
            "perpetrator": rows("SELECT name_hash FROM shelter_perpetrator"),
        }


def test_the_migration_seals_what_was_stored_readable_and_its_downgrade_opens_it(
    fresh: Fresh, tmp_path: Path
) -> None:
    if fresh.path is not None:  # as a SQLite built without secure delete would
        fresh.engine.dispose()
        sa.event.listen(fresh.engine, "connect", _no_secure_delete)
    writer, _ = _write_everything(fresh, tmp_path)
    cipher = cipher_from_settings(fresh.settings)
    s = writer.sealed

    # Down to the revision before: every sealed field back in its readable column.
    _migrate(fresh, cipher, "0006", down=True)
    perpetrator, close = f"Petar {s['perpetrator']}", f"P. {s['perpetrator']}"
    visitor = (f"Office {s['organisation']}", f"To {s['purpose']}")
    assert _legacy_rows(fresh) == {
        "bed": [
            ("A1", None),
            ("A2", None),
            ("A3", None),
            ("B1", s["infection"]),
            ("C1", None),
            ("E1", None),
        ],
        "hold": [(s["note"],)],
        "stay": [(f"Grad {s['municipality']}",)],
        "extension": [
            (f"Because {s['approvedwhy']}", s["approved"]),
            (f"Because {s['rejectedwhy']}", s["rejected"]),
        ],
        "approval": [
            (close, *visitor, _legacy_hash(cipher, close)),
            (f"Vesna {s['visitor']}", *visitor, _legacy_hash(cipher, f"Vesna {s['visitor']}")),
        ],
        "perpetrator": [(_legacy_hash(cipher, perpetrator),)],
    }
    assert {"infection", "note", "municipality", "visitor"} <= set(_readable(fresh, writer))

    # Up again: sealed, and every value opens to what was written.
    _migrate(fresh, cipher, "0007")
    # The reasons table went with the downgrade: what it held is not stored anywhere now.
    assert _readable(fresh, writer) == []
    with Session(fresh.engine) as session:
        hold = session.exec(
            select(BedOccupancy).where(BedOccupancy.kind == OccupancyKind.RESERVED)
        ).one()
        assert service.reveal_note(cipher, hold) == s["note"]
        texts = sorted(
            (
                service.reveal_approval(cipher, a).person_name,
                service.reveal_approval(cipher, a).purpose,
            )
            for a in session.exec(select(EntryApproval)).all()
        )
        assert texts == [(close, visitor[1]), (f"Vesna {s['visitor']}", visitor[1])]
        assert [
            service.reveal_municipality(cipher, stay) for stay in session.exec(select(Stay))
        ] == [f"Grad {s['municipality']}"]
        assert sorted(
            (t.justification, t.decision_note)
            for t in (
                service.reveal_extension(cipher, e) for e in session.exec(select(StayExtension))
            )
        ) == [
            (f"Because {s['approvedwhy']}", s["approved"]),
            (f"Because {s['rejectedwhy']}", s["rejected"]),
        ]
        beds = {b.label: service.reveal_bed_reason(cipher, b) for b in session.exec(select(Bed))}
        assert beds["B1"] == s["infection"]
        assert [
            service.reveal_perpetrator(cipher, p) for p in session.exec(select(Perpetrator))
        ] == [perpetrator]
