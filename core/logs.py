"""Structured logging with a request id. Log records carry no bodies, numbers or names."""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Extra fields a log call may attach; anything else is dropped so that nobody logs a body by
# accident with extra={"payload": ...}.
ALLOWED_EXTRA = frozenset(
    {
        "method",
        "route",
        "status",
        "duration_ms",
        "error_type",
        "event",
        "subject_type",
        "subject_id",
        "organisation_id",
        "count",
        "job",
        "where",
    }
)
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def where(exc: BaseException, depth: int = 5) -> str:
    """The innermost frames of a traceback, as file:line:function, without any message or value
    (an exception's text can carry a row's data)."""
    frames = traceback.extract_tb(exc.__traceback__)[-depth:]
    return " < ".join(
        f"{'/'.join(f.filename.split('/')[-2:])}:{f.lineno}:{f.name}" for f in reversed(frames)
    )


def current_request_id() -> str | None:
    """The id of the request being served, if any."""
    return request_id_var.get()


class JsonFormatter(logging.Formatter):
    """One JSON object a line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key in ALLOWED_EXTRA:
            if key in record.__dict__:
                entry[key] = record.__dict__[key]
        return json.dumps(entry, default=str)


class ConsoleFormatter(logging.Formatter):
    """Readable lines for a developer's terminal, with the same fields."""

    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{key}={record.__dict__[key]}"
            for key in sorted(ALLOWED_EXTRA)
            if key in record.__dict__
        )
        request_id = request_id_var.get()
        rid = f" [{request_id[:8]}]" if request_id else ""
        return f"{record.levelname:<7} {record.name}{rid}: {record.getMessage()} {extras}".rstrip()


def configure_logging(*, json_logs: bool, level: str) -> None:
    """Send every log record through one formatter on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_logs else ConsoleFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log prints raw paths and query strings; ours logs the route template.
    logging.getLogger("uvicorn.access").disabled = True
    # Alembic announces its dialect each time readiness is checked, and HTTP clients log whole
    # URLs (which may carry tokens or numbers), and the job scheduler reports every run: keep
    # their warnings only.
    noisy_loggers = (
        "alembic.runtime.migration",
        "httpx",
        "httpx2",
        "httpcore",
        "twilio.http_client",
        "apscheduler",
        "mail.log",
    )
    for noisy in noisy_loggers:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


access_log = logging.getLogger("sigurna.request")
error_log = logging.getLogger("sigurna.errors")


class RequestContextMiddleware:
    """Gives every request an id, logs one line for it and adds protective headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = (
            incoming if incoming and _INCOMING_ID.match(incoming) else secrets.token_hex(12)
        )
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in _SECURITY_HEADERS:
                    if name not in present:
                        headers.append((name, value))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        started_response = False

        async def tracked_send(message: Message) -> None:
            nonlocal started_response
            if message["type"] == "http.response.start":
                started_response = True
            await send_with_headers(message)

        try:
            await self.app(scope, receive, tracked_send)
        except Exception as exc:
            # Answered here, inside the request's context, so that even an unexpected error
            # carries its request id and protective headers, and its log line can be traced.
            error_log.error(
                "unhandled error",
                extra={"error_type": type(exc).__name__, "where": where(exc)},
            )
            if started_response:
                raise
            body = json.dumps(
                {
                    "error": "internal_error",
                    "message": "An unexpected error occurred; it has been logged.",
                }
            ).encode()
            await tracked_send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await tracked_send({"type": "http.response.body", "body": body})
        finally:
            route = scope.get("route")
            access_log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "route": getattr(route, "path", "<unmatched>"),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(token)


_SECURITY_HEADERS = (
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None
