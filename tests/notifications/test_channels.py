"""Delivery over real sockets: e-mail to a local SMTP server, signed webhooks to a local HTTP
server that fails or hangs; retries with backoff, a dead letter and its alert; Twilio's signed
SMS status callbacks; the contacts and delivery-status routes."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select
from standardwebhooks.webhooks import Webhook
from twilio.request_validator import RequestValidator

from core.audit import Actor, AuditEvent
from core.clock import FrozenClock
from core.config import Settings
from core.crypto import FieldCipher, cipher_from_settings
from core.db import UnitOfWork
from core.models import Role
from notifications import service
from notifications.channels import SignedWebhook, SmtpEmail, TwilioSms, message_id_header
from notifications.models import (
    Channel,
    ContactCreate,
    DeliveryState,
    NotificationContact,
    OutboxMessage,
    Purpose,
)
from notifications.service import MAX_ATTEMPTS, NewMessage, backoff, deliver_due
from tests.conftest import TWILIO_AUTH_TOKEN, World, act_as
from tests.fakes import FakeTwilioHttp
from tests.receivers import smtp_server, webhook_receiver

BODY = "Sigurna: New referral RF-0A1B2C3D. Log in to see it: https://sigurna.example.org/"
PAYLOAD = '{"referral":"RF-0A1B2C3D","type":"referral.created"}'


def _local(settings: Settings) -> Settings:
    """Settings that let webhooks reach the test's own receiver on 127.0.0.1."""
    return settings.model_copy(update={"webhook_allow_private_hosts": True})


@pytest.fixture
def cipher(settings: Settings) -> FieldCipher:
    return cipher_from_settings(settings)


def _webhook_contact(
    db: Session, settings: Settings, cipher: FieldCipher, world: World, url: str
) -> tuple[NotificationContact, str, uuid.UUID]:
    organisation = world.organisation()
    world.user(organisation, Role.SUPERVISOR, email="watch@ngo.example.org")
    contact, secret = service.create_contact(
        db,
        now=world.clock.now(),
        organisation_id=organisation.id,
        data=ContactCreate(
            channel=Channel.WEBHOOK, address=url, label="case system", purposes=[Purpose.REFERRALS]
        ),
        settings=settings.model_copy(update={"webhook_allow_private_hosts": True}),
        cipher=cipher,
        actor=Actor.system("test"),
    )
    assert secret is not None
    return contact, secret, organisation.id


def _enqueue_webhook(
    db: Session, clock: FrozenClock, contact: NotificationContact, organisation_id: uuid.UUID
) -> OutboxMessage:
    (message,) = service.messages_for(
        service.contact_recipients([contact]),
        key="referral:test",
        topic="referral.created",
        organisation_id=organisation_id,
        subject="",
        text=BODY,
        payload=PAYLOAD,
    )
    return service.enqueue(db, now=clock.now(), message=message)


def _deliver(
    uow: UnitOfWork, now: datetime, transport: Any, channel: Channel, cipher: FieldCipher
) -> int:
    return deliver_due(uow, now=now, transports={channel: transport}, cipher=cipher)


def _email(
    db: Session,
    clock: FrozenClock,
    key: str,
    recipient: str,
    *,
    organisation_id: uuid.UUID | None = None,
    topic: str = "referral.created",
    body: str = BODY,
    subject: str | None = None,
    alert_on_dead: bool = True,
) -> OutboxMessage:
    """An e-mail in the outbox, due now."""
    return service.enqueue(
        db,
        now=clock.now(),
        message=NewMessage(
            idempotency_key=key,
            channel=Channel.EMAIL,
            recipient=recipient,
            subject=subject,
            body=body,
            topic=topic,
            organisation_id=organisation_id,
            alert_on_dead=alert_on_dead,
        ),
    )


