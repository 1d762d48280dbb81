"""Every string a page shows is in the catalogues, in every language."""

from __future__ import annotations

import re
from pathlib import Path

from console import catalogue, i18n

TEMPLATES = Path(catalogue.ROOT) / "templates"
# What may stand outside _(): punctuation, digits, symbols, and these few technical words.
ALLOWED = {"Sigurna", "nbsp"}
LETTERS = re.compile(r"[^\W\d_]{2,}", re.UNICODE)


def _bare_text(source: str) -> list[str]:
    """Letters a reader would see or hear that are not inside a Jinja expression or tag: the
    template's text between HTML tags, and the attributes read aloud (title, alt, aria-label,
    placeholder)."""
    text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", "\x00", source, flags=re.S)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    found: list[str] = []
    for attribute in re.findall(r'\b(?:title|alt|aria-label|placeholder)="([^"]*)"', text):
        found += [w for w in LETTERS.findall(attribute) if w not in ALLOWED]
    text = re.sub(r"<[^>]*>", " ", text, flags=re.S)
    found += [w for w in LETTERS.findall(text) if w not in ALLOWED]
    return found


def test_no_template_shows_a_word_outside_the_catalogues() -> None:
    bare = {
        str(path.relative_to(TEMPLATES)): words
        for path in sorted(TEMPLATES.rglob("*.html"))
        if (words := _bare_text(path.read_text("utf-8")))
    }
    assert bare == {}


def test_the_check_finds_a_bare_word() -> None:
    assert _bare_text("<p>{{ _('Fine') }} Beds</p>") == ["Beds"]
    assert _bare_text('<input aria-label="Search">') == ["Search"]
    assert _bare_text("<p>{{ fmt.number(3) }} · {{ _('beds') }}</p>") == []


def test_every_message_is_translated_in_every_language() -> None:
    assert catalogue.missing() == {"sr_Latn": [], "sq": []}


def test_a_translated_page_string_differs_from_english_in_every_language() -> None:
    for code in ("sr_Latn", "sr_Cyrl", "sq"):
        with i18n.use(i18n.BY_CODE[code]):
            assert i18n.gettext("Log in") != "Log in", code
            assert i18n.gettext("Password") != "Password", code


def test_placeholders_survive_every_translation() -> None:
    for code in ("sr_Latn", "sr_Cyrl", "sq"):
        for message in i18n.read_catalogue(code):
            if not message.id or not message.string:
                continue
            ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
            strings = message.string
            strings = strings if isinstance(strings, tuple | list) else (strings,)
            wanted = set(i18n.PLACEHOLDER.findall(str(ids[-1])))
            for string in strings:
                assert set(i18n.PLACEHOLDER.findall(str(string))) == wanted, (code, message.id)
