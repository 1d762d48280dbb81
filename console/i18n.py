"""The console's languages: gettext catalogues (Babel) and dates, times and numbers per locale.

English is the source language. Montenegrin/Serbian in Latin script (`sr_Latn`) and Albanian
(`sq`) are catalogues under `console/locale`; the Cyrillic one is the Latin catalogue
transliterated letter for letter (`cyrtranslit`, Montenegrin rules, which keep Ś and Ź), so the
two scripts can never say different things. Placeholders (`%(name)s`) are kept as they are.

The chosen language travels in the current context (`use`), so that templates and the few
strings built in Python (`gettext`) agree without passing a translator around.
"""

from __future__ import annotations

import gettext as gettext_module
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date as Date
from datetime import datetime as DateTime
from datetime import timedelta
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import cyrtranslit
from babel import Locale
from babel.dates import format_date, format_datetime, format_time, format_timedelta
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"


@dataclass(frozen=True)
class Language:
    code: str  # what the account and the cookie keep
    name: str  # the language's own name, as the switcher shows it
    html_lang: str  # BCP 47, for <html lang>
    babel: str  # the CLDR locale for dates and numbers


LANGUAGES: tuple[Language, ...] = (
    Language("en", "English", "en", "en_GB"),
    Language("sr_Latn", "Crnogorski / srpski (latinica)", "sr-Latn-ME", "sr_Latn_ME"),
    Language("sr_Cyrl", "Црногорски / српски (ћирилица)", "sr-Cyrl-ME", "sr_Cyrl_ME"),
    # Kosovo's and North Macedonia's conventions: a 24-hour clock, as shelters keep time.
    Language("sq", "Shqip", "sq", "sq_XK"),
)
BY_CODE = {language.code: language for language in LANGUAGES}
DEFAULT = LANGUAGES[0]
PLACEHOLDER = re.compile(r"(%\([a-z_]+\)[sd]|%[sd]|\{[a-z_]+\})")


def language(code: str | None) -> Language:
    """The language with this code, or English."""
    return BY_CODE.get(code or "", DEFAULT)


def negotiate(accept_language: str | None) -> Language:
    """The browser's first preference we speak (Accept-Language), or English."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith(("sr-cyrl", "cnr-cyrl", "sr-me", "sr-rs")) or tag in ("sr", "cnr"):
            return BY_CODE["sr_Cyrl"] if "latn" not in tag else BY_CODE["sr_Latn"]
        if tag.startswith(("sr-latn", "cnr", "bs", "hr", "sh")):
            return BY_CODE["sr_Latn"]
        if tag.startswith("sq"):
            return BY_CODE["sq"]
        if tag.startswith("en"):
            return DEFAULT
    return DEFAULT


def to_cyrillic(text: str) -> str:
    """Latin Montenegrin to Cyrillic, leaving placeholders and markup-free symbols alone."""
    return "".join(
        part if PLACEHOLDER.fullmatch(part) else cyrtranslit.to_cyrillic(part, "me")
        for part in PLACEHOLDER.split(text)
    )


def read_catalogue(code: str) -> Catalog:
    """A catalogue as its .po file says (the Cyrillic one derived from the Latin one)."""
    source = "sr_Latn" if code == "sr_Cyrl" else code
    with (LOCALE_DIR / source / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as handle:
        catalogue = read_po(handle, locale=source)
    if code == "sr_Cyrl":
        for message in catalogue:
            if not message.id:
                continue
            if isinstance(message.string, tuple | list):
                message.string = tuple(to_cyrillic(s) for s in message.string)
            elif message.string:
                message.string = to_cyrillic(message.string)
    return catalogue


@cache
def translations(code: str) -> gettext_module.NullTranslations:
    """The gettext translations of a language (compiled in memory from its .po file)."""
    if code == DEFAULT.code or code not in BY_CODE:
        return gettext_module.NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, read_catalogue(code), use_fuzzy=False)
    buffer.seek(0)
    return gettext_module.GNUTranslations(buffer)


_current: ContextVar[Language] = ContextVar("console_language", default=DEFAULT)


@contextmanager
def use(lang: Language) -> Iterator[None]:
    """Speak `lang` within the block (a request's rendering)."""
    token = _current.set(lang)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> Language:
    return _current.get()


def gettext(message: str) -> str:
    return translations(_current.get().code).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get().code).ngettext(singular, plural, n)


@cache
def _locale(name: str) -> Locale:
    return Locale.parse(name)


# Babel formats a date in some 30 microseconds; a page formats the same instants request after
# request (a bed's "since", a shift's start), so each text is kept (a pure function of its
# arguments: equal instants in a zone read alike; `tests/console/test_formats.py` holds it to
# Babel's own).
_FORMATTED = 4096


@lru_cache(maxsize=_FORMATTED)
def _datetime_text(value: DateTime, zone: ZoneInfo, babel: str) -> str:
    return format_datetime(value, "short", tzinfo=zone, locale=_locale(babel))


@lru_cache(maxsize=_FORMATTED)
def _time_text(value: DateTime, zone: ZoneInfo, babel: str) -> str:
    return format_time(value, "short", tzinfo=zone, locale=_locale(babel))


@lru_cache(maxsize=_FORMATTED)
def _date_text(value: Date, babel: str) -> str:
    return format_date(value, "medium", locale=_locale(babel))


@dataclass(frozen=True)
class Formats:
    """Dates, times, durations and numbers in a language and the organisation's time zone."""

    lang: Language
    zone: ZoneInfo

    @property
    def locale(self) -> Locale:
        return _locale(self.lang.babel)

    def datetime(self, value: DateTime | None) -> str:
        if value is None:
            return ""
        return _datetime_text(value, self.zone, self.lang.babel)

    def time(self, value: DateTime | None) -> str:
        if value is None:
            return ""
        return _time_text(value, self.zone, self.lang.babel)

    def date(self, value: Date | DateTime | None) -> str:
        if value is None:
            return ""
        if isinstance(value, DateTime):
            value = value.astimezone(self.zone).date()
        return _date_text(value, self.lang.babel)

    def number(self, value: float | int) -> str:
        if isinstance(value, int) and 0 <= value < 1000:
            return str(value)  # no grouping, no sign: the same digits in every locale here
        return format_decimal(value, locale=self.locale)

    def duration(self, value: timedelta) -> str:
        """ "in 3 hours" / "2 days ago", as the language says it."""
        return format_timedelta(
            value, add_direction=True, threshold=1.5, format="long", locale=self.locale
        )
