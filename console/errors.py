"""Failures on console pages: the API's status codes, as pages in the reader's language.

The gates raise the same errors for a page as for the API route it shows, so a page answers the
same 403 or 404. Only the way back differs: a reader who is not signed in is sent to the login
page, one who has not passed her second factor to its page, one who must choose a new password
to the password page.
"""

from __future__ import annotations

import inspect
from typing import Any, cast
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from console.render import PREFIX, page, view_of
from core.access import SECOND_FACTOR_NEEDED
from core.errors import AppError, Forbidden, Unauthenticated, describe_validation_errors

PASSWORD_FIRST = "Choose a new password first (POST /auth/password)."  # noqa: S105 (a message)


def _is_console(request: Request) -> bool:
    return request.url.path == PREFIX or request.url.path.startswith(PREFIX + "/")


def error_page(request: Request, status: int, code: str, message: str | None) -> Response:
    """The error page (the gate's message shown as detail: it never carries input)."""
    view = view_of(request, None)
    return page(view, "error.html", status, code=code, error_status=status, detail=message)


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path
    if request.method == "GET" and request.url.query:
        target += "?" + request.url.query
    return RedirectResponse(f"{PREFIX}/login?next={quote(target, safe='/')}", status_code=303)


def for_console(request: Request, exc: AppError) -> Response:
    if isinstance(exc, Unauthenticated):
        return _login_redirect(request)
    if isinstance(exc, Forbidden) and exc.message == SECOND_FACTOR_NEEDED:
        return RedirectResponse(f"{PREFIX}/second-factor", status_code=303)
    if isinstance(exc, Forbidden) and exc.message == PASSWORD_FIRST:
        return RedirectResponse(f"{PREFIX}/password", status_code=303)
    return error_page(request, exc.status_code, exc.code, exc.message)


async def _answer(handler: Any, request: Request, exc: Exception) -> Response:
    """What one of the API's handlers answers (they are coroutines, typed more loosely)."""
    answer = handler(request, exc)
    if inspect.isawaitable(answer):
        answer = await answer
    return cast(Response, answer)


def install(app: FastAPI) -> None:
    """Wrap the API's handlers: console paths get pages, every other path what it had."""
    api_app_error = app.exception_handlers[AppError]
    api_validation = app.exception_handlers[RequestValidationError]
    api_http = app.exception_handlers[StarletteHTTPException]
    api_unexpected = app.exception_handlers[Exception]

    async def app_error(request: Request, exc: Exception) -> Response:
        if _is_console(request) and isinstance(exc, AppError):
            return for_console(request, exc)
        return await _answer(api_app_error, request, exc)

    async def validation(request: Request, exc: Exception) -> Response:
        if _is_console(request) and isinstance(exc, RequestValidationError):
            message = describe_validation_errors(list(exc.errors()))
            return error_page(request, 422, "invalid_input", message)
        return await _answer(api_validation, request, exc)

    async def unexpected(request: Request, exc: Exception) -> Response:
        response = await _answer(api_unexpected, request, exc)  # logs it, as for the API
        if _is_console(request):
            return error_page(request, 500, "internal_error", None)
        return response

    async def http_error(request: Request, exc: Exception) -> Response:
        if _is_console(request) and isinstance(exc, StarletteHTTPException):
            return error_page(request, exc.status_code, "http_error", None)
        return await _answer(api_http, request, exc)

    app.exception_handlers[AppError] = app_error
    app.exception_handlers[RequestValidationError] = validation
    app.exception_handlers[StarletteHTTPException] = http_error
    app.exception_handlers[Exception] = unexpected
