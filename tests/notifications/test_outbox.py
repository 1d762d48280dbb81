"""The outbox: committed with its cause, delivered once, retried with backoff, then dead."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from core.clock import FrozenClock
from core.config import Settings
from core.crypto import cipher_from_settings
from core.db import UnitOfWork
from notifications.channels import TwilioSms
from notifications.models import Channel, DeliveryState, OutboxMessage
from notifications.service import MAX_ATTEMPTS, backoff, deliver_due, enqueue_sms
from tests.fakes import FakeTwilioHttp

NUMBER = "+61491570011"
SENDER = "+442079460100"


def _deliver(uow: UnitOfWork, settings: Settings, now: datetime, sms: TwilioSms) -> int:
    return deliver_due(
        uow, now=now, transports={Channel.SMS: sms}, cipher=cipher_from_settings(settings)
    )


def _enqueue(db: Session, clock: FrozenClock, key: str = "k-1") -> OutboxMessage:
    return enqueue_sms(
        db,
        now=clock.now(),
        organisation_id=None,
        to=NUMBER,
        sender=SENDER,
        body="Missed SOS call, callback task ABC123",
        idempotency_key=key,
    )


def test_a_message_is_enqueued_once_per_key(db: Session, clock: FrozenClock) -> None:
    first = _enqueue(db, clock)
    second = _enqueue(db, clock)
    assert first.id == second.id
    assert len(db.exec(select(OutboxMessage)).all()) == 1


def test_delivery_sends_through_twilio_once(
    db: Session, clock: FrozenClock, settings: Settings, uow: UnitOfWork
) -> None:
    _enqueue(db, clock)
    http = FakeTwilioHttp()
    sms = TwilioSms(settings, http_client=http)
    assert _deliver(uow, settings, clock.now(), sms) == 1
    assert _deliver(uow, settings, clock.now() + timedelta(hours=1), sms) == 0
    assert len(http.requests) == 1
    request = http.requests[0]
    assert request.method == "POST"
    assert request.uri.endswith(f"/Accounts/{settings.twilio_account_sid}/Messages.json")
    assert request.data == {
        "To": NUMBER,
        "From": SENDER,
        "Body": "Missed SOS call, callback task ABC123",
        "StatusCallback": "https://sigurna.example.org/notifications/twilio/sms-status",
    }
    message = db.exec(select(OutboxMessage)).one()
    assert message.state == DeliveryState.SENT
    assert message.sent_at == clock.now()
    assert message.attempts == 1
    assert message.provider_ref == "SM" + "1".zfill(32)


def test_failures_back_off_then_dead_letter(
    db: Session, clock: FrozenClock, settings: Settings, uow: UnitOfWork
) -> None:
    _enqueue(db, clock)
    http = FakeTwilioHttp(statuses=[503] * MAX_ATTEMPTS)
    sms = TwilioSms(settings, http_client=http)
    now = clock.now()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert _deliver(uow, settings, now, sms) == 0
        message = db.exec(select(OutboxMessage)).one()
        db.refresh(message)
        assert message.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert message.state == DeliveryState.PENDING
            assert message.next_attempt_at == now + backoff(attempt)
            # Not due yet: nothing is sent early.
            assert _deliver(uow, settings, message.next_attempt_at - timedelta(seconds=1), sms) == 0
            now = message.next_attempt_at
    assert message.state == DeliveryState.DEAD
    assert len(http.requests) == MAX_ATTEMPTS
    assert [backoff(n).total_seconds() for n in range(1, 9)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1800,
        1800,
    ]


def test_a_refusal_that_cannot_succeed_is_dead_at_once(
    db: Session, clock: FrozenClock, settings: Settings, uow: UnitOfWork
) -> None:
    _enqueue(db, clock)
    sms = TwilioSms(settings, http_client=FakeTwilioHttp(statuses=[400]))
    _deliver(uow, settings, clock.now(), sms)
    message = db.exec(select(OutboxMessage)).one()
    assert message.state == DeliveryState.DEAD
    assert message.attempts == 1
    assert message.last_error is not None
    assert NUMBER not in message.last_error
