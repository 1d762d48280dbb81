"""Delivery channels behind one small interface, chosen at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from twilio.base.exceptions import TwilioException
from twilio.http import HttpClient
from twilio.rest import Client

from core.config import Settings


class DeliveryError(Exception):
    """The provider refused or could not be reached; `retry` says whether trying again helps."""

    def __init__(self, reason: str, *, retry: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason[:200]
        self.retry = retry


@dataclass(frozen=True)
class Sent:
    provider_ref: str | None


class SmsChannel(Protocol):
    def send(self, *, to: str, sender: str, body: str, idempotency_key: str) -> Sent:
        """Send one SMS or raise DeliveryError."""
        ...


class TwilioSms:
    """SMS through the official Twilio REST client."""

    def __init__(self, settings: Settings, http_client: HttpClient | None = None) -> None:
        token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
        self._client = (
            Client(settings.twilio_account_sid, token, http_client=http_client)
            if settings.twilio_account_sid and token
            else None
        )

    def send(self, *, to: str, sender: str, body: str, idempotency_key: str) -> Sent:
        if self._client is None:
            raise DeliveryError(
                "Twilio is not configured (account SID and auth token)", retry=False
            )
        try:
            message = self._client.messages.create(to=to, from_=sender, body=body)
        except TwilioException as exc:
            status = getattr(exc, "status", None)
            # 4xx other than rate limiting will fail the same way next time.
            retry = not (isinstance(status, int) and 400 <= status < 500 and status != 429)
            raise DeliveryError(
                f"twilio refused: {type(exc).__name__} {status}", retry=retry
            ) from exc
        except Exception as exc:  # network
            raise DeliveryError(f"twilio unreachable: {type(exc).__name__}") from exc
        return Sent(message.sid)