def test_an_email_reaches_a_real_smtp_server_with_a_stable_message_id(
    db: Session, clock: FrozenClock, settings: Settings, uow: UnitOfWork, cipher: FieldCipher
) -> None:
    _email(
        db,
        clock,
        "referral:r1:c1",
        "intake@csw.example.org",
        subject="Sigurna: referral RF-0A1B2C3D",
    )
    with smtp_server() as box:
        smtp = SmtpEmail(
            settings.model_copy(
                update={
                    "smtp_host": box.host,
                    "smtp_port": box.port,
                    "smtp_security": "none",
                    "smtp_from": "Sigurna <alerts@sigurna.example.org>",
                }
            ),
            clock,
        )
        assert _deliver(uow, clock.now(), smtp, Channel.EMAIL, cipher) == 1
    (message,) = box.messages
    assert box.envelopes == [("alerts@sigurna.example.org", ["intake@csw.example.org"])]
    assert message["From"] == "Sigurna <alerts@sigurna.example.org>"
    assert message["To"] == "intake@csw.example.org"
    assert message["Subject"] == "Sigurna: referral RF-0A1B2C3D"
    assert message["Idempotency-Key"] == "referral:r1:c1"
    assert message["Message-ID"] == message_id_header(
        "referral:r1:c1", "Sigurna <alerts@sigurna.example.org>"
    )
    assert message["Message-ID"].endswith("@sigurna.example.org>")
    assert message.get_payload(decode=True).decode().strip() == BODY  # type: ignore[union-attr]
    row = db.exec(select(OutboxMessage)).one()
    assert (row.state, row.attempts, row.sent_at) == (DeliveryState.SENT, 1, clock.now())


def test_email_without_a_relay_is_dead_at_once_and_says_why(
    db: Session, clock: FrozenClock, settings: Settings, uow: UnitOfWork, cipher: FieldCipher
) -> None:
    _email(db, clock, "k", "a@csw.example.org", topic="t")
    assert _deliver(uow, clock.now(), SmtpEmail(settings, clock), Channel.EMAIL, cipher) == 0
    row = db.exec(select(OutboxMessage)).one()
    assert (row.state, row.last_error) == (
        DeliveryState.DEAD,
        "e-mail is not configured (SIGURNA_SMTP_HOST)",
    )


def test_a_webhook_that_fails_three_times_then_succeeds_is_retried_with_backoff(
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    uow: UnitOfWork,
    cipher: FieldCipher,
    world: World,
) -> None:
    with webhook_receiver() as receiver:
        receiver.answer = lambda _item, n: (500 if n <= 3 else 204, 0.0)
        contact, secret, organisation_id = _webhook_contact(
            db, settings, cipher, world, receiver.url
        )
        message = _enqueue_webhook(db, clock, contact, organisation_id)
        hook = SignedWebhook(_local(settings), clock)
        now = clock.now()
        for attempt in (1, 2, 3):
            assert _deliver(uow, now, hook, Channel.WEBHOOK, cipher) == 0
            db.refresh(message)
            assert (message.state, message.attempts) == (DeliveryState.PENDING, attempt)
            assert message.last_error == "webhook answered 500"
            assert message.next_attempt_at == now + backoff(attempt)
            # Not before its time.
            assert (
                _deliver(
                    uow,
                    message.next_attempt_at - timedelta(seconds=1),
                    hook,
                    Channel.WEBHOOK,
                    cipher,
                )
                == 0
            )
            now = message.next_attempt_at
        assert [backoff(n) for n in (1, 2, 3)] == [
            timedelta(seconds=30),
            timedelta(seconds=60),
            timedelta(seconds=120),
        ]
        clock.set(now)
        assert _deliver(uow, now, hook, Channel.WEBHOOK, cipher) == 1
        hook.close()
        received = receiver.snapshot()
    db.refresh(message)
    assert (message.state, message.attempts, message.sent_at) == (DeliveryState.SENT, 4, now)
    assert len(received) == 4
    # Every attempt: the same key and body, signed (Standard Webhooks) with the contact's secret.
    for item in received:
        assert item.path == "/sigurna"
        assert item.body == PAYLOAD
        assert (
            item.headers["webhook-id"]
            == item.headers["idempotency-key"]
            == "referral:test:" + str(contact.id)
        )
        assert item.headers["content-type"] == "application/json"
        timestamp = datetime.fromtimestamp(int(item.headers["webhook-timestamp"]), tz=now.tzinfo)
        assert item.headers["webhook-signature"] == Webhook(secret).sign(
            item.headers["webhook-id"], timestamp, item.body
        )
    assert received[-1].headers["webhook-timestamp"] == str(int(now.timestamp()))


