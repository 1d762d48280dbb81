"""Where the console sits among the app's routes: tried first, refusing any other path at once."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Match, Mount

from console.pages import ConsoleRouter, router
from console.wiring import STATIC_URL


def _scope(path: str) -> dict[str, object]:
    return {"type": "http", "method": "GET", "path": path, "root_path": ""}


def test_the_console_refuses_other_paths_without_trying_its_pages() -> None:
    assert isinstance(router, ConsoleRouter)
    for path in ("/organisations/x/shelters/y/board", "/hotline/voice", "/consoles", "/"):
        assert router.matches(_scope(path)) == (Match.NONE, {})


def test_the_app_tries_the_console_first_and_keeps_the_apis_order(app: FastAPI) -> None:
    first, second = app.router.routes[:2]
    assert isinstance(first, Mount)
    assert first.path == STATIC_URL
    assert getattr(second, "original_router", None) is router
    api = [
        context.path
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        and not (context.path or "").startswith("/console")
    ]
    # The domains' routes still come before core's: the voice webhook before /healthz.
    assert api.index("/hotline/voice") < api.index("/healthz")
    assert [r for r in app.router.routes[2:] if getattr(r, "path", None) == STATIC_URL] == []


def test_pages_and_the_api_still_answer(client: TestClient) -> None:
    login = client.get("/console/login")
    assert login.status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/console/static/console.css").status_code == 200
