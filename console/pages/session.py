"""Signing in and out: login, the second factor, a new password, the language, the home page.

Each step calls what the API's own routes call (`core.auth.login`, `core.second_factor`,
`core.users`), with the same policies; only the answers are pages instead of JSON.
"""

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from console import i18n
from console.forms import Form, values
from console.render import LANGUAGE_COOKIE, PREFIX, page, redirect, view_of
from core import router as core_router
from core import second_factor, second_factor_router, users
from core.access import Public, authenticate
from core.auth import SESSION_COOKIE, login, logout, set_session_cookie
from core.context import Context
from core.deps import ClockDep, HasherDep, RequestIdDep, SessionDep, SettingsDep
from core.errors import AppError, InvalidInput
from core.models import AuthSession, User
from core.routing import Router
from core.throttle import source_of

router = Router(prefix=PREFIX, include_in_schema=False)

# The gates of the API's own session routes: any signed-in person (the password step comes
# before anything else), and for the second factor any signed-in person, before it is passed.
AnyUser = core_router.AnyUser
SessionUser = second_factor_router.SessionUser


def _safe_next(target: str | None) -> str:
    """Where to go after login: only a console path of this server."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//"):
        return target
    return PREFIX + "/"


@router.get("", dependencies=[Public])
def root() -> RedirectResponse:
    return RedirectResponse(PREFIX + "/", status_code=307)


@router.get("/")
def home(request: Request, ctx: AnyUser) -> Response:
    """Her first page: the first thing her roles open, or a welcome with her menu."""
    if ctx.principal.must_change_password:
        return redirect(PREFIX + "/password")
    view = view_of(request, ctx)
    if view.nav:
        return redirect(view.nav[0].href)
    return page(view, "home.html")


@router.get("/login", dependencies=[Public])
def login_page(request: Request, next: str | None = None) -> Response:
    return page(view_of(request, None), "login.html", next=_safe_next(next), failed=None)


@router.post("/login", dependencies=[Public])
def login_form(
    request: Request,
    form: Form,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    hasher: HasherDep,
    request_id: RequestIdDep,
) -> Response:
    data = values(form)
    view = view_of(request, None)
    target = _safe_next(data.get("next"))
    peer = request.client.host if request.client else None
    result = login(
        session,
        now=clock.now(),
        settings=settings,
        hasher=hasher,
        email=str(data.get("email", ""))[:254],
        password=str(data.get("password", ""))[:256],
        request_id=request_id,
        source=source_of(peer, request.headers.get("x-forwarded-for"), settings.trusted_proxies),
    )
    if result.retry_after is not None:
        seconds = max(1, int(result.retry_after.total_seconds()) + 1)
        return page(view, "login.html", 429, next=target, failed="throttled", seconds=seconds)
    if result.token is None or result.principal is None:
        # Answered, not raised: the failure's record and the throttle's count must commit.
        return page(view, "login.html", 401, next=target, failed="wrong")
    response = redirect(target)
    set_session_cookie(response, result.token, settings)
    return response


@router.post("/logout")
def logout_form(form: Form, ctx: AnyUser) -> Response:
    logout(ctx.session, now=ctx.now, principal=ctx.principal)
    response = redirect(PREFIX + "/login", done="logged_out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _mine(ctx: Context) -> tuple[User, AuthSession]:
    user = ctx.session.get(User, ctx.user_id)
    auth_session = ctx.session.get(AuthSession, ctx.principal.session_id)
    if user is None or auth_session is None:
        raise InvalidInput("Your session has ended; please log in again.")
    return user, auth_session


@router.get("/second-factor")
def second_factor_page(request: Request, ctx: SessionUser) -> Response:
    """Enter the authenticator's code; or, not yet set up, start setting it up."""
    factor = second_factor.factor_of(ctx.session, ctx.user_id)
    enrolled = factor is not None and factor.confirmed_at is not None
    return page(view_of(request, ctx), "second_factor.html", enrolled=enrolled, failed=None)


@router.post("/second-factor")
def second_factor_form(request: Request, form: Form, ctx: SessionUser) -> Response:
    code = str(values(form).get("code", ""))[:32]
    user, auth_session = _mine(ctx)
    result = second_factor.verify(ctx.act, user, auth_session, code)
    if result.ok:
        return redirect(PREFIX + "/")
    if result.session_ended:
        response = redirect(PREFIX + "/login", done="second_factor_ended")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
    view = view_of(request, ctx)
    return page(view, "second_factor.html", 401, enrolled=True, failed="wrong")


@router.post("/second-factor/enrol")
def enrol_form(request: Request, form: Form, ctx: SessionUser) -> Response:
    user, _ = _mine(ctx)
    found = second_factor.enrol(ctx.act, user)
    return page(
        view_of(request, ctx), "enrol.html", secret=found.secret, uri=found.uri, failed=None
    )


@router.post("/second-factor/confirm")
def confirm_form(request: Request, form: Form, ctx: SessionUser) -> Response:
    user, auth_session = _mine(ctx)
    try:
        codes = second_factor.confirm(
            ctx.act, user, auth_session, str(values(form).get("code", ""))
        )
    except AppError as exc:
        again = second_factor.pending(ctx.session, user, ctx.cipher)
        if again is None:
            raise
        view = view_of(request, ctx)
        return page(
            view, "enrol.html", exc.status_code, secret=again.secret, uri=again.uri, failed="wrong"
        )
    return page(view_of(request, ctx), "recovery_codes.html", codes=codes)


@router.get("/password")
def password_page(request: Request, ctx: AnyUser) -> Response:
    return page(view_of(request, ctx), "password.html", failed=None)


@router.post("/password")
def password_form(
    request: Request, form: Form, ctx: AnyUser, settings: SettingsDep, hasher: HasherDep
) -> Response:
    data = values(form)
    user, _ = _mine(ctx)
    try:
        users.change_own_password(
            ctx.session,
            now=ctx.now,
            settings=settings,
            hasher=hasher,
            user=user,
            current_password=str(data.get("current_password", ""))[:256],
            new_password=str(data.get("new_password", ""))[:256],
            keep_session=ctx.principal.session_id,
            actor=ctx.actor,
        )
    except AppError as exc:
        view = view_of(request, ctx)
        return page(view, "password.html", exc.status_code, failed=exc.message)
    return redirect(PREFIX + "/", done="password_changed")


@router.post("/language", dependencies=[Public])
def language_form(
    request: Request,
    form: Form,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """Choose the language: kept on the account when signed in, and in this browser."""
    data = values(form)
    chosen = i18n.language(str(data.get("language", "")))
    target = _safe_next(str(data.get("next", "")))
    try:
        principal = authenticate(request, session, clock, settings)
    except AppError:
        principal = None
    if principal is not None and principal.user_id is not None:
        user = session.get(User, principal.user_id)
        if user is not None:
            user.locale = chosen.code
            session.add(user)
    response = redirect(target)
    response.set_cookie(
        LANGUAGE_COOKIE, chosen.code, max_age=365 * 24 * 3600, samesite="lax", path=PREFIX
    )
    return response
