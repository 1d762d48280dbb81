"""Browser fixtures: one real server (its own database, demo data, seeds) and one Chromium for
the whole browser suite (package-scoped: both stop when its last test has run); a fresh browser
context per page a test opens, watched for console errors, requests that leave this machine and
axe-core's serious or critical violations."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.console.browser.helpers import (
    SIGNED_IN,
    Watch,
    password_step,
    second_factor_step,
    watch,
)
from tests.console.browser.seed import Seeded, seed
from tests.console.browser.server import (
    Accounts,
    database,
    environment,
    free_port,
    read_accounts,
    run_command,
    serve,
    server_environment,
)

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking switches Chromium tries hosts of its own, which this
# machine's closed network refuses (and which the tests would rightly count as leaks).
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
LANGUAGES = ("en", "sr_Cyrl")
# The locale a context announces (Accept-Language) for each console language.
BROWSER_LOCALES = {"en": "en-GB", "sr_Cyrl": "sr-Cyrl-ME"}
DUTY_VIEWPORT = {"width": 360, "height": 740}


@dataclass(frozen=True)
class Live:
    base_url: str
    accounts: Accounts
    seeded: Seeded
    log: Path

    def org(self, name: str) -> str:
        """The console's prefix of a demo organisation."""
        return f"/console/o/{self.seeded.organisations[name]}"


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("live-server")
    port = free_port()
    with database(folder) as url:
        env = server_environment(url, folder, port)
        run_command(env, "db", "upgrade")
        run_command(env, "demo", "load")
        with environment(env):
            seeded = seed(LANGUAGES)
        accounts = read_accounts(folder / "demo-credentials.txt")
        log = folder / "server.log"
        with serve(env, port, log) as base_url:
            yield Live(base_url, accounts, seeded, log)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Opened:
    page: Page
    watch: Watch


OpenPage = Callable[..., Page]
OPENED = pytest.StashKey[list[Opened]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A test that passed fails after all when a page it opened logged an error it did not
    expect, asked another host for anything, or had a serious accessibility problem (collected
    along the way, so that a script runs to its end and every page's problems show at once)."""
    result = yield
    problems = [p for o in item.stash.get(OPENED, []) for p in o.watch.problems()]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
    return result


@pytest.fixture
def open_page(request: pytest.FixtureRequest, live: Live, browser: Browser) -> Iterator[OpenPage]:
    """A new browser (context) on the live server, watched (see `pytest_runtest_call`)."""
    opened: list[Opened] = []
    request.node.stash[OPENED] = opened

    def new(locale: str = "en-GB", width: int = 360, height: int = 740) -> Page:
        context = browser.new_context(
            base_url=live.base_url,
            locale=locale,
            timezone_id="Europe/Podgorica",
            viewport={"width": width, "height": height},
            service_workers="block",
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        opened.append(Opened(page, watch(page)))
        return page

    yield new
    for o in opened:
        o.page.context.close()


@pytest.fixture
def page(open_page: OpenPage) -> Page:
    """A 360 px wide page in English."""
    return open_page()


class LoginAs(Protocol):
    def __call__(self, page: Page, email: str, *, second_factor: bool = True) -> None: ...


@pytest.fixture
def login_as(live: Live) -> LoginAs:
    """Log a page in as a demo account, with its password and (unless told not to) a fresh TOTP
    code when the account has a second factor."""

    def go(page: Page, email: str, *, second_factor: bool = True) -> None:
        account = live.accounts[email]
        password_step(page, email, account.password)
        if second_factor and account.totp_secret:
            second_factor_step(page, live.accounts.code(email))
        else:
            expect(page).to_have_url(SIGNED_IN)

    return go
