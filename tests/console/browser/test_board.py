"""The bed board's actions in a real browser: a shelter worker, at her desk and on a phone,
is refused a hold beyond 24 hours with the problem shown and nothing held, then takes a bed out
of service with its reason (axe, width and a screenshot on each page, as every browser test)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.console.browser.conftest import LoginAs, OpenPage
from tests.console.browser.helpers import visit, watch_of


def test_a_worker_is_refused_a_long_hold_and_takes_a_bed_out_of_service(
    open_page: OpenPage, login_as: LoginAs
) -> None:
    for width, name in ((1280, "desktop"), (360, "phone")):
        page = open_page(width=width, height=900)
        watch_of(page).allow(r"status of 422 .*/holds\)$")  # the refused form, answered 422
        login_as(page, "shelter@sos-north.example.org")
        page.get_by_role("link", name=re.compile("bed board", re.IGNORECASE)).first.click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Bed board of")
        visit(page, f"board-{name}-1")
        held_before = page.locator("li.bed.held").count()
        hold = page.locator("form", has=page.locator("#hold-bed"))
        hold.locator("#hold-until").fill("2099-01-01T00:00")
        hold.locator("#hold-note").fill("Police bringing her")
        hold.get_by_role("button", name="Hold the bed").click()
        expect(page.locator(".problem")).to_contain_text("Please check what you entered.")
        expect(page.locator("#hold-note")).to_have_value("Police bringing her")
        assert page.locator("li.bed.held").count() == held_before
        visit(page, f"board-{name}-2-hold-refused")
    out = page.locator("form", has=page.locator("#out-bed"))
    out.locator("#out-reason").fill("Mould on the wall")
    out.get_by_role("button", name="Take out of service").click()
    expect(page.get_by_text("The bed is out of service.")).to_be_visible()
    expect(page.locator("li.bed.out").filter(has_text="Mould on the wall")).to_have_count(1)
    visit(page, "board-phone-3-out-of-service")
