"""The risk instrument's scoring and the reassessment deadline, as tables (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from safety_plans.risk import (
    REASSESS_DAYS,
    REASSESS_DAYS_HIGH,
    Answer,
    InstrumentError,
    RiskLevel,
    instrument,
    parse_instrument,
    reassess_by,
    score,
)

TOOL = instrument()
CRITICAL = ("separation", "escalation", "weapon", "threat_to_kill", "strangulation")
NON_CRITICAL = tuple(q.id for q in TOOL.questions if not q.critical)
PODGORICA = ZoneInfo("Europe/Podgorica")
ZONE = "Europe/Podgorica"


def answers(yes: tuple[str, ...] = (), unknown: tuple[str, ...] = ()) -> dict[str, Answer]:
    found = dict.fromkeys(TOOL.ids, Answer.NO)
    found.update(dict.fromkeys(yes, Answer.YES))
    found.update(dict.fromkeys(unknown, Answer.UNKNOWN))
    return found


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PODGORICA).astimezone(UTC)


def test_the_shipped_instrument_is_the_one_these_tables_assume() -> None:
    assert (TOOL.key, TOOL.version, TOOL.medium, TOOL.high) == ("sigurna-checklist", 1, 7, 14)
    assert len(TOOL.questions) == 26
    assert {q.id for q in TOOL.questions if q.critical} == set(CRITICAL)
    assert all(q.weight == 1 for q in TOOL.questions)
    assert len(NON_CRITICAL) == 21


@pytest.mark.parametrize(
    ("yes_count", "level"),
    [
        (0, RiskLevel.STANDARD),
        (6, RiskLevel.STANDARD),
        (7, RiskLevel.MEDIUM),
        (13, RiskLevel.MEDIUM),
        (14, RiskLevel.HIGH),
        (21, RiskLevel.HIGH),
    ],
)
def test_thresholds_on_non_critical_items(yes_count: int, level: RiskLevel) -> None:
    result = score(TOOL, answers(NON_CRITICAL[:yes_count]))
    assert result.computed is level
    assert result.level is level
    assert result.points == yes_count
    assert result.critical_yes == ()
    assert result.unknown == 0


@pytest.mark.parametrize("item", CRITICAL)
def test_each_critical_item_alone_is_high(item: str) -> None:
    result = score(TOOL, answers((item,)))
    assert (result.computed, result.level) == (RiskLevel.HIGH, RiskLevel.HIGH)
    assert result.points == 1
    assert result.critical_yes == (item,)


def test_critical_items_are_reported_in_the_instruments_order() -> None:
    result = score(TOOL, answers(("strangulation", "separation", "weapon")))
    assert result.critical_yes == ("separation", "weapon", "strangulation")
    assert result.points == 3


@pytest.mark.parametrize("item", CRITICAL)
def test_a_critical_item_unknown_is_not_yes(item: str) -> None:
    result = score(TOOL, answers(unknown=(item,)))
    assert result.computed is RiskLevel.STANDARD
    assert result.critical_yes == ()
    assert result.unknown == 1
    assert result.points == 0


def test_unknowns_count_as_not_yes_and_are_counted() -> None:
    # 6 yes and 20 unknown: still standard, with the unknowns reported beside it.
    unknown = tuple(i for i in TOOL.ids if i not in NON_CRITICAL[:6])
    result = score(TOOL, answers(NON_CRITICAL[:6], unknown))
    assert (result.computed, result.points, result.unknown) == (RiskLevel.STANDARD, 6, 20)


@pytest.mark.parametrize(
    ("yes_count", "judgement", "computed", "level"),
    [
        (0, RiskLevel.HIGH, RiskLevel.STANDARD, RiskLevel.HIGH),
        (0, RiskLevel.MEDIUM, RiskLevel.STANDARD, RiskLevel.MEDIUM),
        (0, RiskLevel.STANDARD, RiskLevel.STANDARD, RiskLevel.STANDARD),
        (7, RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.HIGH),
        (7, RiskLevel.MEDIUM, RiskLevel.MEDIUM, RiskLevel.MEDIUM),
        (14, RiskLevel.HIGH, RiskLevel.HIGH, RiskLevel.HIGH),
    ],
)
def test_judgement_may_raise_or_keep_the_level(
    yes_count: int, judgement: RiskLevel, computed: RiskLevel, level: RiskLevel
) -> None:
    result = score(TOOL, answers(NON_CRITICAL[:yes_count]), judgement)
    assert (result.computed, result.level) == (computed, level)


@pytest.mark.parametrize(
    ("yes", "judgement", "message"),
    [
        (
            NON_CRITICAL[:7],
            RiskLevel.STANDARD,
            "the answers give medium, the judgement says standard",
        ),
        (NON_CRITICAL[:14], RiskLevel.MEDIUM, "the answers give high, the judgement says medium"),
        (("weapon",), RiskLevel.STANDARD, "the answers give high, the judgement says standard"),
    ],
)
def test_judgement_lowering_the_level_is_refused(
    yes: tuple[str, ...], judgement: RiskLevel, message: str
) -> None:
    with pytest.raises(InstrumentError) as refused:
        score(TOOL, answers(yes), judgement)
    assert str(refused.value) == (
        f"professional judgement may raise the level, never lower it: {message}"
    )


def test_a_missing_answer_is_refused_naming_the_first_missing_question() -> None:
    given = answers()
    del given["weapon"]
    del given["animals"]
    with pytest.raises(InstrumentError) as refused:
        score(TOOL, given)
    assert str(refused.value) == "question 'animals' has no answer"


def test_an_answer_to_no_question_is_refused() -> None:
    given: dict[str, Answer] = {**answers(), "horoscope": Answer.YES}
    with pytest.raises(InstrumentError) as refused:
        score(TOOL, given)
    assert str(refused.value) == "'horoscope' is not a question of this instrument"


# --- reassessment -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("assessed", "level", "due", "hours"),
    [
        # Winter, no change in between: 7 days are 168 hours.
        (local(2026, 3, 2, 10), RiskLevel.HIGH, local(2026, 3, 9, 10), 168),
        # Across 29 March 2026 (clocks forward): 10:00 CET to 10:00 CEST, 167 hours.
        (local(2026, 3, 25, 10), RiskLevel.HIGH, local(2026, 4, 1, 10), 167),
        # Across 25 October 2026 (clocks back): 10:00 CEST to 10:00 CET, 169 hours.
        (local(2026, 10, 20, 10), RiskLevel.HIGH, local(2026, 10, 27, 10), 169),
        # 30 days for standard and medium, across each change.
        (local(2026, 3, 10, 10), RiskLevel.STANDARD, local(2026, 4, 9, 10), 30 * 24 - 1),
        (local(2026, 10, 10, 10), RiskLevel.MEDIUM, local(2026, 11, 9, 10), 30 * 24 + 1),
        (local(2026, 6, 1, 10), RiskLevel.MEDIUM, local(2026, 7, 1, 10), 30 * 24),
    ],
)
def test_reassessment_falls_due_at_the_same_local_clock_time(
    assessed: datetime, level: RiskLevel, due: datetime, hours: int
) -> None:
    found = reassess_by(assessed, level, ZONE)
    assert found == due
    assert found.tzinfo is UTC
    assert found.astimezone(PODGORICA).time() == assessed.astimezone(PODGORICA).time()
    assert (found - assessed).total_seconds() == hours * 3600


def test_reassessment_instants_in_utc() -> None:
    assert reassess_by(local(2026, 3, 25, 10), RiskLevel.HIGH, ZONE) == datetime(
        2026, 4, 1, 8, 0, tzinfo=UTC
    )
    assert reassess_by(local(2026, 10, 20, 10), RiskLevel.HIGH, ZONE) == datetime(
        2026, 10, 27, 9, 0, tzinfo=UTC
    )
    assert (REASSESS_DAYS, REASSESS_DAYS_HIGH) == (30, 7)


# --- parsing instruments ------------------------------------------------------------------


def raw(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": "test",
        "version": 1,
        "title": "Test",
        "thresholds": {"medium": 2, "high": 3},
        "questions": [
            {"id": "a", "weight": 1, "critical": False, "text": "A?"},
            {"id": "b", "weight": 1, "critical": True, "text": "B?"},
        ],
    }
    data.update(changes)
    return data


def test_a_sound_instrument_parses() -> None:
    parsed = parse_instrument(raw())
    assert (parsed.key, parsed.medium, parsed.high, parsed.ids) == (
        "test",
        2,
        3,
        frozenset({"a", "b"}),
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"thresholds": {"medium": 0, "high": 3}}, "thresholds must satisfy 0 < medium < high"),
        ({"thresholds": {"medium": 3, "high": 3}}, "thresholds must satisfy 0 < medium < high"),
        ({"thresholds": {"medium": 4, "high": 3}}, "thresholds must satisfy 0 < medium < high"),
        ({"thresholds": {"medium": -1, "high": 2}}, "thresholds must satisfy 0 < medium < high"),
        ({"questions": []}, "an instrument needs questions with distinct ids"),
        (
            {
                "questions": [
                    {"id": "a", "weight": 1, "critical": False, "text": "A?"},
                    {"id": "a", "weight": 1, "critical": False, "text": "A again?"},
                ]
            },
            "an instrument needs questions with distinct ids",
        ),
        (
            {"questions": [{"id": "a", "weight": 0, "critical": False, "text": "A?"}]},
            "every question weighs at least 1",
        ),
    ],
)
def test_a_senseless_instrument_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InstrumentError) as refused:
        parse_instrument(raw(**changes))
    assert str(refused.value) == message


def test_an_unknown_instrument_key_is_refused() -> None:
    with pytest.raises(InstrumentError) as refused:
        instrument("no-such-instrument")
    assert str(refused.value) == "unknown risk instrument 'no-such-instrument'"
