"""Voicemail recordings held by Twilio, deleted through the official REST client."""

from __future__ import annotations

from typing import Protocol

from twilio.base.exceptions import TwilioRestException
from twilio.http import HttpClient
from twilio.rest import Client

from core.config import Settings


class RecordingStore(Protocol):
    def delete(self, recording_sid: str) -> None:
        """Delete a recording; one already gone counts as deleted. Raises on failure."""
        ...


class TwilioRecordings:
    def __init__(self, settings: Settings, http_client: HttpClient | None = None) -> None:
        token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
        self._client = (
            Client(settings.twilio_account_sid, token, http_client=http_client)
            if settings.twilio_account_sid and token
            else None
        )

    def delete(self, recording_sid: str) -> None:
        if self._client is None:
            raise RuntimeError("Twilio is not configured")
        try:
            self._client.recordings(recording_sid).delete()
        except TwilioRestException as exc:
            if exc.status != 404:
                raise
