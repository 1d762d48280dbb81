"""Callers' numbers and voicemails are deleted after the retention period, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from core.audit import AuditEvent
from core.clock import FrozenClock
from core.config import Settings
from core.db import UnitOfWork
from hotline.jobs import purge_caller_data
from hotline.models import Call
from hotline.recordings import TwilioRecordings
from tests.fakes import FakeTwilioHttp
from tests.hotline.conftest import Line, call_params, twilio

EVENING = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)


def _voicemail_call(client: TestClient) -> None:
    twilio(client, "/hotline/voice", call_params())
    twilio(
        client,
        "/hotline/voice/voicemail",
        call_params(
            RecordingSid="RE" + "3" * 32,
            RecordingUrl="https://api.twilio.com/r/RE3",
            RecordingDuration="9",
        ),
    )


def test_purge_after_ninety_days_deletes_the_number_and_the_recording(
    client: TestClient,
    line: Line,
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    uow: UnitOfWork,
) -> None:
    clock.set(EVENING)
    _voicemail_call(client)
    http = FakeTwilioHttp(statuses=[204])
    recordings = TwilioRecordings(settings, http_client=http)
    day_89 = EVENING + timedelta(days=89, hours=23)
    assert purge_caller_data(uow, now=day_89, retention_days=90, recordings=recordings) == 0
    day_90 = EVENING + timedelta(days=90, seconds=1)
    assert purge_caller_data(uow, now=day_90, retention_days=90, recordings=recordings) == 1
    assert purge_caller_data(uow, now=day_90, retention_days=90, recordings=recordings) == 0
    call = db.exec(select(Call)).one()
    assert call.caller_sealed is None
    assert call.caller_hash is None
    assert call.caller_last2 is None
    assert call.recording_sealed is None
    assert call.recording_sid is None
    assert call.personal_data_purged_at == day_90
    assert [(r.method, r.uri.rsplit("/", 1)[-1]) for r in http.requests] == [
        ("DELETE", "RE" + "3" * 32 + ".json")
    ]
    event = db.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc())).first()
    assert event is not None
    assert event.action == "hotline.caller_data_purged"


def test_a_recording_twilio_could_not_delete_is_retried(
    client: TestClient,
    line: Line,
    db: Session,
    clock: FrozenClock,
    settings: Settings,
    uow: UnitOfWork,
) -> None:
    clock.set(EVENING)
    _voicemail_call(client)
    later = EVENING + timedelta(days=91)
    failing = TwilioRecordings(settings, http_client=FakeTwilioHttp(statuses=[500]))
    assert purge_caller_data(uow, now=later, retention_days=90, recordings=failing) == 0
    call = db.exec(select(Call)).one()
    assert call.caller_sealed is not None
    assert call.personal_data_purged_at is None
    gone = TwilioRecordings(settings, http_client=FakeTwilioHttp(statuses=[404]))
    assert purge_caller_data(uow, now=later, retention_days=90, recordings=gone) == 1
