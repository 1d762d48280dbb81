"""Risk assessment: the instrument is data, the scoring a pure function (tested as a table).

An instrument (`instruments/*.json`) lists yes/no/unknown questions with a weight, which of them
are critical, and the two thresholds. Its level is:

- **high** when any critical item (threat to kill, strangulation, weapon, escalation,
  separation) is answered yes, or when the weighted count of yes answers reaches `high`;
- **medium** when that count reaches `medium`;
- **standard** otherwise.

"unknown" counts as not yes, and the number of unknowns is reported beside the level so that an
assessment full of unknowns is seen for what it is. The assessor's professional judgement may
raise the level, never lower it: a judgement below the computed level is refused, not ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from core.localtime import add_local_days

INSTRUMENTS = Path(__file__).parent / "instruments"
DEFAULT_INSTRUMENT = "sigurna-checklist"

# Reassessment is due this many local calendar days after an assessment.
REASSESS_DAYS = 30
REASSESS_DAYS_HIGH = 7


class Answer(StrEnum):
    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


class RiskLevel(StrEnum):
    STANDARD = "standard"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {RiskLevel.STANDARD: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2}


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    weight: int
    critical: bool


@dataclass(frozen=True)
class Instrument:
    key: str
    version: int
    title: str
    medium: int
    high: int
    questions: tuple[Question, ...]

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(q.id for q in self.questions)


class InstrumentError(ValueError):
    """Answers that do not fit the instrument (the message says which question)."""


@dataclass(frozen=True)
class Score:
    computed: RiskLevel
    level: RiskLevel  # the computed level, or the assessor's judgement when it is higher
    points: int  # weighted count of yes answers
    critical_yes: tuple[str, ...]  # the critical items answered yes, in the instrument's order
    unknown: int


def parse_instrument(data: dict[str, object]) -> Instrument:
    """An instrument from its JSON; refuses one whose thresholds or questions make no sense."""
    questions = tuple(
        Question(str(q["id"]), str(q["text"]), int(q["weight"]), bool(q["critical"]))
        for q in data["questions"]  # type: ignore[attr-defined]
    )
    thresholds: dict[str, int] = data["thresholds"]  # type: ignore[assignment]
    instrument = Instrument(
        key=str(data["key"]),
        version=int(data["version"]),  # type: ignore[call-overload]
        title=str(data["title"]),
        medium=int(thresholds["medium"]),
        high=int(thresholds["high"]),
        questions=questions,
    )
    if len(instrument.ids) != len(questions) or not questions:
        raise InstrumentError("an instrument needs questions with distinct ids")
    if not 0 < instrument.medium < instrument.high:
        raise InstrumentError("thresholds must satisfy 0 < medium < high")
    if any(q.weight < 1 for q in questions):
        raise InstrumentError("every question weighs at least 1")
    return instrument


@lru_cache(maxsize=8)
def instrument(key: str = DEFAULT_INSTRUMENT) -> Instrument:
    """The shipped instrument of that key (its newest version)."""
    found = [
        parse_instrument(json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(INSTRUMENTS.glob("*.json"))
    ]
    matching = [i for i in found if i.key == key]
    if not matching:
        raise InstrumentError(f"unknown risk instrument {key!r}")
    return max(matching, key=lambda i: i.version)


def score(
    tool: Instrument, answers: dict[str, Answer], judgement: RiskLevel | None = None
) -> Score:
    """The level of a complete set of answers, raised (never lowered) by `judgement`."""
    missing = sorted(tool.ids - answers.keys())
    if missing:
        raise InstrumentError(f"question {missing[0]!r} has no answer")
    unknown_ids = sorted(answers.keys() - tool.ids)
    if unknown_ids:
        raise InstrumentError(f"{unknown_ids[0]!r} is not a question of this instrument")
    points = sum(q.weight for q in tool.questions if answers[q.id] is Answer.YES)
    critical = tuple(q.id for q in tool.questions if q.critical and answers[q.id] is Answer.YES)
    if critical or points >= tool.high:
        computed = RiskLevel.HIGH
    elif points >= tool.medium:
        computed = RiskLevel.MEDIUM
    else:
        computed = RiskLevel.STANDARD
    if judgement is not None and judgement.rank < computed.rank:
        raise InstrumentError(
            f"professional judgement may raise the level, never lower it: the answers give "
            f"{computed.value}, the judgement says {judgement.value}"
        )
    level = judgement if judgement is not None else computed
    unknown = sum(1 for a in answers.values() if a is Answer.UNKNOWN)
    return Score(computed, level, points, critical, unknown)


def reassess_by(assessed_at: datetime, level: RiskLevel, zone: str) -> datetime:
    """When the next assessment is due: the same local clock time 30 days on (7 when high)."""
    days = REASSESS_DAYS_HIGH if level is RiskLevel.HIGH else REASSESS_DAYS
    return add_local_days(assessed_at, days, zone)


# The reminder before a reassessment falls due, and the one when it is overdue.
REMIND_BEFORE = timedelta(days=1)
