"""Pure TwiML rendering with the official builders; every answer is a complete <Response>."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from hotline.models import PromptLanguage
from hotline.routing import Rung

VOICEMAIL_MAX_SECONDS = 120


@dataclass(frozen=True)
class Prompts:
    language: str  # Twilio's <Say language>
    voice: str
    screen: str
    voicemail: str
    voicemail_thanks: str
    no_digit: str


# Twilio has no Albanian text-to-speech voice: Albanian hotlines hear the English prompts.
PROMPTS: dict[PromptLanguage, Prompts] = {
    PromptLanguage.ENGLISH: Prompts(
        "en-GB",
        "Polly.Amy",
        "SOS call. Press 1 to accept.",
        "Nobody can answer right now. Please leave a message after the tone, or call again.",
        "Thank you. We will call you back as soon as it is safe.",
        "No answer.",
    ),
    PromptLanguage.MONTENEGRIN: Prompts(
        "sr-RS",
        "Google.sr-RS-Standard-A",
        "SOS poziv. Pritisnite 1 da prihvatite.",
        "Trenutno niko ne može da se javi. Ostavite poruku nakon signala ili pozovite ponovo.",
        "Hvala. Pozvaćemo vas čim bude bezbjedno.",
        "Nema odgovora.",
    ),
}
PROMPTS[PromptLanguage.ALBANIAN] = PROMPTS[PromptLanguage.ENGLISH]


def prompts_for(language: str) -> Prompts:
    try:
        return PROMPTS[PromptLanguage(language)]
    except ValueError:
        return PROMPTS[PromptLanguage.ENGLISH]


def url(base: str, path: str, **query: object) -> str:
    text = base.rstrip("/") + path
    return f"{text}?{urlencode(query)}" if query else text


@dataclass(frozen=True)
class Leg:
    """One <Dial> of a ladder: its numbers, timeout and the query that identifies the rung."""

    numbers: Sequence[str]
    timeout: int
    query: dict[str, object]


def dial(
    rung: Rung,
    *,
    index: int,
    base_url: str,
    caller_id: str,
    language: str,
    tried: str = "",
    fallback: bool = False,
) -> str:
    """Ring every number of the rung at once; each leg must press 1 to take the call.

    The action URL carries the call's position: the rung, and `tried`, the tags of every number
    rung so far (this rung's included), so that whatever answers next never rings one again.
    """
    query: dict[str, object] = {"rung": index, "lang": language}
    if tried:
        query["tried"] = tried
    if fallback:
        query["fallback"] = 1
    return _dial_response(
        Leg(rung.numbers, rung.timeout, query), base_url=base_url, caller_id=caller_id
    )


def _dial_response(leg: Leg, *, base_url: str, caller_id: str) -> str:
    response = VoiceResponse()
    verb = Dial(
        action=url(base_url, "/hotline/voice/dial-result", **leg.query),
        method="POST",
        timeout=leg.timeout,
        answer_on_bridge=True,  # the caller hears ringing until a counselor accepts
        caller_id=caller_id,  # the counselor's phone shows the hotline's number
    )
    for number in leg.numbers:
        verb.number(number, url=url(base_url, "/hotline/voice/screen", **leg.query), method="POST")
    response.append(verb)
    return str(response)


def screen(language: str, *, base_url: str, query: dict[str, object]) -> str:
    """Played to whoever picked up: press 1, or the leg hangs up (a voicemail never counts)."""
    words = prompts_for(language)
    response = VoiceResponse()
    gather = Gather(
        num_digits=1,
        timeout=8,
        action=url(base_url, "/hotline/voice/screen-result", **query),
        method="POST",
        action_on_empty_result=True,
    )
    gather.say(words.screen, language=words.language, voice=words.voice, loop=2)
    response.append(gather)
    response.hangup()  # no digit: this leg hangs up and the ladder goes on
    return str(response)


def screen_accepted() -> str:
    """An empty answer to the screening leg bridges it to the caller."""
    return str(VoiceResponse())


def screen_declined(language: str) -> str:
    return _say_and_hang_up(language, lambda words: words.no_digit)


def voicemail(language: str, *, base_url: str) -> str:
    """Nobody accepted: the caller may leave a message (at most two minutes)."""
    words = prompts_for(language)
    response = VoiceResponse()
    response.say(words.voicemail, language=words.language, voice=words.voice)
    response.record(
        action=url(base_url, "/hotline/voice/voicemail"),
        method="POST",
        max_length=VOICEMAIL_MAX_SECONDS,
        play_beep=True,
        timeout=10,
        trim="trim-silence",
    )
    response.say(words.voicemail_thanks, language=words.language, voice=words.voice)
    return str(response)


def voicemail_done(language: str) -> str:
    return _say_and_hang_up(language, lambda words: words.voicemail_thanks)


def _say_and_hang_up(language: str, text: Callable[[Prompts], str]) -> str:
    words = prompts_for(language)
    response = VoiceResponse()
    response.say(text(words), language=words.language, voice=words.voice)
    response.hangup()
    return str(response)


def finished() -> str:
    """Nothing more to do (the conversation is over, or the caller has gone)."""
    return str(VoiceResponse())


def static_fallback(numbers: Sequence[str], *, caller_id: str | None, language: str) -> str:
    """TwiML for Twilio's Fallback URL, used when Sigurna cannot be reached at all.

    It cannot screen (screening needs Sigurna), so it rings each number in turn, and records a
    message at the end (kept by Twilio, without a callback).
    """
    words = prompts_for(language)
    response = VoiceResponse()
    for number in numbers:
        verb = Dial(timeout=25, answer_on_bridge=True, caller_id=caller_id)
        verb.number(number)
        response.append(verb)
    response.say(words.voicemail, language=words.language, voice=words.voice)
    response.record(max_length=VOICEMAIL_MAX_SECONDS, play_beep=True, timeout=10)
    return str(response)
