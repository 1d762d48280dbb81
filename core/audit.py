"""Append-only, hash-chained audit log, written in the transaction of the change it records."""

import hashlib
import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, select

from core.clock import ensure_utc
from core.db import UTCDateTime

GENESIS_HASH = "0" * 64


class AuditEvent(SQLModel, table=True):
    """One audited action. Rows are never updated or deleted (PostgreSQL enforces it)."""

    __tablename__ = "audit_event"
    __table_args__ = (
        sa.Index("ix_audit_event_organisation_id_id", "organisation_id", "id"),
        sa.Index("ix_audit_event_subject", "subject_type", "subject_id", "id"),
    )

    # Numbered by the chain itself (head + 1, under the head's lock): contiguous, no sequence.
    id: int = Field(
        sa_column=sa.Column(
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=False,
        ),
    )
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    actor_type: str = Field(max_length=16)
    actor_id: str | None = Field(default=None, max_length=64)
    organisation_id: uuid.UUID | None = Field(default=None)
    action: str = Field(max_length=64)
    subject_type: str = Field(max_length=40)
    subject_id: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=500)
    request_id: str | None = Field(default=None, max_length=64)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """The chain's last link; appends lock this row, so the chain never forks."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    last_event_id: int | None = Field(default=None)
    last_hash: str = Field(default=GENESIS_HASH, max_length=64)


class AuditEventPublic(SQLModel):
    id: int
    occurred_at: datetime
    actor_type: str
    actor_id: str | None
    organisation_id: uuid.UUID | None
    action: str
    subject_type: str
    subject_id: str | None
    reason: str | None
    request_id: str | None


@dataclass(frozen=True)
class Actor:
    """Who did something: a user, an API token, the CLI or the system itself."""

    type: str
    id: str | None = None
    organisation_id: uuid.UUID | None = None
    request_id: str | None = None

    @classmethod
    def system(cls, name: str = "system") -> "Actor":
        return cls(type=name)


_HASHED_FIELDS = (
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
)


def _digest(prev_hash: str, fields: Mapping[Any, Any]) -> str:
    payload = {name: fields[name] for name in _HASHED_FIELDS}
    # The database keeps UTC; hash the same instant the same way whatever offset the caller used.
    payload["occurred_at"] = (
        payload["occurred_at"].astimezone(UTC).isoformat(timespec="microseconds")
    )
    if payload["organisation_id"] is not None:
        payload["organisation_id"] = str(payload["organisation_id"])
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def record(
    session: Session,
    now: datetime,
    actor: Actor,
    action: str,
    subject_type: str,
    subject_id: object | None = None,
    organisation_id: uuid.UUID | None = None,
    *,
    reason: str | None = None,
) -> AuditEvent:
    """Append an event to the chain inside the caller's transaction.

    Called as one sentence, in this order: at `now`, `actor` did `action` to the subject
    (`subject_type`, `subject_id`) of `organisation_id` (the actor's own when None), for `reason`.
    """
    head = session.exec(
        select(AuditHead)
        .where(AuditHead.id == 1)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    event = AuditEvent(
        id=(head.last_event_id or 0) + 1,
        occurred_at=ensure_utc(now),
        actor_type=actor.type,
        actor_id=actor.id,
        organisation_id=organisation_id if organisation_id is not None else actor.organisation_id,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id) if subject_id is not None else None,
        reason=reason,
        request_id=actor.request_id,
        prev_hash=head.last_hash,
        hash="",
    )
    event.hash = _digest(head.last_hash, event.model_dump())
    session.add(event)
    head.last_event_id = event.id
    head.last_hash = event.hash
    session.add(head)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainProblem:
    event_id: int | None
    problem: str


def verify(session: Session, *, batch: int = 5000) -> tuple[int, list[ChainProblem]]:
    """Walk the whole chain; return the number of events checked and every break found."""
    problems: list[ChainProblem] = []
    checked = 0
    prev_hash = GENESIS_HASH
    last_id: int | None = None
    for event in _iterate(session, batch):
        checked += 1
        if event["id"] != (last_id or 0) + 1:
            problems.append(
                ChainProblem(
                    event["id"], f"events {(last_id or 0) + 1}..{event['id'] - 1} are missing"
                )
            )
        if event["prev_hash"] != prev_hash:
            problems.append(
                ChainProblem(
                    event["id"], "does not follow the event before it (deleted or reordered)"
                )
            )
        if _digest(event["prev_hash"], event) != event["hash"]:
            problems.append(ChainProblem(event["id"], "content does not match its hash (edited)"))
        prev_hash = event["hash"]
        last_id = event["id"]
    head = session.get(AuditHead, 1)
    if head is None:
        problems.append(ChainProblem(None, "the chain head is missing"))
    elif head.last_event_id != last_id or head.last_hash != prev_hash:
        problems.append(
            ChainProblem(
                head.last_event_id, "the chain head does not match the last event (tail deleted)"
            )
        )
    return checked, problems


def _iterate(session: Session, batch: int) -> Iterator[sa.RowMapping]:
    # Plain rows, not entities: the identity map would otherwise hold the whole log.
    table = SQLModel.metadata.tables[AuditEvent.__tablename__]
    after = 0
    while True:
        rows = (
            session.connection()
            .execute(sa.select(table).where(table.c.id > after).order_by(table.c.id).limit(batch))
            .mappings()
            .all()
        )
        if not rows:
            return
        yield from rows
        after = rows[-1]["id"]
