"""Twilio's voice webhooks: exact TwiML for every step, signatures, idempotency, no lost calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from core.clock import FrozenClock
from hotline.models import Call, CallbackTask, CallMode, CallRung, CallStatus, SafeToCallBack
from hotline.service import reveal_caller
from notifications.models import OutboxMessage
from tests.conftest import World
from tests.hotline.conftest import (
    BACKUP_PHONE,
    CALLER,
    HOTLINE_NUMBER,
    LAST_RESORT,
    OFFICE_LINE,
    PRIMARY_PHONE,
    SUPERVISOR_PHONE,
    Line,
    call_params,
    tags,
    twilio,
)

XML = '<?xml version="1.0" encoding="UTF-8"?>'
SID = "CA" + "1" * 32
# Monday 2 March 2026, 21:00 in Podgorica: after hours.
EVENING = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)


def dial_xml(rung: int, numbers: list[str], timeout: int, *, before: tuple[str, ...] = ()) -> str:
    """The <Dial> of a rung; its URLs carry the tags of every number rung so far."""
    query = f"rung={rung}&amp;lang=cnr&amp;tried={tags(*before, *numbers)}"
    legs = "".join(
        f'<Number method="POST" url="https://sigurna.example.org/hotline/voice/screen?{query}">'
        f"{n}</Number>"
        for n in numbers
    )
    return (
        f'{XML}<Response><Dial action="https://sigurna.example.org/hotline/voice/dial-result?{query}"'
        f' answerOnBridge="true" callerId="{HOTLINE_NUMBER}" method="POST" timeout="{timeout}">'
        f"{legs}</Dial></Response>"
    )


VOICEMAIL_XML = (
    f'{XML}<Response><Say language="sr-RS" voice="Google.sr-RS-Standard-A">Trenutno niko ne može'
    " da se javi. Ostavite poruku nakon signala ili pozovite ponovo.</Say><Record"
    ' action="https://sigurna.example.org/hotline/voice/voicemail" maxLength="120" method="POST"'
    ' playBeep="true" timeout="10" trim="trim-silence" /><Say language="sr-RS"'
    ' voice="Google.sr-RS-Standard-A">Hvala. Pozvaćemo vas čim bude bezbjedno.</Say></Response>'
)
FINISHED_XML = f"{XML}<Response />"


def _calls(db: Session) -> int:
    return int(db.exec(select(func.count()).select_from(Call)).one())


def test_unsigned_or_wrongly_signed_requests_are_refused_and_counted(
    client: TestClient, line: Line, db: Session
) -> None:
    unsigned = twilio(client, "/hotline/voice", call_params(), signature="")
    forged = twilio(client, "/hotline/voice", call_params(), signature="bm90IGEgc2lnbmF0dXJl")
    # A signature for rung 0 does not cover a request that claims rung 5.
    from tests.hotline.conftest import sign

    moved = client.post(
        "/hotline/voice/dial-result?rung=5",
        data=call_params(),
        headers={
            "X-Twilio-Signature": sign("/hotline/voice/dial-result", call_params(), query="rung=0")
        },
    )
    for response in (unsigned, forged, moved):
        assert response.status_code == 403
        assert response.json() == {
            "error": "forbidden",
            "message": "The request signature is missing or wrong.",
        }
    assert client.app.state.voice.counters["rejected_signature"] == 3  # type: ignore[attr-defined]
    assert _calls(db) == 0


def test_after_hours_call_rings_the_primary_with_screening(
    client: TestClient, line: Line, db: Session, clock: FrozenClock
) -> None:
    clock.set(EVENING)
    response = twilio(client, "/hotline/voice", call_params())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert response.text == dial_xml(0, [PRIMARY_PHONE], 20)
    call = db.exec(select(Call)).one()
    assert call.mode == CallMode.DUTY
    assert call.caller_last2 == "56"
    assert call.caller_sealed is not None
    assert CALLER.encode() not in call.caller_sealed
    assert reveal_caller(client.app.state.cipher, call) == CALLER  # type: ignore[attr-defined]


def test_office_hours_call_rings_the_office_first(
    client: TestClient, line: Line, db: Session
) -> None:
    # The clock fixture starts on Monday 2 March 2026 at 10:00 in Podgorica.
    response = twilio(client, "/hotline/voice", call_params())
    assert response.text == dial_xml(0, [OFFICE_LINE], 20)
    # Nobody in the office answers: on to the duty ladder.
    nobody = twilio(
        client,
        "/hotline/voice/dial-result",
        call_params(DialCallStatus="no-answer", CallStatus="in-progress"),
        query="rung=0&lang=cnr",
    )
    assert nobody.text == dial_xml(1, [PRIMARY_PHONE], 20)


def test_the_same_call_sid_always_gets_the_same_answer(
    client: TestClient, line: Line, db: Session, clock: FrozenClock
) -> None:
    clock.set(EVENING)
    first = twilio(client, "/hotline/voice", call_params())
    clock.advance(timedelta(seconds=3))
    second = twilio(client, "/hotline/voice", call_params())
    assert first.text == second.text
    assert _calls(db) == 1


def test_the_ladder_climbs_until_someone_presses_1(
    client: TestClient, line: Line, db: Session, clock: FrozenClock
) -> None:
    clock.set(EVENING)
    twilio(client, "/hotline/voice", call_params())
    in_progress = {"CallStatus": "in-progress"}
    to_backup = twilio(
        client,
        "/hotline/voice/dial-result",
        call_params(DialCallStatus="no-answer", **in_progress),
        query="rung=0&lang=cnr",
    )
    assert to_backup.text == dial_xml(1, [BACKUP_PHONE], 20)
    # Twilio retries a callback: the same decision, no second rung.
    again = twilio(
        client,
        "/hotline/voice/dial-result",
        call_params(DialCallStatus="no-answer", **in_progress),
        query="rung=0&lang=cnr",
    )
    assert again.text == to_backup.text
    to_supervisors = twilio(
        client,
        "/hotline/voice/dial-result",
        call_params(DialCallStatus="busy", **in_progress),
        query="rung=1&lang=cnr",
    )
    assert to_supervisors.text == dial_xml(2, [SUPERVISOR_PHONE], 25)

    leg = {
        "CallSid": "CA" + "9" * 32,
        "ParentCallSid": SID,
        "To": SUPERVISOR_PHONE,
        "From": HOTLINE_NUMBER,
    }
    screen = twilio(client, "/hotline/voice/screen", leg, query="rung=2&lang=cnr")
    assert screen.text == (
        f'{XML}<Response><Gather action="https://sigurna.example.org/hotline/voice/screen-result?'
        'rung=2&amp;lang=cnr" actionOnEmptyResult="true" method="POST" numDigits="1" timeout="8">'
        '<Say language="sr-RS" loop="2" voice="Google.sr-RS-Standard-A">SOS poziv. Pritisnite 1 da'
        " prihvatite.</Say></Gather><Hangup /></Response>"
    )
    accepted = twilio(
        client, "/hotline/voice/screen-result", {**leg, "Digits": "1"}, query="rung=2&lang=cnr"
    )
    assert accepted.text == FINISHED_XML  # an empty answer bridges the leg
    done = twilio(
        client,
        "/hotline/voice/dial-result",
        call_params(DialCallStatus="completed", **in_progress),
        query="rung=2&lang=cnr",
    )
    assert done.text == FINISHED_XML
    call = db.exec(select(Call)).one()
    assert call.accepted_by_user_id == line.supervisor.id
    assert call.accepted_rung == 2
    rungs = db.exec(select(CallRung).order_by(col(CallRung.index))).all()
    assert [(r.index, str(r.kind), r.dial_status) for r in rungs] == [
        (0, "primary", "no-answer"),
        (1, "backup", "busy"),
        (2, "supervisors", "completed"),
    ]
    # The call ends: no callback task for an accepted call.
    twilio(client, "/hotline/voice/status", call_params(CallStatus="completed"))
    assert db.exec(select(func.count()).select_from(CallbackTask)).one() == 0


def test_a_voicemail_or_a_declined_screen_is_not_an_answer(
    client: TestClient, line: Line, db: Session, clock: FrozenClock
) -> None:
    clock.set(EVENING)
    twilio(client, "/hotline/voice", call_params())
    leg = {
        "CallSid": "CA" + "8" * 32,
        "ParentCallSid": SID,
        "To": PRIMARY_PHONE,
        "From": HOTLINE_NUMBER,
    }
    # The primary's voicemail picked up: it presses nothing, so the leg is hung up.
    declined = twilio(
        client, "/hotline/voice/screen-result", {**leg, "Digits": ""}, query="rung=0&lang=cnr"
    )
    assert declined.text == (
        f'{XML}<Response><Say language="sr-RS" voice="Google.sr-RS-Standard-A">Nema odgovora.</Say>'
        "<Hangup /></Response>"
    )
    wrong_key = twilio(
        client, "/hotline/voice/screen-result", {**leg, "Digits": "7"}, query="rung=0&lang=cnr"
    )
    assert wrong_key.text == declined.text
    # Twilio may report the dial as completed: without a 1 pressed the ladder goes on.
    onwards = twilio(
        client,
        "/hotline/voice/dial-result",
        call_params(DialCallStatus="completed", CallStatus="in-progress"),
        query="rung=0&lang=cnr",
    )
    assert onwards.text == dial_xml(1, [BACKUP_PHONE], 20)
    assert db.exec(select(Call)).one().accepted_rung is None


def test_nobody_answers_voicemail_then_a_callback_task(
    client: TestClient, line: Line, db: Session, clock: FrozenClock
) -> None:
    clock.set(EVENING)
    twilio(client, "/hotline/voice", call_params())
    responses = []
    for rung in range(4):
        responses.append(
            twilio(
                client,
                "/hotline/voice/dial-result",
                call_params(DialCallStatus="no-answer", CallStatus="in-progress"),
                query=f"rung={rung}&lang=cnr",
            ).text
        )
    assert responses[:3] == [
        dial_xml(1, [BACKUP_PHONE], 20),
        dial_xml(2, [SUPERVISOR_PHONE], 25),
        dial_xml(3, [LAST_RESORT], 25),
    ]
    assert responses[3] == VOICEMAIL_XML
    recording = {
        "RecordingSid": "RE" + "2" * 32,
        "RecordingUrl": "https://api.twilio.com/rec/RE2",
        "RecordingDuration": "42",
    }
    thanks = twilio(client, "/hotline/voice/voicemail", call_params(**recording))
    assert thanks.text == (
        f'{XML}<Response><Say language="sr-RS" voice="Google.sr-RS-Standard-A">Hvala. Pozvaćemo vas'
        " čim bude bezbjedno.</Say><Hangup /></Response>"
    )
    clock.advance(timedelta(minutes=3))
    ended_at = clock.now()
    twilio(client, "/hotline/voice/status", call_params(CallStatus="completed"))
    # Out-of-order and repeated callbacks never move the call back or open a second task.
    twilio(client, "/hotline/voice/status", call_params(CallStatus="ringing"))
    twilio(client, "/hotline/voice/status", call_params(CallStatus="completed"))
    call = db.exec(select(Call)).one()
    assert call.twilio_status == "completed"
    assert call.status == CallStatus.ENDED
    assert call.ended_at == ended_at
    assert call.recording_seconds == 42
    assert call.recording_sealed is not None
    assert b"api.twilio.com" not in call.recording_sealed
    task = db.exec(select(CallbackTask)).one()
    assert task.due_at == ended_at + timedelta(minutes=15)
    assert task.assigned_user_id == line.primary.id
    assert task.safe_to_call_back == SafeToCallBack.UNKNOWN
    assert len(task.short_ref) == 6
    # The duty team is told, once each, with nothing about the caller.
    messages = db.exec(select(OutboxMessage).order_by(col(OutboxMessage.recipient))).all()
    text = f"Missed SOS call, callback task {task.short_ref}"
    assert [(m.recipient, m.sender, m.body) for m in messages] == sorted(
        [(PRIMARY_PHONE, HOTLINE_NUMBER, text), (BACKUP_PHONE, HOTLINE_NUMBER, text)]
    )
    assert all(CALLER[-6:] not in m.body for m in messages)


def test_an_unknown_number_or_a_broken_database_still_reaches_a_human(
    client: TestClient, line: Line, world: World
) -> None:
    # A number no hotline is configured for: answered from the cached roster and settings.
    response = twilio(client, "/hotline/voice", call_params(To="+442079460999"))
    assert response.status_code == 200
    assert "<Dial" in response.text or "<Record" in response.text
