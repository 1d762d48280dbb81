"""The API docs (development only) work offline: every asset comes from this server."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.access import undeclared_routes
from core.app import create_app
from core.config import Mode
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
# What /docs references, each with the content type it must be served with (browsers refuse a
# script or a style sheet of another type under X-Content-Type-Options: nosniff).
ASSETS = {
    "/docs/assets/swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "/docs/assets/swagger-ui.css": "text/css; charset=utf-8",
    "/docs/assets/favicon.png": "image/png",
    "/openapi.json": "application/json",
}


def _client(mode: Mode) -> Iterator[TestClient]:
    app: FastAPI = create_app(make_settings("sqlite:///:memory:", mode=mode))
    try:
        with TestClient(app, base_url="https://testserver") as client:
            yield client
    finally:
        app.state.engine.dispose()


@pytest.fixture
def dev_client() -> Iterator[TestClient]:
    yield from _client(Mode.DEVELOPMENT)


@pytest.fixture
def test_mode_client() -> Iterator[TestClient]:
    yield from _client(Mode.TEST)


def _referenced(html: str) -> set[str]:
    """Every URL the page loads: src and href attributes, and Swagger UI's `url: '...'`."""
    return {a or b for a, b in re.findall(r"""(?:src|href)="([^"]*)"|url: '([^']*)'""", html)}


def test_the_docs_page_references_only_this_server(dev_client: TestClient) -> None:
    response = dev_client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    assert _referenced(html) == set(ASSETS)
    # No absolute URL anywhere in the page, so no other host (a CDN) is ever asked.
    assert re.findall(r"https?:|//[\w.-]+\.\w", html) == []
    assert "window.location.origin + '/docs/oauth2-redirect'" in html


@pytest.mark.parametrize(("url", "content_type"), sorted(ASSETS.items()))
def test_each_asset_of_the_docs_is_served_by_the_app(
    dev_client: TestClient, url: str, content_type: str
) -> None:
    response = dev_client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("name", ["swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"])
def test_the_assets_are_the_installed_packages_files(dev_client: TestClient, name: str) -> None:
    shipped = (files("fastapi_offline") / "static" / name).read_bytes()
    assert dev_client.get(f"/docs/assets/{name}").content == shipped


def test_the_assets_package_is_a_pinned_dependency_of_the_project() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = [r for r in pyproject["project"]["dependencies"] if r.startswith("fastapi-offline")]
    assert pins == ["fastapi-offline==1.7.7"]


def test_the_oauth2_redirect_page_is_served(dev_client: TestClient) -> None:
    response = dev_client.get("/docs/oauth2-redirect")
    assert response.status_code == 200
    assert "swaggerUIRedirectOauth2" in response.text


def test_the_docs_and_their_assets_are_the_only_routes_without_a_policy(
    dev_client: TestClient,
) -> None:
    app = dev_client.app
    assert isinstance(app, FastAPI)
    assert undeclared_routes(app) == []
    assert app.state.non_api_routes == {
        "/console/static",  # the console's style sheet and scripts
        "/docs",
        "/docs/assets",
        "/docs/oauth2-redirect",
        "/openapi.json",
        "/redoc",
    }


@pytest.mark.parametrize("url", ["/docs", "/docs/oauth2-redirect", *sorted(ASSETS)])
def test_no_docs_asset_is_served_outside_development(
    test_mode_client: TestClient, url: str
) -> None:
    response = test_mode_client.get(url)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
