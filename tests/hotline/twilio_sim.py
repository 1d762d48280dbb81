"""Twilio, simulated from the outside: one call follows the TwiML the service answers.

Every request is what Twilio would send next (signed by the poster): the Voice URL, then for
each <Dial> the screening of the legs that pick up, the press of 1 by a counselor who accepts,
the <Dial action> when the rung ends, the <Record action> and the status callback. Phones
accept, ring out or have their voicemail pick up. Time is simulated: a rung nobody accepts
costs its timeout, an acceptance its delay, and each answer what the poster says it took.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Phone(StrEnum):
    ACCEPTS = "accepts"  # picks up and presses 1
    RINGS_OUT = "rings_out"  # nobody picks up
    VOICEMAIL = "voicemail"  # the phone's voicemail picks up and presses nothing


@dataclass(frozen=True)
class Answer:
    """What a person's phone does when rung, and after how many seconds."""

    phone: Phone
    after: float = 5.0


# (path, query, params) -> (TwiML text, seconds the answer took)
Post = Callable[[str, str, dict[str, str]], tuple[str, float]]

_DIAL = re.compile(r'<Dial action="[^"?]+\?([^"]*)"[^>]*timeout="(\d+)"[^>]*>(.*?)</Dial>', re.S)
_NUMBER = re.compile(r'<Number[^>]*url="[^"?]+\?([^"]*)"[^>]*>([^<]+)</Number>')
_GATHER = re.compile(r'<Gather action="[^"?]+\?([^"]*)"')
RESPONSE = re.compile(
    r'^<\?xml version="1.0" encoding="UTF-8"\?><Response( ?/>|>.*</Response>)$', re.S
)


@dataclass
class Outcome:
    answers: list[str] = field(default_factory=list)
    dialled: list[str] = field(default_factory=list)
    accepted_by: str | None = None
    voicemail: bool = False
    seconds: float = 0.0  # until a human accepted, or the caller was offered voicemail


def _query(raw: str) -> str:
    return html.unescape(raw)


def run_call(
    post: Post,
    *,
    sid: str,
    hotline: str,
    caller: str,
    phones: Mapping[str, Answer],
    leave_message: bool = True,
    status_callback: bool = True,
) -> Outcome:
    """Drive one inbound call to its end; every answer is checked to be a whole <Response>."""
    outcome = Outcome()
    base = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": caller, "To": hotline}

    def ask(path: str, query: str, params: dict[str, str]) -> str:
        text, took = post(path, query, params)
        if not RESPONSE.match(text):
            raise AssertionError(f"not a TwiML <Response>: {text[:200]}")
        outcome.answers.append(text)
        outcome.seconds += took
        return text

    answer = ask("/hotline/voice", "", {**base, "CallStatus": "ringing", "Direction": "inbound"})
    for _ in range(32):  # a ladder is a handful of rungs; a loop means a defect
        dial = _DIAL.search(answer)
        if dial is None:
            break
        action, timeout, inner = _query(dial.group(1)), int(dial.group(2)), dial.group(3)
        legs = [(_query(q), n) for q, n in _NUMBER.findall(inner)]
        outcome.dialled.extend(n for _, n in legs)
        picked = [(phones.get(n, Answer(Phone.RINGS_OUT)), q, n) for q, n in legs]
        picked = [p for p in picked if p[0].phone is not Phone.RINGS_OUT and p[0].after < timeout]
        picked.sort(key=lambda p: p[0].after)
        taker = next((p for p in picked if p[0].phone is Phone.ACCEPTS), None)
        for who, query, number in picked:
            if taker is not None and who.after > taker[0].after:
                break  # the others stop ringing once someone is bridged
            leg_sid = "CA" + hashlib.sha256(f"{sid}{number}".encode()).hexdigest()[:32]
            leg = {"CallSid": leg_sid, "ParentCallSid": sid}
            leg.update({"To": number, "From": hotline, "CallStatus": "in-progress"})
            screen = ask("/hotline/voice/screen", query, leg)
            gather = _GATHER.search(screen)
            if gather is None:
                raise AssertionError("a picked-up leg must be screened")
            digits = "1" if who.phone is Phone.ACCEPTS else ""
            ask("/hotline/voice/screen-result", _query(gather.group(1)), {**leg, "Digits": digits})
            if digits == "1":
                break
        if taker is not None:
            outcome.accepted_by = taker[2]
            outcome.seconds += taker[0].after
            ended = ask(
                "/hotline/voice/dial-result",
                action,
                {**base, "DialCallStatus": "completed", "CallStatus": "in-progress"},
            )
            if "<Dial" in ended or "<Record" in ended:
                raise AssertionError("an accepted call must not climb on")
            break
        outcome.seconds += timeout
        status = "completed" if picked else "no-answer"
        answer = ask(
            "/hotline/voice/dial-result",
            action,
            {**base, "DialCallStatus": status, "CallStatus": "in-progress"},
        )
    else:
        raise AssertionError("the ladder never ended")
    if outcome.accepted_by is None and "<Record" in answer:
        outcome.voicemail = True
        if leave_message:
            ask(
                "/hotline/voice/voicemail",
                "",
                {
                    **base,
                    "CallStatus": "in-progress",
                    "RecordingSid": "RE" + sid[2:],
                    "RecordingUrl": f"https://api.twilio.com/recordings/RE{sid[2:]}",
                    "RecordingDuration": "31",
                },
            )
    if status_callback:
        ask("/hotline/voice/status", "", {**base, "CallStatus": "completed", "CallDuration": "60"})
    return outcome
