"""Delivery channels behind one small interface, chosen at start-up.

Each transport sends one `Outgoing` message or raises `DeliveryError`; the outbox (service.py)
decides about retries. Every transport carries the message's idempotency key, so a receiver can
recognise a repeat after a crash between sending and recording.
"""

from __future__ import annotations

import hashlib
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from ipaddress import ip_address
from typing import Protocol
from urllib.parse import urlsplit

import httpx
from standardwebhooks.webhooks import Webhook
from twilio.base.exceptions import TwilioException
from twilio.http import HttpClient

from core.clock import Clock
from core.config import Settings, SmtpSecurity
from core.twilio import twilio_client
from notifications.models import Channel

SMS_STATUS_PATH = "/notifications/twilio/sms-status"
USER_AGENT = "Sigurna-Webhooks/1"


class DeliveryError(Exception):
    """The provider refused or could not be reached; `retry` says whether trying again helps."""

    def __init__(self, reason: str, *, retry: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason[:200]
        self.retry = retry


@dataclass(frozen=True)
class Sent:
    provider_ref: str | None


@dataclass(frozen=True)
class Outgoing:
    """One message as a transport sees it (the secret already opened)."""

    idempotency_key: str
    recipient: str
    body: str
    sender: str | None = None
    subject: str | None = None
    secret: str | None = None


class Transport(Protocol):
    def send(self, message: Outgoing) -> Sent:
        """Send one message or raise DeliveryError."""
        ...


Transports = dict[Channel, Transport]


class TwilioSms:
    """SMS through the official Twilio REST client, with a signed status callback."""

    def __init__(self, settings: Settings, http_client: HttpClient | None = None) -> None:
        self._client = twilio_client(settings, http_client)
        self._default_sender = settings.twilio_sms_from
        self._status_callback = str(settings.public_base_url).rstrip("/") + SMS_STATUS_PATH

    def send(self, message: Outgoing) -> Sent:
        if self._client is None:
            raise DeliveryError(
                "Twilio is not configured (account SID and auth token)", retry=False
            )
        sender = message.sender or self._default_sender
        if not sender:
            raise DeliveryError("no number to send SMS from (SIGURNA_TWILIO_SMS_FROM)", retry=False)
        try:
            sent = self._client.messages.create(
                to=message.recipient,
                from_=sender,
                body=message.body,
                status_callback=self._status_callback,
            )
        except TwilioException as exc:
            status = getattr(exc, "status", None)
            # 4xx other than rate limiting will fail the same way next time.
            retry = not (isinstance(status, int) and 400 <= status < 500 and status != 429)
            raise DeliveryError(
                f"twilio refused: {type(exc).__name__} {status}", retry=retry
            ) from exc
        except Exception as exc:  # network
            raise DeliveryError(f"twilio unreachable: {type(exc).__name__}") from exc
        return Sent(sent.sid)


def message_id_header(idempotency_key: str, sender: str) -> str:
    """A stable Message-ID: a repeat of the same message is recognisably the same e-mail."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "sigurna.invalid"
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]}@{domain}>"


class SmtpEmail:
    """E-mail over SMTP (STARTTLS, implicit TLS, or plain to a local relay)."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock

    def _connect(self, host: str) -> smtplib.SMTP:
        s = self._settings
        if s.smtp_security is SmtpSecurity.TLS:
            return smtplib.SMTP_SSL(
                host,
                s.smtp_port,
                timeout=s.smtp_timeout_seconds,
                context=ssl.create_default_context(),
            )
        smtp = smtplib.SMTP(host, s.smtp_port, timeout=s.smtp_timeout_seconds)
        if s.smtp_security is SmtpSecurity.STARTTLS:
            smtp.starttls(context=ssl.create_default_context())
        return smtp

    def send(self, message: Outgoing) -> Sent:
        s = self._settings
        if not s.smtp_host:
            raise DeliveryError("e-mail is not configured (SIGURNA_SMTP_HOST)", retry=False)
        email = EmailMessage()
        email["From"] = s.smtp_from
        email["To"] = message.recipient
        email["Subject"] = message.subject or "Sigurna"
        email["Date"] = format_datetime(self._clock.now())
        email["Message-ID"] = message_id_header(message.idempotency_key, s.smtp_from)
        email["Idempotency-Key"] = message.idempotency_key
        email.set_content(message.body)
        try:
            with self._connect(s.smtp_host) as smtp:
                if s.smtp_username and s.smtp_password:
                    smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError("smtp refused the recipient", retry=False) from exc
        except smtplib.SMTPResponseException as exc:
            # 5xx is permanent, 4xx is "try again later".
            code = exc.smtp_code
            raise DeliveryError(f"smtp answered {code}", retry=not 500 <= code < 600) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"smtp unreachable: {type(exc).__name__}") from exc
        return Sent(None)


def signature_headers(
    *, idempotency_key: str, secret: str, body: str, at: datetime
) -> dict[str, str]:
    """Standard Webhooks headers: id, timestamp, HMAC-SHA256 signature of id.timestamp.body."""
    return {
        "webhook-id": idempotency_key,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(idempotency_key, at, body),
        "Idempotency-Key": idempotency_key,
    }


def resolves_to_public(host: str) -> bool:
    """Every address the host resolves to is a public one (no loopback, private, link-local)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return True  # unresolvable: the request itself will fail and be retried
    return all(ip_address(info[4][0]).is_global for info in infos)


class SignedWebhook:
    """JSON POSTs over httpx, signed per Standard Webhooks, with explicit timeouts.

    Unless private hosts are allowed (tests), a URL whose host resolves to a private address is
    refused at send time as well as when the contact is made, so that a contact cannot turn the
    service into a probe of its own network.
    """

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._clock = clock
        self._public_only = not settings.webhook_allow_private_hosts
        timeout = httpx.Timeout(
            settings.webhook_timeout_seconds, connect=settings.webhook_connect_timeout_seconds
        )
        self._client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": USER_AGENT},
            trust_env=False,
        )

    def send(self, message: Outgoing) -> Sent:
        if not message.secret:
            raise DeliveryError("the webhook has no signing secret", retry=False)
        host = urlsplit(message.recipient).hostname or ""
        if self._public_only and not resolves_to_public(host):
            raise DeliveryError("the webhook's host resolves to a private address", retry=False)
        headers = {
            "Content-Type": "application/json",
            **signature_headers(
                idempotency_key=message.idempotency_key,
                secret=message.secret,
                body=message.body,
                at=self._clock.now(),
            ),
        }
        try:
            response = self._client.post(
                message.recipient, content=message.body.encode(), headers=headers
            )
        except httpx.TimeoutException as exc:
            raise DeliveryError("webhook timed out") from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook unreachable: {type(exc).__name__}") from exc
        if 200 <= response.status_code < 300:
            return Sent(None)
        # Every other answer may change (a receiver being deployed, a proxy); the attempts cap it.
        raise DeliveryError(f"webhook answered {response.status_code}")

    def close(self) -> None:
        self._client.close()


def transports_from_settings(settings: Settings, clock: Clock) -> Transports:
    """The real transports for each channel."""
    return {
        Channel.SMS: TwilioSms(settings),
        Channel.EMAIL: SmtpEmail(settings, clock),
        Channel.WEBHOOK: SignedWebhook(settings, clock),
    }
