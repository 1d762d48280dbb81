"""Pages: the Jinja2 environment, what every page knows about its reader (`View`), and answers.

A page is rendered for one reader: her language, her organisation's time zone, her roles (which
decide only the navigation: what she may open is decided by the same gates as the API), the
form token of her browser and when her session ends if she stays idle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from sqlalchemy import Uuid, bindparam
from sqlmodel import col, select

from console import i18n, security
from console.i18n import Formats, Language
from core.auth import Principal
from core.context import Context
from core.models import Organisation, OrganisationKind, Role, User
from referrals.deps import KEEP_TEAM

PREFIX = "/console"
LANGUAGE_COOKIE = "sigurna_lang"


def N_(message: str) -> str:
    """Mark a message for the catalogues; it is translated where it is shown."""
    return message


# What the page after a form says happened (`?done=<key>`): known keys only, never input.
DONE_MESSAGES: dict[str, str] = {
    "logged_out": N_("You are logged out."),
    "second_factor_ended": N_("Too many wrong codes: the session has ended. Log in again."),
    "password_changed": N_("Your new password is saved."),
}


def done_messages(messages: dict[str, str]) -> None:
    """A page module's messages after its forms; a key may mean only one sentence."""
    for key, message in messages.items():
        if DONE_MESSAGES.setdefault(key, message) != message:
            raise ValueError(f"the message key {key!r} already says something else")


environment = Environment(
    loader=PackageLoader("console", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
    # Templates are read once: a page does not stat four files to learn that none changed.
    auto_reload=False,
)
environment.install_gettext_callables(  # type: ignore[attr-defined]
    i18n.gettext, i18n.ngettext, newstyle=True
)


def _translate(message: str, **variables: Any) -> Markup:
    """`_()` in a template: what Jinja's newstyle gettext gives where output is escaped (every
    template here), the message as markup with its values escaped into it; but a plain function,
    so that a call in a loop does not copy the page's context first (Jinja does, for a function
    that takes it: some 70 copies a bed board)."""
    # The message is ours (the catalogues, as Jinja's own gettext trusts them); values escaped.
    return Markup(i18n.gettext(message)) % variables  # noqa: S704


environment.globals["_"] = _translate
# A message that is data rather than a template's words (a risk instrument's questions, from
# its JSON, in the catalogues by `console.catalogue.extract`): translated, never %-formatted.
environment.filters["tr"] = i18n.gettext
environment.globals["languages"] = i18n.LANGUAGES
environment.globals["PREFIX"] = PREFIX
environment.globals["done_messages"] = DONE_MESSAGES
# A page's labels translated once, for a table that shows them on every row.
environment.globals["translated"] = lambda labels: {
    key: i18n.gettext(message) for key, message in labels.items()
}


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str  # a msgid; the template translates it
    key: str


def navigation(principal: Principal | None) -> list[NavItem]:
    """The reader's menu: only what her roles can open (the gates decide, this only points)."""
    if principal is None or principal.user_id is None:
        return []
    org = f"{PREFIX}/o/{principal.organisation_id}"
    roles = principal.roles
    items: list[NavItem] = []

    def add(key: str, href: str, label: str, *allowed: Role) -> None:
        if roles & set(allowed):
            items.append(NavItem(href, label, key))

    add("duty", f"{org}/duty", "On duty", Role.COUNSELOR, Role.SUPERVISOR)
    add("calls", f"{org}/calls", "Call log", Role.COUNSELOR, Role.SUPERVISOR)
    add("rota", f"{org}/rota", "Rota", Role.SUPERVISOR)
    add("attention", f"{org}/attention", "Attention", Role.SUPERVISOR)
    add("shelters", f"{org}/shelters", "Shelters", Role.SHELTER_STAFF, Role.SUPERVISOR)
    add("inbox", f"{PREFIX}/inbox", "Referrals inbox", Role.CSW_OFFICER)
    if principal.organisation_kind is OrganisationKind.CSW:
        add("team", f"{PREFIX}/child-protection-team", "Child-protection team", *KEEP_TEAM.roles)
    add("cases", f"{org}/cases", "Cases", Role.COUNSELOR, Role.SUPERVISOR, Role.SHELTER_STAFF)
    add("notifications", f"{org}/notifications", "Notifications", Role.SUPERVISOR)
    add("users", f"{org}/users", "Users", Role.ADMIN)
    add("hotlines", f"{org}/hotlines", "Hotlines", Role.ADMIN)
    return items


@dataclass(frozen=True)
class View:
    """What a page knows of its reader."""

    request: Request
    lang: Language
    formats: Formats
    csrf_token: str
    principal: Principal | None = None
    email: str | None = None
    organisation: str | None = None
    nav: list[NavItem] = field(default_factory=list)
    now: datetime | None = None

    @property
    def org_prefix(self) -> str:
        if self.principal is None:
            return PREFIX
        return f"{PREFIX}/o/{self.principal.organisation_id}"

    @property
    def expires_at(self) -> datetime | None:
        return self.principal.session_expires_at if self.principal else None

    def has(self, *roles: Role) -> bool:
        return self.principal is not None and bool(self.principal.roles & set(roles))


def language_of(request: Request, locale: str | None = None) -> Language:
    """The account's language (`locale`); before login the browser's cookie, then its
    Accept-Language."""
    if locale:
        return i18n.language(locale)
    cookie = request.cookies.get(LANGUAGE_COOKIE)
    if cookie in i18n.BY_CODE:
        return i18n.language(cookie)
    return i18n.negotiate(request.headers.get("accept-language"))


def _reader_query() -> Any:
    """Her e-mail address and language, her organisation's name and time zone: one query."""
    return (
        select(col(User.email), col(User.locale), col(Organisation.name), Organisation.time_zone)
        .join(Organisation, col(Organisation.id) == col(User.organisation_id))
        .where(col(User.id) == bindparam("user_id", type_=Uuid))
    )


READER_QUERY = _reader_query()


def view_of(request: Request, ctx: Context | None) -> View:
    """The reader of this request (`ctx` is None on the pages before login; an API token's
    caller, which the API's gates may admit, is a reader without an account or a menu)."""
    zone = ZoneInfo(request.app.state.settings.default_time_zone)
    if ctx is None:
        lang = language_of(request)
        return View(request, lang, Formats(lang, zone), security.form_token(request))
    principal = ctx.principal
    email = locale = organisation_name = None
    if principal.user_id is not None:
        found = (
            ctx.session.connection().execute(READER_QUERY, {"user_id": principal.user_id}).first()
        )
        if found is not None:
            email, locale, organisation_name, time_zone = found
            zone = ZoneInfo(time_zone)
    else:
        organisation = ctx.session.get(Organisation, principal.organisation_id)
        if organisation is not None:
            organisation_name, zone = organisation.name, ZoneInfo(organisation.time_zone)
    lang = language_of(request, locale)
    return View(
        request,
        lang,
        Formats(lang, zone),
        security.form_token(request),
        principal,
        email,
        organisation_name,
        navigation(principal),
        ctx.now,
    )


def page(view: View, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """A page in the reader's language, never cached, with the browser's form token set."""
    with i18n.use(view.lang):
        body = environment.get_template(template).render(view=view, fmt=view.formats, **values)
    response = HTMLResponse(body, status_code=status)
    security.remember_form_token(view.request, response)
    return response


def redirect(path: str, **query: str) -> RedirectResponse:
    """After a form: see the result on a page of its own (POST, redirect, GET)."""
    target = path + ("?" + urlencode(query) if query else "")
    return RedirectResponse(target, status_code=303)
