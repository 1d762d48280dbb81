"""Hotline services: the ladder for a call, the call log and what happens when nobody accepts."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel, col, func, select

from core.clock import ensure_utc
from core.config import Settings
from core.crypto import FieldCipher, Sealed
from core.models import Role, User, UserRole
from core.phones import last_two
from hotline.models import (
    Call,
    CallbackTask,
    CallMode,
    CallRung,
    CallStatus,
    DutyPhone,
    Hotline,
    HotlineClosure,
)
from hotline.rota import on_duty
from hotline.routing import Calendar, Person, Rung, Timeouts, office_is_open, plan_ladder
from notifications.models import OutboxMessage
from notifications.service import enqueue_sms

CALLER_CONTEXT = "hotline_call.caller"
RECORDING_CONTEXT = "hotline_call.recording"
CALLBACK_DUE = timedelta(minutes=15)
DUTY_PHONE_CODE_TOPIC = "hotline.duty_phone_code"
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


def hotline_by_number(session: Session, number: str) -> Hotline | None:
    return session.exec(select(Hotline).where(Hotline.twilio_number == number)).first()


def calendar_for(session: Session, hotline: Hotline, around: datetime) -> Calendar:
    """The hotline's calendar with the closures near `around` (a day either side)."""
    day = around.astimezone(ZoneInfo(hotline.time_zone)).date()
    closures = session.exec(
        select(col(HotlineClosure.day)).where(
            HotlineClosure.hotline_id == hotline.id,
            col(HotlineClosure.day) >= day - timedelta(days=1),
            col(HotlineClosure.day) <= day + timedelta(days=1),
        )
    ).all()
    return Calendar.build(
        time_zone=hotline.time_zone,
        office_hours=hotline.office_hours,
        holiday_country=hotline.holiday_country,
        holiday_categories=hotline.holiday_categories,
        closures=[d if isinstance(d, date) else date.fromisoformat(str(d)) for d in closures],
        on_call_24h=hotline.on_call_24h,
    )


def _verified_phones(session: Session, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not user_ids:
        return {}
    rows = session.exec(
        select(DutyPhone.user_id, DutyPhone.number)
        .join(User, col(User.id) == DutyPhone.user_id)
        .where(
            col(DutyPhone.user_id).in_(user_ids),
            col(DutyPhone.verified_at).is_not(None),
            col(User.disabled_at).is_(None),
        )
    ).all()
    return dict(rows)


def supervisors_of(session: Session, organisation_id: uuid.UUID) -> list[Person]:
    """Every supervisor of the organisation with a verified duty phone."""
    ids = list(
        session.exec(
            select(User.id)
            .join(UserRole, col(UserRole.user_id) == User.id)
            .where(
                User.organisation_id == organisation_id,
                UserRole.role == Role.SUPERVISOR,
                col(User.disabled_at).is_(None),
            )
            .order_by(col(User.display_name), col(User.id))
        ).all()
    )
    phones = _verified_phones(session, ids)
    return [Person(phones[i], i) for i in ids if i in phones]


def ladder_for(
    session: Session, *, settings: Settings, hotline: Hotline, at: datetime
) -> tuple[CallMode, tuple[Rung, ...]]:
    """How a call to `hotline` at `at` is routed: office first, or straight to the duty ladder."""
    calendar = calendar_for(session, hotline, at)
    office = office_is_open(calendar, at) and bool(hotline.office_numbers)
    duty = on_duty(session, hotline_id=hotline.id, at=at)
    phones = _verified_phones(session, [u for u in (duty.primary, duty.backup) if u])
    primary = Person(phones[duty.primary], duty.primary) if duty.primary in phones else None
    backup = Person(phones[duty.backup], duty.backup) if duty.backup in phones else None
    last_resort = [
        n for n in [hotline.last_resort_number, *settings.hotline_last_resort_numbers] if n
    ]
    plan = plan_ladder(
        office_open=office,
        office_numbers=hotline.office_numbers,
        primary=primary,
        backup=backup,
        supervisors=supervisors_of(session, hotline.organisation_id),
        last_resort=last_resort,
        timeouts=Timeouts(
            office=hotline.office_ring_seconds,
            primary=hotline.primary_ring_seconds,
            backup=hotline.backup_ring_seconds,
            supervisors=hotline.supervisors_ring_seconds,
            last_resort=hotline.last_resort_ring_seconds,
        ),
    )
    return (CallMode.OFFICE if office else CallMode.DUTY), plan


def call_by_sid(session: Session, call_sid: str, *, lock: bool = False) -> Call | None:
    query = select(Call).where(Call.call_sid == call_sid)
    if lock:
        query = query.with_for_update()
    return session.exec(query).first()


def call_belongs_to(session: Session, *, call_id: uuid.UUID, organisation_id: uuid.UUID) -> bool:
    """Whether `call_id` is a call to one of the organisation's hotlines (for other domains)."""
    found = session.exec(
        select(Call.id)
        .join(Hotline, col(Hotline.id) == col(Call.hotline_id))
        .where(Call.id == call_id, Hotline.organisation_id == organisation_id)
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
        sealed = cipher.seal(caller_number, context=CALLER_CONTEXT)
        row.update(
            caller_key_id=sealed.key_id,
            caller_sealed=sealed.blob,
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
        sealed = cipher.seal(recording_url, context=RECORDING_CONTEXT)
        call.recording_key_id, call.recording_sealed = sealed.key_id, sealed.blob
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
        short_ref=secrets.token_hex(3).upper(),
        due_at=now + CALLBACK_DUE,
        assigned_user_id=duty.primary,
        created_at=now,
    )
    session.add(task)
    session.flush()
    _alert_duty_team(session, now=now, settings=settings, hotline=hotline, task=task)
    return task


def duty_team_numbers(session: Session, *, hotline: Hotline, at: datetime) -> list[str]:
    """Who hears about a missed call: the on-duty primary and backup, else the supervisors."""
    duty = on_duty(session, hotline_id=hotline.id, at=at)
    phones = _verified_phones(session, [u for u in (duty.primary, duty.backup) if u])
    numbers = [phones[u] for u in (duty.primary, duty.backup) if u in phones]
    if not numbers:
        numbers = [p.number for p in supervisors_of(session, hotline.organisation_id)]
    return list(dict.fromkeys(numbers))


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
    if call.recording_sealed is None or call.recording_key_id is None:
        return None
    return cipher.open(
        Sealed(call.recording_key_id, call.recording_sealed), context=RECORDING_CONTEXT
    )


def reveal_caller(cipher: FieldCipher, call: Call) -> str | None:
    if call.caller_sealed is None or call.caller_key_id is None:
        return None
    return cipher.open(Sealed(call.caller_key_id, call.caller_sealed), context=CALLER_CONTEXT)


def pending_duty_phone_code(session: Session, *, email: str) -> str | None:
    """The code in the latest duty-phone text to this account's phone, if still pending (for
    development without Twilio: the text is never delivered)."""
    phone = session.exec(
        select(DutyPhone)
        .join(User, col(User.id) == DutyPhone.user_id)
        .where(func.lower(User.email) == email, col(DutyPhone.code_hash).is_not(None))
    ).first()
    if phone is None:
        return None
    body = session.exec(
        select(OutboxMessage.body)
        .where(
            OutboxMessage.topic == DUTY_PHONE_CODE_TOPIC, OutboxMessage.recipient == phone.number
        )
        .order_by(col(OutboxMessage.created_at).desc())
    ).first()
    found = re.search(r"\b(\d{6})\b", body or "")
    return found.group(1) if found else None


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
