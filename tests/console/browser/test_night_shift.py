"""The night shift (issue 13), in a real browser on a 360 px screen, in English and once in
Montenegrin Cyrillic:

a counselor logs in, sees a missed call, marks it not safe to call back and closes another with
an outcome; a shelter worker admits a woman with two children, one under three, sees the CSW
referral preview and the three clocks; a supervisor approves an extension with a justification;
a CSW officer opens the inbox and records a decision; the stay's page shows it.

Each run has data of its own (seeded missed calls and extension, its own admission), so the two
languages never meet. Elements are found by ids, names and form actions (the same in every
language); texts are compared with what the console's catalogue says in the run's language.
axe-core runs on every page visited; each is kept as a screenshot.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

import console.pages  # noqa: F401 (registers every page's messages, as the app does)
from console.pages.shelters_common import CSW_OUTCOME, EXTENSION_STATUS, TEAM
from console.render import DONE_MESSAGES
from core.clock import SystemClock
from referrals.models import Outcome, Team
from shelters.models import CswOutcome, ExtensionStatus
from tests.console.browser.conftest import BROWSER_LOCALES, LANGUAGES, Live, LoginAs, OpenPage
from tests.console.browser.helpers import submit, t, visit
from tests.console.browser.seed import CALLERS, CSW, JUSTIFICATION, LINE, SHELTER_ORG, YOUTH_HOUSE

COUNSELOR = "counselor@sos-north.example.org"
SHELTER_WORKER = "shelter@shelter-south.example.org"
SUPERVISOR = "supervisor@sos-north.example.org"
OFFICER = "officer@csw.example.org"
SAFE_HOUSE = "Demo Safe House"
HTML_LANG = {"en": "en", "sr_Cyrl": "sr-Cyrl-ME"}
# Fictional people, named in the run's script.
FAMILY = {
    "en": ("Demo Mother Ana", "Demo Toddler Iva", "Demo Child Luka"),
    "sr_Cyrl": ("Демо Мајка Ана", "Демо Беба Ива", "Демо Дијете Лука"),
}
DECISION_NOTE = "The social worker confirmed the housing date; four more nights are needed."


def _h1(page: Page, lang: str, message: str, **values: object) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(t(lang, message, **values))


def _flash(page: Page, lang: str, done: str) -> None:
    """The page after a form says what happened (`?done=<key>`, the console's message)."""
    expect(page).to_have_url(re.compile(rf"\?done={done}$"))
    expect(page.get_by_role("status")).to_have_text(t(lang, DONE_MESSAGES[done]))


def _signed_in(open_page: OpenPage, login_as: LoginAs, lang: str, email: str) -> Page:
    page = open_page(locale=BROWSER_LOCALES[lang])
    login_as(page, email)
    expect(page.locator("html")).to_have_attribute("lang", HTML_LANG[lang])
    return page


def counselor_clears_missed_calls(
    open_page: OpenPage, live: Live, login_as: LoginAs, lang: str
) -> None:
    first, second = live.seeded.runs[lang].tasks
    page = _signed_in(open_page, login_as, lang, COUNSELOR)
    expect(page).to_have_url(f"{live.base_url}{live.org(LINE)}/duty")
    _h1(page, lang, "On duty")
    missed = page.locator(f"section[aria-labelledby='task-{first}']")
    other = page.locator(f"section[aria-labelledby='task-{second}']")
    expect(missed).to_be_visible()
    expect(other).to_be_visible()
    expect(missed.locator(".tag.unknown")).to_have_text(t(lang, "Unknown"))
    visit(page, f"night-{lang}-01-counselor-duty")
    with page.expect_navigation():
        missed.locator("a[href*='/calls/']").click()
    expect(page).to_have_url(re.compile(r"/calls/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    call = page.locator("main dl.facts")
    expect(call.locator(".tag.no")).to_have_text(t(lang, "No"))  # nobody answered it
    expect(page.locator("body")).not_to_contain_text(CALLERS[0])  # only its last two digits
    expect(call).to_contain_text(CALLERS[0][-2:])
    visit(page, f"night-{lang}-02-missed-call")
    page.go_back()

    missed.locator(f"#safe-{first}-no").check()
    submit(page, f"form[action$='/duty/tasks/{first}']")
    _flash(page, lang, "task_saved")
    expect(missed.locator(f"#safe-{first}-no")).to_be_checked()
    expect(missed.locator(".tag.no")).to_have_text(t(lang, "No"))
    visit(page, f"night-{lang}-03-not-safe-to-call-back")

    page.locator(f"#outcome-{second}").select_option("reached")
    submit(page, f"form[action$='/duty/tasks/{second}/close']")
    _flash(page, lang, "task_closed")
    expect(other).to_have_count(0)
    expect(missed).to_be_visible()
    visit(page, f"night-{lang}-04-task-closed")


def _fill_admission(page: Page, lang: str) -> None:
    mother, toddler, child = FAMILY[lang]
    page.locator("#client-name").fill(mother)
    page.locator("#client-sex").select_option("female")
    page.locator("#client-age").fill("29")
    for row, (name, sex, age) in enumerate(((toddler, "female", "2"), (child, "male", "7"))):
        page.locator(f"#children-{row}-name").fill(name)
        page.locator(f"#children-{row}-sex").select_option(sex)
        page.locator(f"#children-{row}-age").fill(age)
    page.locator("#channel").select_option("police")
    page.locator("#municipality").select_option("Podgorica")
    page.locator("#group").select_option("women_with_children")
    page.locator("#consent-identity").check()
    page.locator("#consent-children").check()


def shelter_worker_admits(open_page: OpenPage, live: Live, login_as: LoginAs, lang: str) -> Page:
    """The admission, through its preview; the worker's page, left on the new stay."""
    org, house = live.org(SHELTER_ORG), live.seeded.shelters[SAFE_HOUSE]
    page = _signed_in(open_page, login_as, lang, SHELTER_WORKER)
    expect(page).to_have_url(f"{live.base_url}{org}/shelters")
    visit(page, f"night-{lang}-05-shelters")
    with page.expect_navigation():
        page.locator(f"main a[href='{org}/shelters/{house}/admit']").click()
    _h1(page, lang, "Admission to %(shelter)s", shelter=SAFE_HOUSE)
    _fill_admission(page, lang)
    visit(page, f"night-{lang}-06-admission-form")
    with page.expect_navigation():
        page.locator("button[name=action][value=preview]").click()

    previews = page.locator("li.referral-preview")
    expect(previews).to_have_count(2)
    for team in (Team.GENERAL, Team.CHILD_PROTECTION):
        sentence = t(
            lang,
            "This admission will send a referral to %(csw)s (%(team)s team).",
            csw=CSW,
            team=t(lang, TEAM[team]),
        )
        expect(previews.filter(has_text=sentence)).to_have_count(1)
    mother = FAMILY[lang][0]
    expect(page.locator("main")).to_contain_text(mother)
    visit(page, f"night-{lang}-07-referral-preview")
    with page.expect_navigation():
        page.locator("button[name=action][value=save]").click()

    expect(page).to_have_url(
        re.compile(rf"{org}/shelters/{house}/stays/[0-9a-f-]{{36}}\?done=admitted(_split)?$")
    )
    clocks = page.locator("ul.clocks > li")
    expect(clocks).to_have_count(3)
    for index, label in enumerate(
        (
            "Needs assessment (within 24 hours)",
            "Planned end of the stay",
            "Decision of the Centre for Social Work due",
        )
    ):
        expect(clocks.nth(index).locator("strong")).to_have_text(t(lang, label))
        expect(clocks.nth(index).locator("time[data-countdown]")).to_have_count(1)
    expect(page.locator("table")).to_contain_text(mother)
    visit(page, f"night-{lang}-08-stay-admitted")
    return page


def supervisor_approves_extension(
    open_page: OpenPage, live: Live, login_as: LoginAs, lang: str
) -> None:
    run = live.seeded.runs[lang]
    page = _signed_in(open_page, login_as, lang, SUPERVISOR)
    nav = page.get_by_role("navigation", name=t(lang, "Main menu"))
    with page.expect_navigation():
        nav.locator("a[href$='/attention']").click()
    expect(page).to_have_url(f"{live.base_url}{live.org(LINE)}/attention")
    _h1(page, lang, "What needs your attention")
    form = page.locator(f"form[action$='/extensions/{run.extension}/approve']")
    card = page.locator("div.card", has=form)
    expect(card).to_contain_text(JUSTIFICATION)
    visit(page, f"night-{lang}-09-attention")
    page.locator(f"#note-{run.extension}").fill(DECISION_NOTE)
    submit(page, f"form[action$='/extensions/{run.extension}/approve']")
    _flash(page, lang, "extension_approved")
    expect(form).to_have_count(0)
    visit(page, f"night-{lang}-10-extension-approved")

    house = live.seeded.shelters[YOUTH_HOUSE]
    page.goto(f"{live.org(LINE)}/shelters/{house}/stays/{run.extension_stay}")
    row = page.locator("tr", has_text=JUSTIFICATION)
    expect(row.locator(".tag")).to_have_text(t(lang, EXTENSION_STATUS[ExtensionStatus.APPROVED]))
    expect(row).to_contain_text(DECISION_NOTE)
    visit(page, f"night-{lang}-11-extended-stay")


def _general_referral(stay: Page, lang: str) -> str:
    """The heading of the stay's referral to the CSW's general team (its reference unknown)."""
    team = t(lang, TEAM[Team.GENERAL])
    heading = t(lang, "Referral %(reference)s (%(team)s team)", reference="REFERENCE", team=team)
    pattern = re.escape(heading).replace("REFERENCE", r"\S+")
    [found] = [h for h in stay.locator("li.card h3").all_inner_texts() if re.fullmatch(pattern, h)]
    return found


def officer_records_decision(
    open_page: OpenPage, live: Live, login_as: LoginAs, lang: str, heading: str, number: str
) -> None:
    page = _signed_in(open_page, login_as, lang, OFFICER)
    expect(page).to_have_url(f"{live.base_url}/console/inbox")
    _h1(page, lang, "Referrals inbox")
    visit(page, f"night-{lang}-12-inbox")
    team = t(lang, TEAM[Team.GENERAL])
    links = page.locator("main table tbody tr td:first-child a")
    [reference] = [
        r
        for r in links.all_inner_texts()
        if t(lang, "Referral %(reference)s (%(team)s team)", reference=r, team=team) == heading
    ]
    with page.expect_navigation():
        links.filter(has_text=reference).click()
    _h1(page, lang, "Referral %(reference)s", reference=reference)
    visit(page, f"night-{lang}-13-referral")

    today = SystemClock().now().astimezone(ZoneInfo("Europe/Podgorica")).date()
    page.locator("#outcome").select_option(Outcome.OTHER_MEASURE.value)
    page.locator("#decision_date").fill(today.isoformat())
    page.locator("#decision_number").fill(number)
    page.locator("#decision_note").fill("Counselling and a social worker's visit within a week.")
    submit(page, "form[action$='/decision']")
    expect(page).to_have_url(re.compile(r"/console/inbox/[0-9a-f-]{36}\?done=referral_decided$"))
    _flash(page, lang, "referral_decided")
    expect(page.locator("main")).to_contain_text(number)
    visit(page, f"night-{lang}-14-decision-recorded")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_night_shift(open_page: OpenPage, live: Live, login_as: LoginAs, lang: str) -> None:
    counselor_clears_missed_calls(open_page, live, login_as, lang)
    stay = shelter_worker_admits(open_page, live, login_as, lang)
    supervisor_approves_extension(open_page, live, login_as, lang)
    number = f"{lang.upper()}-0412/26"
    officer_records_decision(open_page, live, login_as, lang, _general_referral(stay, lang), number)

    # The worker's page, still open on the stay: it shows the decision.
    stay.reload()
    outcome = t(lang, CSW_OUTCOME[CswOutcome.OTHER_MEASURE])
    decided = stay.locator("main > dl.facts > dt").filter(
        has_text=t(lang, "Decision of the Centre for Social Work")
    )
    expect(decided.locator("xpath=following-sibling::dd[1]").locator(".tag")).to_have_text(outcome)
    expect(stay.locator("ul.clocks > li").nth(2).locator(".tag")).to_have_text(t(lang, "Decided"))
    general = stay.locator("li.card", has_text=_general_referral(stay, lang))
    expect(general).to_contain_text(t(lang, "number %(number)s", number=number))
    visit(stay, f"night-{lang}-15-stay-shows-decision")
