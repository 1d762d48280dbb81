"""A call's life: its row (written in groups by the call writer), its rungs as Twilio reports
them, a counselor's acceptance, a voicemail, its status; and, when nobody accepted, one callback
task and a text to the duty team."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel, col, func, select

from core.clock import ensure_utc
from core.config import Settings
from core.crypto import FieldCipher
from core.events import CallOfOrganisation
from core.phones import last_two
from core.scoped import new_reference
from hotline.models import Call, CallbackTask, CallMode, CallRung, CallStatus, Hotline
from hotline.rota import on_duty
from hotline.routing import Rung
from hotline.service.ladder import duty_team_numbers
from notifications.service import enqueue_sms

CALLER_CONTEXT = "hotline_call.caller"
RECORDING_CONTEXT = "hotline_call.recording"
CALLBACK_DUE = timedelta(minutes=15)
CALL_TABLE = SQLModel.metadata.tables[Call.__tablename__]
_CALL_COLUMNS = (
    "id",
    "hotline_id",
    "call_sid",
    "started_at",
    "mode",
    "status",
    "plan",
    "caller_key_id",
    "caller_sealed",
    "caller_hash",
    "caller_last2",
)
# INSERT ... ON CONFLICT (call_sid) DO NOTHING RETURNING call_sid; [True] is PostgreSQL.
_INSERT_CALL = {
    is_postgres: (postgresql_insert if is_postgres else sqlite_insert)(CALL_TABLE)
    .values({name: sa.bindparam(name) for name in _CALL_COLUMNS})
    .on_conflict_do_nothing(index_elements=["call_sid"])
    .returning(CALL_TABLE.c.call_sid)
    for is_postgres in (False, True)
}

# Twilio's call statuses, in the order a call moves through them; later ones never go back.
_STATUS_RANK = {
    "queued": 0,
    "initiated": 0,
    "ringing": 1,
    "in-progress": 2,
    "completed": 3,
    "busy": 3,
    "failed": 3,
    "no-answer": 3,
    "canceled": 3,
}
TERMINAL_STATUSES = frozenset(s for s, rank in _STATUS_RANK.items() if rank == 3)


def call_by_sid(session: Session, call_sid: str, *, lock: bool = False) -> Call | None:
    query = select(Call).where(Call.call_sid == call_sid)
    if lock:
        query = query.with_for_update()
    return session.exec(query).first()


def call_of_organisation(session: Session, question: CallOfOrganisation) -> bool:
    """Whether the call is one of the organisation's hotlines' calls: the hotline's answer to
    `core.events.CallOfOrganisation`, which other domains ask (wired in `hotline.wiring`)."""
    found = session.exec(
        select(Call.id)
        .join(Hotline, col(Hotline.id) == col(Call.hotline_id))
        .where(Call.id == question.call_id, Hotline.organisation_id == question.organisation_id)
    ).first()
    return found is not None


def new_call_row(
    *,
    now: datetime,
    cipher: FieldCipher,
    hotline_id: uuid.UUID,
    mode: CallMode,
    plan: tuple[Rung, ...],
    call_sid: str,
    caller_number: str | None,
) -> dict[str, object]:
    """The row of a new call, its caller's number sealed."""
    row: dict[str, object] = {
        "id": uuid.uuid4(),
        "hotline_id": hotline_id,
        "call_sid": call_sid,
        "started_at": now,
        "mode": mode,
        "status": CallStatus.RINGING,
        "plan": [rung.to_json() for rung in plan],
        "caller_key_id": None,
        "caller_sealed": None,
        "caller_hash": None,
        "caller_last2": None,
    }
    if caller_number:
        key_id, blob = cipher.seal_pair(caller_number, context=CALLER_CONTEXT)
        row.update(
            caller_key_id=key_id,
            caller_sealed=blob,
            caller_hash=cipher.keyed_hash(caller_number, purpose="caller"),
            caller_last2=last_two(caller_number),
        )
    return row


