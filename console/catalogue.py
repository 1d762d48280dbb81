"""The console's gettext catalogues: extract every message, merge it into each language, check.

    python -m console.catalogue update   # new messages into sr_Latn and sq (untranslated)
    python -m console.catalogue check    # exit 1 and list what a language lacks

Messages come from the templates (`_()`, `{% trans %}`), the console's Python (`_`, `N_`,
`gettext`) and the risk instruments the case pages show (`safety_plans/instruments/*.json`: each
title and question, which a template shows with `|tr`). The Cyrillic catalogue is the Latin one
transliterated (console.i18n), so it has no file of its own.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from console.i18n import DOMAIN, LOCALE_DIR
from safety_plans.risk import INSTRUMENTS

ROOT = Path(__file__).parent
EDITED = ("sr_Latn", "sq")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
METHODS = [("templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}


def extract() -> Catalog:
    """Every message the console can show."""
    catalogue = Catalog(project="sigurna-console", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        ROOT, METHODS, OPTIONS, KEYWORDS, strip_comment_tags=True
    ):
        catalogue.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    for path in sorted(INSTRUMENTS.glob("*.json")):
        tool = json.loads(path.read_text(encoding="utf-8"))
        where = [(f"safety_plans/instruments/{path.name}", 0)]
        catalogue.add(tool["title"], None, where, auto_comments=["risk instrument: its title"])
        for question in tool["questions"]:
            note = f"risk instrument: question {question['id']}; say it as a counselor asks it"
            catalogue.add(question["text"], None, where, auto_comments=[note])
    return catalogue


def _path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(code: str) -> Catalog:
    path = _path(code)
    if not path.exists():
        return Catalog(locale=code, project="sigurna-console", fuzzy=False)
    with path.open("rb") as handle:
        return read_po(handle, locale=code)


def update() -> None:
    """Add new messages to each edited language and drop those no page uses any more."""
    template = extract()
    for code in EDITED:
        catalogue = read(code)
        catalogue.update(template, no_fuzzy_matching=True)
        catalogue.obsolete.clear()
        path = _path(code)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalogue, width=100, omit_header=False, sort_output=True)


def missing() -> dict[str, list[str]]:
    """The messages each language lacks (or has marked fuzzy)."""
    template = extract()
    found: dict[str, list[str]] = {}
    for code in EDITED:
        catalogue = read(code)
        lacking = []
        for message in template:
            if not message.id:
                continue
            translated = catalogue.get(message.id, message.context)
            strings = translated.string if translated is not None else None
            parts = strings if isinstance(strings, tuple | list) else (strings,)
            if translated is None or translated.fuzzy or not all(parts):
                lacking.append(str(message.id))
        found[code] = sorted(lacking)
    return found


def main(argv: list[str]) -> int:
    if argv[:1] == ["update"]:
        update()
        return 0
    if argv[:1] == ["check"]:
        problems = {code: ids for code, ids in missing().items() if ids}
        for code, ids in problems.items():
            print(f"{code}: {len(ids)} untranslated", *ids, sep="\n  ")  # noqa: T201
        return 1 if problems else 0
    print(__doc__)  # noqa: T201
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
