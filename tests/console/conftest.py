"""What console tests share: a browser's cookies and forms, as TestClient requests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response

from console.security import FORM_COOKIE, FORM_FIELD, token_for
from core.config import Settings
from tests.conftest import act_as
from tests.core.test_access import matrix, matrix_call  # noqa: F401 (the route matrix's fixtures)

BROWSER = "test-browser-random-value"


def browse_as(client: TestClient, cookies: dict[str, str] | None) -> TestClient:
    """The client as a browser signed in with `cookies` (None: signed out), holding its form
    cookie as the login page would have set it."""
    act_as(client, cookies)
    client.cookies.set(FORM_COOKIE, BROWSER)
    return client


def post_form(
    client: TestClient, settings: Settings, path: str, data: dict[str, Any] | None = None
) -> Response:
    """Submit a console form with this browser's token; the answer as it comes (no redirects
    followed)."""
    body: dict[str, Any] = {FORM_FIELD: token_for(settings, BROWSER), **(data or {})}
    return client.post(path, data=body, follow_redirects=False)
