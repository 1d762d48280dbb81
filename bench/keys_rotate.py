"""Key rotation (`core.sealed.rotate`, what `sigurna keys rotate` runs), on SQLite and PostgreSQL.

100 000 sealed values under an old key: half the signing secrets of webhook contacts, half those
copied into sent outbox messages (fictional: hooks.example.org), each sealed on its own. Then:

1. rotation to a new key, batches of 500 (the default): rows per second, commits;
2. rotation back, batches of 2 000 (the same work with fewer, larger transactions);
3. a run with nothing left to do (every row already under the active key): what a second run
   costs, e.g. when an operator runs it again to be sure.

Every run is checked: every value re-sealed once, none failed, and all under the active key.
"""

from __future__ import annotations

import functools
import json
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from bench.support import bench_settings, fresh_postgres
from core import domains, sealed
from core.clock import SystemClock
from core.crypto import FieldCipher, derive_key
from core.db import UnitOfWork, create_db_engine, unit_of_work, upgrade
from notifications.service import SECRET_CONTEXT

VALUES = 100_000
CHUNK = 5_000  # rows an INSERT statement while seeding
OLD_KEY = bytes(range(32))
NEW_KEY = bytes(range(32, 64))
HASH_KEY = derive_key("bench-keys-rotate", "keyed-hash")
FORWARD = FieldCipher({"b1": NEW_KEY, "b0": OLD_KEY}, hash_key=HASH_KEY)  # b0 -> b1
BACK = FieldCipher({"b0": OLD_KEY, "b1": NEW_KEY}, hash_key=HASH_KEY)  # b1 -> b0


def _seed(engine: Engine) -> None:
    """One organisation, VALUES / 2 webhook contacts and as many sent messages, sealed under b0."""
    old = FieldCipher({"b0": OLD_KEY}, hash_key=HASH_KEY)
    tables = SQLModel.metadata.tables
    now = SystemClock().now()
    organisation_id = uuid.uuid4()
    with engine.begin() as connection:
        connection.execute(
            sa.insert(tables["organisation"]).values(
                id=organisation_id,
                name="Bench CSW (rotation)",
                kind="csw",
                country_code="ME",
                time_zone="Europe/Podgorica",
                created_at=now,
            )
        )
        contacts: list[dict[str, Any]] = []
        messages: list[dict[str, Any]] = []
        for n in range(VALUES // 2):
            url = f"https://hooks{n}.example.org/sigurna"
            contact = old.seal(uuid.uuid4().hex, context=SECRET_CONTEXT)
            message = old.seal(uuid.uuid4().hex, context=SECRET_CONTEXT)
            contacts.append(
                {
                    "id": uuid.uuid4(),
                    "organisation_id": organisation_id,
                    "channel": "webhook",
                    "address": url,
                    "label": "Intake desk",
                    "purposes": ["referrals"],
                    "enabled": True,
                    "secret_key_id": contact.key_id,
                    "secret_sealed": contact.blob,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            messages.append(
                {
                    "id": uuid.uuid4(),
                    "organisation_id": organisation_id,
                    "idempotency_key": f"bench-rotation-{n}",
                    "topic": "referral.created",
                    "channel": "webhook",
                    "recipient": url,
                    "body": json.dumps({"type": "referral.created"}),
                    "secret_key_id": message.key_id,
                    "secret_sealed": message.blob,
                    "alert_on_dead": True,
                    "state": "sent",
                    "attempts": 1,
                    "next_attempt_at": now,
                    "created_at": now,
                    "sent_at": now,
                }
            )
        for name, rows in (("notification_contact", contacts), ("outbox_message", messages)):
            for start in range(0, len(rows), CHUNK):
                connection.execute(sa.insert(tables[name]), rows[start : start + CHUNK])
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE notification_contact, outbox_message")


@dataclass(frozen=True)
class _Run:
    label: str
    batch: int
    seconds: float
    resealed: int
    commits: int

    @property
    def rate(self) -> float:
        return self.resealed / self.seconds


def _rotate(engine: Engine, cipher: FieldCipher, batch: int, label: str) -> _Run:
    commits = [0]

    def counted(_connection: Any) -> None:
        commits[0] += 1

    sa.event.listen(engine, "commit", counted)
    work: UnitOfWork = functools.partial(unit_of_work, engine)
    started = time.perf_counter()
    try:
        rotation = sealed.rotate(work, cipher, batch=batch)
    finally:
        seconds = time.perf_counter() - started
        sa.event.remove(engine, "commit", counted)
    if rotation.failed or rotation.pending:
        raise RuntimeError(f"{rotation.failed} failed, {rotation.pending} pending")
    if rotation.resealed not in (0, VALUES):
        raise RuntimeError(f"{rotation.resealed} values re-sealed, not {VALUES}")
    with Session(engine) as session:
        keys = sealed.key_counts(sealed.status(session))
    if keys.get(cipher.active_key_id, 0) != VALUES:
        raise RuntimeError(f"not every value is under {cipher.active_key_id}: {dict(keys)}")
    return _Run(label, batch, seconds, rotation.resealed, commits[0])


def _line(backend: str, run: _Run) -> str:
    rate = f"{run.rate:8.0f} rows/s" if run.resealed else " " * 15
    return (
        f"{backend}: {run.label:<28} batch {run.batch:>5}: {run.resealed:>6} re-sealed in"
        f" {run.seconds:6.2f} s {rate}  ({run.commits} commits)"
    )


def _one(backend: str, url: str) -> None:
    settings = bench_settings(url)
    engine = create_db_engine(settings)
    try:
        upgrade(settings, engine)
        started = time.perf_counter()
        _seed(engine)
        print(
            f"{backend}: {VALUES} sealed values (contacts' and messages' webhook secrets) seeded"
            f" in {time.perf_counter() - started:.1f} s"
        )
        for run in (
            _rotate(engine, FORWARD, sealed.DEFAULT_BATCH, "rotation b0 -> b1"),
            _rotate(engine, BACK, 2_000, "rotation b1 -> b0"),
            _rotate(engine, BACK, sealed.DEFAULT_BATCH, "again, nothing to do"),
        ):
            print(_line(backend, run))
    finally:
        engine.dispose()


def run() -> None:
    domains.wire()  # each domain registers its sealed columns
    with tempfile.TemporaryDirectory() as folder:
        _one("sqlite", f"sqlite:///{Path(folder) / 'bench.db'}")
    pg = fresh_postgres("sigurna_bench_keys")
    if pg is None:
        print("postgresql: no server answers; set SIGURNA_BENCH_DATABASE_URL to include it")
    else:
        _one("postgresql", pg)