def test_a_webhook_that_always_times_out_is_dead_lettered_and_the_sender_alerted(
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    uow: UnitOfWork,
    cipher: FieldCipher,
    world: World,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="sigurna")
    quick = settings.model_copy(
        update={"webhook_timeout_seconds": 0.2, "webhook_connect_timeout_seconds": 0.2}
    )
    with webhook_receiver() as receiver:
        receiver.answer = lambda _item, _n: (200, 0.6)  # answers, but too late every time
        contact, _secret, organisation_id = _webhook_contact(
            db, settings, cipher, world, receiver.url
        )
        message = _enqueue_webhook(db, clock, contact, organisation_id)
        hook = SignedWebhook(_local(quick), clock)
        now = clock.now()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            assert _deliver(uow, now, hook, Channel.WEBHOOK, cipher) == 0
            db.refresh(message)
            assert message.attempts == attempt
            assert message.last_error == "webhook timed out"
            if attempt < MAX_ATTEMPTS:
                assert message.state is DeliveryState.PENDING
                now = message.next_attempt_at
        hook.close()
        assert len(receiver.snapshot()) == MAX_ATTEMPTS
    assert (message.state, message.dead_at) == (DeliveryState.DEAD, now)
    # The total wait before giving up: 30 s doubling, capped at 30 min.
    assert now - clock.now() == sum((backoff(n) for n in range(1, MAX_ATTEMPTS)), timedelta())
    alerts = db.exec(
        select(OutboxMessage).where(OutboxMessage.topic == "notifications.dead_letter")
    ).all()
    assert [(a.channel, a.recipient, a.alert_on_dead, a.subject) for a in alerts] == [
        (
            Channel.EMAIL,
            "watch@ngo.example.org",
            False,
            "Sigurna: a notification could not be delivered",
        )
    ]
    assert alerts[0].body == (
        f"Sigurna: a webhook notification (referral.created) could not be delivered after "
        f"{MAX_ATTEMPTS} attempt(s). Delivery status: log in to Sigurna, Notifications "
        f"(message {message.id})."
    )
    dead = [r for r in caplog.records if r.getMessage() == "notification dead-lettered"]
    assert [(r.levelname, r.__dict__["subject_id"]) for r in dead] == [("ERROR", str(message.id))]


def test_an_alert_that_dies_raises_no_further_alert(
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    uow: UnitOfWork,
    cipher: FieldCipher,
    world: World,
) -> None:
    organisation = world.organisation()
    world.user(organisation, Role.SUPERVISOR)
    _email(
        db,
        clock,
        "alert",
        "x@ngo.example.org",
        organisation_id=organisation.id,
        topic="notifications.dead_letter",
        body="alert",
        alert_on_dead=False,
    )
    _deliver(uow, clock.now(), SmtpEmail(settings, clock), Channel.EMAIL, cipher)
    assert [m.state for m in db.exec(select(OutboxMessage)).all()] == [DeliveryState.DEAD]


def test_delivery_on_several_threads_sends_each_message_once(
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    uow: UnitOfWork,
    cipher: FieldCipher,
    world: World,
) -> None:
    with webhook_receiver() as receiver:
        contact, _secret, organisation_id = _webhook_contact(
            db, settings, cipher, world, receiver.url
        )
        messages = [
            NewMessage(
                idempotency_key=f"bulk:{n}",
                channel=Channel.WEBHOOK,
                recipient=receiver.url,
                body=PAYLOAD,
                topic="referral.created",
                organisation_id=organisation_id,
                secret_key_id=contact.secret_key_id,
                secret_sealed=contact.secret_sealed,
            )
            for n in range(30)
        ]
        assert service.enqueue_many(db, now=clock.now(), messages=messages) == 30
        assert service.enqueue_many(db, now=clock.now(), messages=messages) == 0
        hook = SignedWebhook(_local(settings), clock)
        sent = deliver_due(
            uow, now=clock.now(), transports={Channel.WEBHOOK: hook}, cipher=cipher, workers=8
        )
        hook.close()
        assert sent == 30
        assert sorted(receiver.keys()) == sorted(f"bulk:{n}" for n in range(30))
    states = db.exec(select(OutboxMessage.state)).all()
    assert states == [DeliveryState.SENT] * 30


# --- Twilio's SMS status callbacks -----------------------------------------------------------

STATUS_URL = "https://sigurna.example.org/notifications/twilio/sms-status"


def _signed_post(client: TestClient, params: dict[str, str], *, valid: bool = True) -> Any:
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(STATUS_URL, params)
    return client.post(
        "/notifications/twilio/sms-status",
        data=params,
        headers={"X-Twilio-Signature": signature if valid else "forged"},
    )


def _sent_sms(
    db: Session, clock: FrozenClock, settings: Settings, uow: UnitOfWork, cipher: FieldCipher
) -> tuple[OutboxMessage, TwilioSms, FakeTwilioHttp]:
    """An SMS sent through Twilio (a fake HTTP client), as its row and the client that sent it."""
    service.enqueue_sms(
        db,
        now=clock.now(),
        organisation_id=None,
        to="+61491570011",
        sender="+442079460100",
        body="Missed SOS call, callback task ABC123",
        idempotency_key="sms-1",
    )
    http = FakeTwilioHttp()
    sms = TwilioSms(settings, http_client=http)
    assert _deliver(uow, clock.now(), sms, Channel.SMS, cipher) == 1
    return db.exec(select(OutboxMessage)).one(), sms, http


