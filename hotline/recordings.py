"""Voicemail recordings held by Twilio, deleted through the official REST client."""

from __future__ import annotations

from typing import Protocol

from twilio.base.exceptions import TwilioRestException
from twilio.http import HttpClient

from core.config import Settings
from core.twilio import twilio_client


class RecordingStore(Protocol):
    def delete(self, recording_sid: str) -> None:
        """Delete a recording; one already gone counts as deleted. Raises on failure."""
        ...


class TwilioRecordings:
    def __init__(self, settings: Settings, http_client: HttpClient | None = None) -> None:
        self._client = twilio_client(settings, http_client)

    def delete(self, recording_sid: str) -> None:
        if self._client is None:
            raise RuntimeError("Twilio is not configured")
        try:
            self._client.recordings(recording_sid).delete()
        except TwilioRestException as exc:
            if exc.status != 404:
                raise