def record_calls(session: Session, rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Insert new calls in one statement; a CallSid seen before keeps its first plan.

    Returns each CallSid's plan (the one stored first), so that every callback about a call
    follows the same decision.
    """
    first: dict[str, dict[str, Any]] = {}
    for row in rows:
        first.setdefault(str(row["call_sid"]), row)
    connection = session.connection()
    statement = _INSERT_CALL[connection.dialect.name == "postgresql"]
    inserted = {r[0] for r in connection.execute(statement, list(first.values())).all()}
    plans = {sid: row["plan"] for sid, row in first.items() if sid in inserted}
    missing = [sid for sid in first if sid not in inserted]
    if missing:
        for sid, plan in connection.execute(
            sa.select(CALL_TABLE.c.call_sid, CALL_TABLE.c.plan).where(
                CALL_TABLE.c.call_sid.in_(missing)
            )
        ).all():
            plans[sid] = plan
    return plans


def record_unseen_call(
    session: Session,
    *,
    cipher: FieldCipher,
    hotline: Hotline,
    call_sid: str,
    caller_number: str | None,
    started_at: datetime,
) -> Call:
    """The row of a call first heard of after the fact (from the journal or a status or
    recording callback): a duty call whose rungs, if any, are added as they are learnt."""
    row = new_call_row(
        now=started_at,
        cipher=cipher,
        hotline_id=hotline.id,
        mode=CallMode.DUTY,
        plan=(),
        call_sid=call_sid,
        caller_number=caller_number,
    )
    record_calls(session, [row])
    call = call_by_sid(session, call_sid, lock=True)
    if call is None:  # inserted by us or, first, by someone else: it is there
        raise LookupError("the call row was not written")
    return call


def plan_of(call: Call) -> tuple[Rung, ...]:
    return tuple(Rung.from_json(r) for r in call.plan)


def rung_started(session: Session, *, now: datetime, call: Call, index: int) -> None:
    """Note that rung `index` is ringing (once, however often Twilio asks)."""
    found = session.exec(
        select(CallRung).where(CallRung.call_id == call.id, CallRung.index == index)
    ).first()
    if found is None:
        session.add(
            CallRung(call_id=call.id, index=index, kind=plan_of(call)[index].kind, started_at=now)
        )
        session.flush()


def rung_dialled(session: Session, *, now: datetime, call: Call, index: int, rung: Rung) -> None:
    """A rung dialled from the cached roster: it becomes step `index` of the call's plan (what
    the call actually climbed), replacing the stored rungs from there on, and is noted ringing."""
    plan = list(call.plan)
    if index >= len(plan) or plan[index] != rung.to_json():
        call.plan = [*plan[: min(index, len(plan))], rung.to_json()]
        session.add(call)
        session.flush()
    if index < len(call.plan):
        rung_started(session, now=now, call=call, index=index)


def voicemail_offered(session: Session, *, call: Call) -> None:
    """Nobody accepted and the caller was offered voicemail."""
    if call.accepted_rung is None and call.status is CallStatus.RINGING:
        call.status = CallStatus.VOICEMAIL
        session.add(call)
        session.flush()


def rung_ended(
    session: Session, *, now: datetime, call: Call, index: int, dial_status: str | None
) -> None:
    """Note how rung `index` ended; a duplicate callback changes nothing."""
    rung = session.exec(
        select(CallRung).where(CallRung.call_id == call.id, CallRung.index == index)
    ).first()
    if rung is None and 0 <= index < len(call.plan):
        rung = CallRung(
            call_id=call.id,
            index=index,
            kind=plan_of(call)[index].kind,
            started_at=_rung_start(session, call, index),
        )
    if rung is not None and rung.ended_at is None:
        rung.ended_at = now
        rung.dial_status = (dial_status or "unknown")[:20]
        session.add(rung)
        session.flush()


def _rung_start(session: Session, call: Call, index: int) -> datetime:
    """When rung `index` began: when the one before it ended, or when the call came in."""
    if index == 0:
        return call.started_at
    before = session.exec(
        select(CallRung.ended_at).where(CallRung.call_id == call.id, CallRung.index == index - 1)
    ).first()
    return before or call.started_at


def accept(session: Session, *, now: datetime, call: Call, index: int, number: str | None) -> bool:
    """A counselor pressed 1 on rung `index`; the first acceptance wins. True if it was this one."""
    if call.accepted_rung is not None:
        return call.accepted_rung == index
    plan = plan_of(call)
    user_id = plan[index].user_for(number) if number and 0 <= index < len(plan) else None
    call.accepted_rung = index
    call.accepted_by_user_id = user_id
    call.status = CallStatus.ACCEPTED
    session.add(call)
    rung = session.exec(
        select(CallRung).where(CallRung.call_id == call.id, CallRung.index == index)
    ).first()
    if rung is not None:
        rung.accepted_by_user_id = user_id
        session.add(rung)
    session.flush()
    return True


def record_voicemail(
    session: Session,
    *,
    call: Call,
    cipher: FieldCipher,
    recording_sid: str | None,
    recording_url: str | None,
    seconds: int | None,
) -> None:
    """Keep a voicemail's reference, its URL sealed (it leads to the caller's voice)."""
    if call.recording_sid is not None:
        return
    call.recording_sid = (recording_sid or "")[:64] or None
    if recording_url:
        call.recording_key_id, call.recording_sealed = cipher.seal_pair(
            recording_url, context=RECORDING_CONTEXT
        )
    call.recording_seconds = seconds
    session.add(call)
    session.flush()


def update_status(session: Session, *, now: datetime, call: Call, status: str) -> bool:
    """Apply a status callback unless it is older news; True when the call just ended."""
    new_rank = _STATUS_RANK.get(status)
    if new_rank is None:
        return False
    old_rank = _STATUS_RANK.get(call.twilio_status or "", -1)
    if new_rank <= old_rank:
        return False
    call.twilio_status = status
    ended = status in TERMINAL_STATUSES
    if ended:
        call.ended_at = now
        call.status = CallStatus.ENDED
        tried = session.exec(select(CallRung.id).where(CallRung.call_id == call.id)).first()
        if call.plan and tried is None:
            # The caller hung up while the first rung rang: the log still shows it was tried.
            session.add(
                CallRung(
                    call_id=call.id,
                    index=0,
                    kind=plan_of(call)[0].kind,
                    started_at=call.started_at,
                    ended_at=now,
                    dial_status="caller-hung-up",
                )
            )
    session.add(call)
    session.flush()
    return ended


def status_changed(
    session: Session, *, now: datetime, settings: Settings, call: Call, status: str
) -> None:
    """A status callback: once the call has ended with nobody accepting, one callback task."""
    ended = update_status(session, now=now, call=call, status=status)
    if ended and call.accepted_rung is None:
        hotline = session.get(Hotline, call.hotline_id)
        if hotline is not None:
            open_callback_task(session, now=now, settings=settings, call=call, hotline=hotline)


def open_callback_task(
    session: Session, *, now: datetime, settings: Settings, call: Call, hotline: Hotline
) -> CallbackTask | None:
    """A call that ended without an accepted counselor gets one callback task."""
    if call.accepted_rung is not None:
        return None
    existing = session.exec(select(CallbackTask).where(CallbackTask.call_id == call.id)).first()
    if existing is not None:
        return existing
    duty = on_duty(session, hotline_id=hotline.id, at=now)
    task = CallbackTask(
        organisation_id=hotline.organisation_id,
        hotline_id=hotline.id,
        call_id=call.id,
        short_ref=new_reference(session, col(CallbackTask.short_ref), "", hex_digits=6),
        due_at=now + CALLBACK_DUE,
        assigned_user_id=duty.primary,
        created_at=now,
    )
    session.add(task)
    session.flush()
    _alert_duty_team(session, now=now, settings=settings, hotline=hotline, task=task)
    return task


def _alert_duty_team(
    session: Session, *, now: datetime, settings: Settings, hotline: Hotline, task: CallbackTask
) -> None:
    # The text names nobody and no number: phones get lost and lock screens get read.
    body = f"Missed SOS call, callback task {task.short_ref}"
    for number in duty_team_numbers(session, hotline=hotline, at=now):
        enqueue_sms(
            session,
            now=now,
            organisation_id=hotline.organisation_id,
            to=number,
            sender=settings.twilio_sms_from or hotline.twilio_number,
            body=body,
            idempotency_key=f"missed-call:{task.id}:{number}",
            topic="hotline.missed_call",
        )


def reveal_recording(cipher: FieldCipher, call: Call) -> str | None:
    return cipher.open_pair(call.recording_key_id, call.recording_sealed, context=RECORDING_CONTEXT)


def reveal_caller(cipher: FieldCipher, call: Call) -> str | None:
    return cipher.open_pair(call.caller_key_id, call.caller_sealed, context=CALLER_CONTEXT)


STATUS_CALLBACK_GRACE = timedelta(minutes=10)


def status_callback_problem(session: Session, *, now: datetime) -> str | None:
    """Why missed calls may go without a callback task: calls are answered, but no status
    callback has arrived for any call since (the number's Status Callback URL is not set)."""
    last_call = session.exec(
        select(func.max(Call.started_at)).where(col(Call.started_at) < now - STATUS_CALLBACK_GRACE)
    ).one()
    if last_call is None:
        return None
    last_reported = session.exec(
        select(func.max(Call.started_at)).where(col(Call.twilio_status).is_not(None))
    ).one()
    if last_reported is not None and ensure_utc(last_reported) >= ensure_utc(last_call):
        return None
    return (
        "calls were answered but no status callback arrived for the latest of them: set the"
        " number's Status Callback URL to /hotline/voice/status, or missed calls get no"
        " callback task"
    )
