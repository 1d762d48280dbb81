"""The one Twilio seam: its request signature check and its REST client, for every domain.

Requests from Twilio (voice webhooks, SMS status callbacks) are verified against our configured
public URL, never a forwarded one; without an auth token every request is refused, the check is
never switched off. The REST client carries our timeout, and is None when Twilio is not set up.
"""

from __future__ import annotations

from fastapi import Request
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from core.config import Settings


def make_validator(settings: Settings) -> RequestValidator | None:
    """The validator for the configured auth token; without one every request is refused."""
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
    return RequestValidator(token) if token else None


def twilio_client(settings: Settings, http_client: HttpClient | None = None) -> Client | None:
    """The official REST client with our timeout, or None when Twilio is not configured."""
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
    if not (settings.twilio_account_sid and token):
        return None
    http = http_client or TwilioHttpClient(timeout=settings.twilio_timeout_seconds)
    return Client(settings.twilio_account_sid, token, http_client=http)


def signed_url(request: Request) -> str:
    """The URL Twilio signed: our configured public address, never what a proxy forwarded."""
    base = str(request.app.state.settings.public_base_url).rstrip("/")
    query = request.url.query
    return f"{base}{request.url.path}" + (f"?{query}" if query else "")


async def signed_form(request: Request) -> dict[str, str] | None:
    """The form parameters if Twilio signed this request, else None (with the app's validator,
    `app.state.twilio_validator`, made at start-up)."""
    validator: RequestValidator | None = request.app.state.twilio_validator
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