def test_sms_status_callbacks_are_signed_and_never_move_a_status_back(
    client: TestClient,
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    uow: UnitOfWork,
    cipher: FieldCipher,
) -> None:
    row, _sms, _http = _sent_sms(db, clock, settings, uow, cipher)
    sid = row.provider_ref
    assert sid is not None
    forged = _signed_post(client, {"MessageSid": sid, "MessageStatus": "delivered"}, valid=False)
    assert forged.status_code == 403
    db.refresh(row)
    assert row.provider_status is None
    assert _signed_post(client, {"MessageSid": sid, "MessageStatus": "sent"}).status_code == 204
    assert (
        _signed_post(client, {"MessageSid": sid, "MessageStatus": "delivered"}).status_code == 204
    )
    # Out of order: a late "sent" never moves it back.
    assert _signed_post(client, {"MessageSid": sid, "MessageStatus": "sent"}).status_code == 204
    after = db.exec(select(OutboxMessage.state, OutboxMessage.provider_status)).one()
    assert tuple(after) == (DeliveryState.SENT, "delivered")
    # An unknown message changes nothing and still answers Twilio.
    assert (
        _signed_post(client, {"MessageSid": "SMunknown", "MessageStatus": "failed"}).status_code
        == 204
    )


def test_an_undelivered_sms_goes_back_to_the_queue(
    client: TestClient,
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    uow: UnitOfWork,
    cipher: FieldCipher,
) -> None:
    row, sms, http = _sent_sms(db, clock, settings, uow, cipher)
    first_sid = row.provider_ref
    assert first_sid is not None
    response = _signed_post(
        client, {"MessageSid": first_sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    )
    assert response.status_code == 204
    db.refresh(row)
    assert (row.state, row.last_error, row.provider_ref) == (
        DeliveryState.PENDING,
        "twilio undelivered 30003",
        None,
    )
    assert row.next_attempt_at == clock.now() + backoff(1)
    # The same callback again changes nothing more.
    _signed_post(client, {"MessageSid": first_sid, "MessageStatus": "undelivered"})
    db.refresh(row)
    assert row.attempts == 1
    assert _deliver(uow, row.next_attempt_at, sms, Channel.SMS, cipher) == 1
    db.refresh(row)
    assert (row.state, row.attempts) == (DeliveryState.SENT, 2)
    assert len(http.requests) == 2


# --- contacts and delivery status over HTTP --------------------------------------------------


def test_contacts_are_kept_by_admins_and_a_webhook_secret_is_shown_once(
    client: TestClient, world: World, db: Session
) -> None:
    csw = world.organisation()
    admin = world.user(csw, Role.ADMIN)
    act_as(client, world.login_cookie(admin))
    url = f"/organisations/{csw.id}/notification-contacts"
    for body, message in (
        (
            {
                "channel": "webhook",
                "address": "http://127.0.0.1:9/hook",
                "label": "x",
                "purposes": ["referrals"],
            },
            "address: a webhook must be an https:// URL",
        ),
        (
            {
                "channel": "webhook",
                "address": "https://10.0.0.7/hook",
                "label": "x",
                "purposes": ["referrals"],
            },
            "address: a webhook must point to a public host",
        ),
        (
            {
                "channel": "webhook",
                "address": "https://localhost/hook",
                "label": "x",
                "purposes": ["referrals"],
            },
            "address: a webhook must point to a public host",
        ),
        (
            {"channel": "sms", "address": "1234", "label": "x", "purposes": ["referrals"]},
            "address: is not a phone number; write it as +61491570146",
        ),
        (
            {
                "channel": "email",
                "address": "not-an-address",
                "label": "x",
                "purposes": ["referrals"],
            },
            "address: is not a valid e-mail address",
        ),
        (
            {"channel": "email", "address": "a@b.example.org", "label": "x", "purposes": []},
            "purposes: List should have at least 1 item after validation, not 0",
        ),
    ):
        response = client.post(url, json=body)
        assert (response.status_code, response.json()["message"]) == (422, message), body
    assert db.exec(select(NotificationContact)).all() == []
    made = client.post(
        url,
        json={
            "channel": "webhook",
            "address": "https://cases.csw.example.org/hooks",
            "label": "Case system",
            "purposes": ["referrals", "child_protection", "referrals"],
        },
    )
    assert made.status_code == 201, made.text
    secret = made.json()["signing_secret"]
    assert secret.startswith("whsec_")
    assert len(secret) == 6 + 44
    assert made.json()["purposes"] == ["child_protection", "referrals"]
    listed = client.get(url).json()
    assert "signing_secret" not in listed[0]
    assert secret not in repr(listed)
    contact_id = listed[0]["id"]
    rotated = client.post(f"{url}/{contact_id}/rotate-secret").json()["signing_secret"]
    assert rotated != secret
    assert rotated.startswith("whsec_")
    off = client.patch(f"{url}/{contact_id}", json={"enabled": False})
    assert off.json()["enabled"] is False
    assert client.patch(f"{url}/{contact_id}", json={"label": None}).status_code == 422
    assert client.delete(f"{url}/{contact_id}").status_code == 204
    assert client.get(url).json() == []
    actions = db.exec(
        select(AuditEvent.action)
        .where(AuditEvent.subject_type == "notification_contact")
        .order_by(col(AuditEvent.id))
    ).all()
    assert actions == [
        "notifications.contact_added",
        "notifications.secret_rotated",
        "notifications.contact_changed",
        "notifications.contact_removed",
    ]


def test_supervisors_see_delivery_status_and_retry_a_dead_letter(
    client: TestClient, world: World, db: Session, clock: FrozenClock
) -> None:
    ngo = world.organisation()
    supervisor = world.user(ngo, Role.SUPERVISOR)
    dead = _email(db, clock, "d1", "intake@csw.example.org", organisation_id=ngo.id)
    dead.state = DeliveryState.DEAD
    dead.attempts = MAX_ATTEMPTS
    dead.dead_at = clock.now()
    db.add(dead)
    db.flush()
    act_as(client, world.login_cookie(supervisor))
    url = f"/organisations/{ngo.id}/notifications"
    listed = client.get(url, params={"state": "dead"}).json()
    assert [(m["id"], m["state"], m["attempts"]) for m in listed] == [(str(dead.id), "dead", 8)]
    again = client.post(f"{url}/{dead.id}/retry")
    assert again.status_code == 200
    assert (again.json()["state"], again.json()["attempts"]) == ("pending", 0)
    assert client.post(f"{url}/{dead.id}/retry").status_code == 409
    assert client.post(f"{url}/{uuid.uuid4()}/retry").status_code == 404


def test_a_webhook_host_that_resolves_to_a_private_address_is_refused_at_send_time(
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    uow: UnitOfWork,
    cipher: FieldCipher,
    world: World,
) -> None:
    with webhook_receiver() as receiver:
        # The contact was accepted (say the name resolved elsewhere then); it points home now.
        url = receiver.url.replace("127.0.0.1", "localhost")
        contact, _secret, organisation_id = _webhook_contact(db, settings, cipher, world, url)
        message = _enqueue_webhook(db, clock, contact, organisation_id)
        hook = SignedWebhook(settings, clock)  # private hosts not allowed
        assert _deliver(uow, clock.now(), hook, Channel.WEBHOOK, cipher) == 0
        hook.close()
        assert receiver.snapshot() == []
    db.refresh(message)
    assert (message.state, message.last_error) == (
        DeliveryState.DEAD,
        "the webhook's host resolves to a private address",
    )


def test_the_delivery_status_shows_no_secret_of_a_recipient(
    client: TestClient, world: World, db: Session, clock: FrozenClock
) -> None:
    ngo = world.organisation()
    supervisor = world.user(ngo, Role.SUPERVISOR)
    for key, channel, recipient, topic in (
        (
            "w",
            Channel.WEBHOOK,
            "https://cases.csw.example.org/hooks/s3cr3t-path",
            "referral.created",
        ),
        ("s", Channel.SMS, "+61491570156", "referral.created"),
        ("c", Channel.SMS, "+61491570157", "hotline.duty_phone_code"),
    ):
        service.enqueue(
            db,
            now=clock.now(),
            message=NewMessage(
                idempotency_key=key,
                channel=channel,
                recipient=recipient,
                body="Sigurna: your duty phone code is 123456." if key == "c" else BODY,
                topic=topic,
                organisation_id=ngo.id,
            ),
        )
    act_as(client, world.login_cookie(supervisor))
    listed = client.get(f"/organisations/{ngo.id}/notifications").json()
    assert sorted((m["channel"], m["recipient"], m["body"]) for m in listed) == [
        ("sms", "…156", BODY),
        ("sms", "…157", "(not shown)"),
        ("webhook", "https://cases.csw.example.org/…", BODY),
    ]
