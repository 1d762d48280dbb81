"""What browser tests do on a page: log in, check accessibility with axe-core, keep a screenshot,
and watch that the page says no error and asks no other host for anything."""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import ConsoleMessage, Page, Request, expect

from console import i18n

ROOT = Path(__file__).resolve().parents[3]
# The npm registry's axe-core (package.json), not the copy bundled with the Python package.
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "test-artifacts" / "screenshots"
BLOCKING = frozenset({"serious", "critical"})
LOCAL_HOSTS = frozenset({"127.0.0.1"})
# Chromium asks every site for /favicon.ico by itself and logs the 404 as a console error; the
# pages name no icon (base.html has no <link rel="icon">). Not a request of the page's own.
BROWSER_NOISE = (re.compile(r"status of 404 .*\(http://127\.0\.0\.1:\d+/favicon\.ico\)$"),)


@dataclass
class Watch:
    """Everything a page complained about, and every request that left this machine."""

    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    inaccessible: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=lambda: list(BROWSER_NOISE))

    def allow(self, pattern: str) -> None:
        """A console error this test expects (e.g. the browser logging a 401 answer)."""
        self.allowed.append(re.compile(pattern))

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    def on_page_error(self, error: Exception) -> None:
        self.console_errors.append(f"uncaught: {error}")

    def on_request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if parts.hostname not in LOCAL_HOSTS:
            self.foreign_requests.append(request.url)

    def problems(self) -> list[str]:
        errors = [e for e in self.console_errors if not any(p.search(e) for p in self.allowed)]
        return [
            *(f"console: {e}" for e in errors),
            *(f"left: {u}" for u in self.foreign_requests),
            *(f"axe: {a}" for a in self.inaccessible),
        ]


_watches: weakref.WeakKeyDictionary[Page, Watch] = weakref.WeakKeyDictionary()


def watch(page: Page) -> Watch:
    found = Watch()
    page.on("console", found.on_console)
    page.on("pageerror", found.on_page_error)
    page.context.on("request", found.on_request)
    _watches[page] = found
    return found


def watch_of(page: Page) -> Watch:
    """What is being watched on a page opened by the `open_page` fixture."""
    return _watches[page]


def submit(page: Page, form: str = "main form") -> None:
    """Submit the form's (first) submit button and wait for the answer page."""
    with page.expect_navigation():
        page.locator(form).locator("button[type=submit]").first.click()


SIGNED_IN = re.compile(r"/console/(?!login|second-factor|password)")


def password_step(page: Page, email: str, password: str) -> None:
    """The login page (by ids: the same in every language)."""
    page.goto("/console/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    submit(page)


def second_factor_step(page: Page, totp: str) -> None:
    """The second-factor page: where the console sent her, or opened by her (the console asks
    for it only before case content); it lands on her first page."""
    if not re.search(r"/console/second-factor$", page.url):
        page.goto("/console/second-factor")
    page.locator("#code").fill(totp)
    submit(page)
    expect(page).to_have_url(SIGNED_IN)


def login(page: Page, email: str, password: str, totp: str | None) -> None:
    """Log in through the console's pages: password, then (with a code) the second factor."""
    password_step(page, email, password)
    expect(page).to_have_url(re.compile(r"/console/"))
    if totp is not None:
        second_factor_step(page, totp)
    else:
        expect(page).to_have_url(SIGNED_IN)


@cache
def _axe() -> Axe:
    return Axe(axe_script=AXE_SCRIPT.read_text(encoding="utf-8"))


def accessibility_problems(page: Page) -> list[str]:
    """axe-core on the page as it is: its serious and critical violations."""
    results: dict[str, Any] = _axe().run(page).response
    return [
        f"{page.url}: {v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(node["target"]) for node in v["nodes"][:5])
        for v in results["violations"]
        if v.get("impact") in BLOCKING
    ]


def check_accessibility(page: Page) -> None:
    """No serious or critical axe violation on the page. Recorded, and failed when the test
    body ends (conftest's `pytest_runtest_call`), so that a script runs to its end and every
    page's problems are listed (and screenshotted) at once."""
    _watches[page].inaccessible.extend(accessibility_problems(page))


def screenshot(page: Page, name: str) -> Path:
    """The whole page as a PNG test artifact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def t(lang: str, message: str, **values: object) -> str:
    """A message as the console shows it in `lang` (its catalogue, as the templates use it)."""
    with i18n.use(i18n.language(lang)):
        text = i18n.gettext(message)
    return text % values if values else text


WIDER_THAN_SCREEN = "() => document.documentElement.scrollWidth - window.innerWidth"


def check_fits(page: Page) -> None:
    """The page fits the screen's width (wide tables scroll inside their .table-wrap):
    recorded, and failed when the test ends, as accessibility problems are."""
    overflow = int(page.evaluate(WIDER_THAN_SCREEN))
    if overflow > 0:
        _watches[page].inaccessible.append(f"{page.url}: {overflow} px wider than the screen")


def visit(page: Page, name: str) -> None:
    """A page of a script: axe on it, its width, and its screenshot."""
    check_accessibility(page)
    check_fits(page)
    screenshot(page, name)
