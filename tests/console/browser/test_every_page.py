"""Every console page in a real browser, as the people who open it reach it: each demo account
logs in and follows every link of her pages (her menu, the rows of her lists, a stay, a case, a
referral), and axe-core runs on each kind of page the first time one is reached: no serious or
critical violation. A link that leads to an error is a failure too (the watch fails the test on
any 4xx or 5xx the browser sees).

The console's GET pages are all reached this way, but those listed in NOT_REACHED, each with
why; a page added to the console without a way to it from the demo data fails the test."""

from __future__ import annotations

import re
from collections import Counter, deque
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.routing import _IncludedRouter
from playwright.sync_api import Page

from console.pages import router as console_router
from tests.console.browser.conftest import Live, LoginAs, OpenPage
from tests.console.browser.helpers import check_accessibility, screenshot

ACCOUNTS = (
    "admin@sos-north.example.org",
    "supervisor@sos-north.example.org",
    "counselor@sos-north.example.org",
    "shelter@sos-north.example.org",
    "supervisor@shelter-south.example.org",
    "officer@csw.example.org",
    "supervisor@csw.example.org",
)
# GET pages no link of the demo data leads to, and why (each is opened by a test of its own).
NOT_REACHED = {
    "/console/login": "before logging in (test_session)",
    "/console/second-factor": "the login's second step (test_session)",
    "/console/password": "only with a one-time password (test_session_pages)",
    "/console": "no page: a redirect to /console/",
    "/console/shared-cases/{case_id}": "a partner organisation's reader: the demo has none"
    " (test_case_access)",
}
# A form that only reads (method get) and is valid as the page fills it: where it leads.
GET_FORMS = """forms => forms.map(form => {
  if (!form.checkValidity()) return null;
  const url = new URL(form.action);
  new FormData(form).forEach((value, key) => url.searchParams.append(key, value));
  return url.href;
})"""
MAX_PAGES = 120  # an account's crawl: far more than any account's pages
PER_TEMPLATE = 2  # pages of one kind an account opens (two cases, two stays...)
SKIPPED = re.compile(r"^/console/(static/|logout)|\.ics$")


def _get_pages() -> dict[str, re.Pattern[str]]:
    """Each GET page of the console (its path template) and the paths it answers."""
    found: dict[str, re.Pattern[str]] = {}
    for route in _routes():
        methods = getattr(route, "methods", None) or set()
        if "GET" in methods:
            template = route.path_format
            pattern = re.sub(r"\{[^}]+\}", "[^/]+", template)
            found[template] = re.compile(f"^{pattern}$")
    return found


def _routes() -> list[Any]:
    """The console's routes as an app that includes them sees them (with their prefixes)."""
    app = FastAPI()
    app.include_router(console_router)
    routes: list[Any] = []
    for route in app.router.routes:
        if isinstance(route, _IncludedRouter):
            routes.extend(route.effective_route_contexts())
    return routes


def _template_of(path: str, pages: dict[str, re.Pattern[str]]) -> str | None:
    """The page a path opens (the most literal template that takes it)."""
    matching = [t for t, p in pages.items() if p.match(path)]
    return min(matching, key=lambda t: t.count("{")) if matching else None


def _links(page: Page, base_url: str) -> list[str]:
    hrefs: list[str] = page.eval_on_selector_all(
        "main a[href], header a[href], nav a[href]", "els => els.map(e => e.href)"
    )
    hrefs += [h for h in page.eval_on_selector_all("main form[method=get]", GET_FORMS) if h]
    found = []
    for href in hrefs:
        parts = urlsplit(href)
        if not href.startswith(base_url) or SKIPPED.search(parts.path):
            continue
        found.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return found


def test_every_page_is_reached_and_accessible(
    open_page: OpenPage, login_as: LoginAs, live: Live
) -> None:
    pages = _get_pages()
    checked: dict[str, str] = {}  # template -> the path it was checked on
    for email in ACCOUNTS:
        page = open_page(width=1280, height=900)
        login_as(page, email)
        queue = deque([urlsplit(page.url).path])
        seen: set[str] = set()
        opened: Counter[str] = Counter()  # template -> how many of its pages she opened
        while queue and len(seen) < MAX_PAGES:
            path = queue.popleft()
            template = _template_of(path.split("?")[0], pages)
            if path in seen or template is None or opened[template] >= PER_TEMPLATE:
                continue
            seen.add(path)
            opened[template] += 1
            response = page.goto(path)
            assert response is not None
            assert response.status == 200, (email, path, response.status)
            if template not in checked:
                checked[template] = path
                check_accessibility(page)
                name = re.sub(r"[^a-z0-9]+", "-", template.lower()).strip("-")
                screenshot(page, f"every-page-{name}")
            queue.extend(_links(page, live.base_url))
    missing = set(pages) - set(checked) - set(NOT_REACHED)
    assert missing == set(), sorted(missing)
    assert set(NOT_REACHED) <= set(pages)
