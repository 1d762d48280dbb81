"""Twilio's signed requests: verified against our configured public URL, never a forwarded one."""

from __future__ import annotations

from fastapi import Request
from twilio.request_validator import RequestValidator

from core.config import Settings


def make_validator(settings: Settings) -> RequestValidator | None:
    """The validator for the configured auth token; without one every request is refused."""
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
    return RequestValidator(token) if token else None


def signed_url(request: Request) -> str:
    """The URL Twilio signed: our configured public address, never what a proxy forwarded."""
    base = str(request.app.state.settings.public_base_url).rstrip("/")
    query = request.url.query
    return f"{base}{request.url.path}" + (f"?{query}" if query else "")


async def signed_form(
    request: Request, validator: RequestValidator | None
) -> dict[str, str] | None:
    """The form parameters if Twilio signed this request, else None."""
    try:
        form = await request.form()
        params = {key: str(value) for key, value in form.multi_items()}
        signature = request.headers.get("x-twilio-signature", "")
        valid = bool(
            validator is not None
            and signature
            and validator.validate(signed_url(request), params, signature)
        )
    except Exception:  # an unreadable body is as good as unsigned
        return None
    return params if valid else None
