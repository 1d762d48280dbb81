"""Dates and times in the user's language and the organisation's zone (`console.i18n.Formats`):
kept texts read exactly as Babel formats them, across a change of clocks, in every language."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from babel import Locale
from babel.dates import format_date, format_datetime, format_time

from console.i18n import LANGUAGES, Formats, Language

ZONE = ZoneInfo("Europe/Podgorica")
# Around the night the clocks go back (25 October 2026, 03:00 CEST -> 02:00 CET).
INSTANTS = [
    datetime(2026, 10, 24, 23, 30, tzinfo=UTC) + timedelta(minutes=30 * n) for n in range(6)
]


@pytest.mark.parametrize("lang", LANGUAGES, ids=lambda lang: lang.code)
def test_formats_read_as_babel_formats_them(lang: Language) -> None:
    fmt = Formats(lang, ZONE)
    locale = Locale.parse(lang.babel)
    for _ in range(2):  # formatted, then kept
        for instant in INSTANTS:
            assert fmt.datetime(instant) == format_datetime(
                instant, "short", tzinfo=ZONE, locale=locale
            )
            assert fmt.time(instant) == format_time(instant, "short", tzinfo=ZONE, locale=locale)
            assert fmt.date(instant) == format_date(
                instant.astimezone(ZONE).date(), "medium", locale=locale
            )
    assert fmt.date(date(2026, 12, 3)) == format_date(date(2026, 12, 3), "medium", locale=locale)


def test_the_same_instant_reads_alike_whatever_zone_it_came_in() -> None:
    fmt = Formats(LANGUAGES[0], ZONE)
    utc = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET, after the change
    east = utc.astimezone(timezone(timedelta(hours=5)))
    assert fmt.datetime(utc) == fmt.datetime(east) == "25/10/2026, 02:30"
    assert fmt.time(datetime(2026, 10, 25, 0, 30, tzinfo=UTC)) == "02:30"  # 02:30 CEST, before
    assert fmt.datetime(utc) != Formats(LANGUAGES[0], ZoneInfo("Europe/London")).datetime(utc)
    assert fmt.datetime(None) == fmt.time(None) == fmt.date(None) == ""
