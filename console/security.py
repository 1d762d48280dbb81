"""The console's browser defences: form tokens (CSRF) and the response headers of every page.

Form tokens are the signed double-submit pattern (OWASP's recommendation for stateless
servers): the browser holds a random value in a `SameSite=Strict`, HttpOnly cookie, every form
carries the server's HMAC of it, and a form whose token does not match that cookie is refused
before its route runs (403, nothing changed). Another site can neither read the cookie nor
compute the HMAC without the server's key. The session cookie itself is `SameSite=Lax`.

Every console answer carries a Content-Security-Policy that allows only this server
(`default-src 'self'`, no inline script or style), forbids framing, and is never cached.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response
from starlette.datastructures import FormData, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.config import Mode, Settings
from core.errors import AppError

FORM_COOKIE = "sigurna_form"
FORM_FIELD = "csrf_token"
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
_STATE_KEY = "console_form_secret"


class FormExpired(AppError, status=403, code="form_expired"):
    """The form's token does not match this browser's: a forged or stale form."""


FORM_EXPIRED = (
    "This form has expired or did not come from this console; reload the page and try again."
)


def token_for(settings: Settings, browser_value: str) -> str:
    """The form token that goes with a browser's random value."""
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    key = hashlib.sha256(("console-form:" + secret).encode()).digest()
    return hmac.new(key, browser_value.encode(), "sha256").hexdigest()


def _browser_secret(request: Request) -> str:
    """This browser's random value: its cookie, or a new one this response will set."""
    found = getattr(request.state, _STATE_KEY, None)
    if found is None:
        found = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(32)
        setattr(request.state, _STATE_KEY, found)
    return str(found)


def form_token(request: Request) -> str:
    """The token this browser's forms carry."""
    return token_for(request.app.state.settings, _browser_secret(request))


def remember_form_token(request: Request, response: Response) -> None:
    """Set the browser's random value when it has none yet."""
    value = _browser_secret(request)
    if request.cookies.get(FORM_COOKIE) != value:
        response.set_cookie(
            FORM_COOKIE,
            value,
            httponly=True,
            samesite="strict",
            secure=request.app.state.settings.mode is not Mode.DEVELOPMENT,
            path="/console",
        )


def check_form(request: Request, form: FormData) -> None:
    """Refuse a form whose token is not this browser's (before anything is read or changed)."""
    cookie = request.cookies.get(FORM_COOKIE)
    sent = form.get(FORM_FIELD)
    if not cookie or not isinstance(sent, str):
        raise FormExpired(FORM_EXPIRED)
    if not hmac.compare_digest(sent, token_for(request.app.state.settings, cookie)):
        raise FormExpired(FORM_EXPIRED)


class HeadersMiddleware:
    """The console's pages and assets: this server only, no framing, no caching of pages.

    A plain ASGI middleware (not Starlette's `BaseHTTPMiddleware`, which would cost every API
    request a task and a stream): it only adds headers to answers under /console.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not (path == "/console" or path.startswith("/console/")):
            await self.app(scope, receive, send)
            return
        page = not path.startswith("/console/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                if page:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
