"""One error type, one handler, one JSON shape: {"error": code, "message": text}.

Messages are written by us, never built from request input, so they cannot echo personal data.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("sigurna.errors")


class AppError(Exception):
    """An expected failure with a status code and a message safe to show to the caller.

    A kind of failure is a subclass that names its status and code in its header:
    `class NotFound(AppError, status=404, code="not_found"): ...`.
    """

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init_subclass__(
        cls, *, status: int | None = None, code: str | None = None, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status_code = status
        if code is not None:
            cls.code = code

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code  # type: ignore[misc]


class NotFound(AppError, status=404, code="not_found"): ...


class Conflict(AppError, status=409, code="conflict"): ...


class InvalidInput(AppError, status=422, code="invalid_input"): ...


class Unauthenticated(AppError, status=401, code="unauthenticated"): ...


class Forbidden(AppError, status=403, code="forbidden"): ...


class ServiceUnavailable(AppError, status=503, code="unavailable"): ...


def error_body(code: str, message: str) -> dict[str, str]:
    """The one shape every error response has."""
    return {"error": code, "message": message}


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


_NOT_AN_OBJECT = frozenset({"model_attributes_type", "dict_type", "model_type"})


def describe_validation_errors(errors: list[Any]) -> str:
    """Where and how the input is wrong, without the offending values."""
    parts: list[str] = []
    for error in errors[:10]:
        loc = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body",)) or "body"
        if error.get("type") == "json_invalid":
            parts.append("the request body is not valid JSON")
            continue
        if tuple(error.get("loc", ())) == ("body",) and error.get("type") in _NOT_AN_OBJECT:
            parts.append("the request body must be a JSON object (Content-Type: application/json)")
            continue
        msg = str(error.get("msg", "is invalid"))
        # Pydantic prefixes custom messages with "Value error, "; the rest of the text is ours.
        msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        parts.append(f"{loc}: {msg}")
    if len(errors) > 10:
        parts.append(f"and {len(errors) - 10} more")
    return "; ".join(parts) or "the request is invalid"


def install_error_handlers(app: FastAPI) -> None:
    """Route every failure through the one JSON shape."""

    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        message = describe_validation_errors(list(exc.errors()))
        return JSONResponse(error_body("invalid_input", message), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        # Starlette's own details ("Not Found", "Method Not Allowed") carry no input.
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        return JSONResponse(
            error_body(code, message), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # The type only: an exception's text may hold values from the request or the database.
        log.error("unhandled error", extra={"error_type": type(exc).__name__})
        return JSONResponse(
            error_body("internal_error", "An unexpected error occurred; it has been logged."),
            status_code=500,
        )
