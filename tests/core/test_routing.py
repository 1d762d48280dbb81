"""Routers that refuse at once the paths none of their routes take (`core.routing.Router`): every
route of the app is reached by the same requests as with FastAPI's plain matching, and a path no
route takes is still a 404."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import _IncludedRouter
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from core.app import create_app
from core.db import create_db_engine, upgrade
from core.routing import Router
from tests.conftest import make_settings

_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")


def _concrete(path_format: str) -> str:
    """A path the route's template takes: a UUID for each parameter, a file name for a path."""

    def value(match: re.Match[str]) -> str:
        kind = match.group(2)
        if kind == "path":
            return "a/b.css"
        if kind == "int":
            return "7"
        return str(uuid.UUID(int=7))

    return _PARAM.sub(value, path_format)


def _requests(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) for every route of the app, and some paths no route takes."""
    found: list[tuple[str, str]] = []

    def walk(routes: list[Any]) -> Iterator[Any]:
        for route in routes:
            if isinstance(route, _IncludedRouter):
                yield from route.effective_route_contexts()
            else:
                yield route

    for context in walk(app.router.routes):
        path_format = getattr(context, "path_format", None) or getattr(
            getattr(context, "starlette_route", None), "path_format", None
        )
        assert path_format, context
        path = _concrete(path_format)
        if path.endswith("/{path}") or "{" in path:  # a mount: a file under it
            path = path.split("{")[0] + "a.css"
        for method in sorted(getattr(context, "methods", None) or {"GET"}):
            found.append((method, path))
    for path in ("/nowhere", "/organisations/x/nothing", "/network/nothing", "/console/nowhere"):
        found.append(("GET", path))
    return found


class _Selected:
    """Keeps the route FastAPI selected for each request (None when none was)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.route: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            self.route = scope.get("route")


def _selections(app: FastAPI, requests: list[tuple[str, str]]) -> list[tuple[Any, int]]:
    selected = _Selected(app)
    client = TestClient(selected, follow_redirects=False)
    found = []
    for method, path in requests:
        response = client.request(method, path)
        found.append((selected.route, response.status_code))
    return found


@pytest.fixture(scope="module")
def whole_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """The whole app once (routing does not depend on the database): its own SQLite file."""
    folder = tmp_path_factory.mktemp("routing")
    settings = make_settings(f"sqlite:///{folder / 'routing.db'}")
    engine = create_db_engine(settings)
    upgrade(settings, engine)
    return create_app(settings, engine=engine)


def test_every_route_is_reached_as_fastapi_alone_would(
    whole_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = whole_app
    requests = _requests(app)
    assert len(requests) > 250
    filtered = _selections(app, requests)
    monkeypatch.setattr(Router, "matches", APIRouter.matches)
    plain = _selections(app, requests)
    differ = [
        (request, a, b)
        for request, a, b in zip(requests, filtered, plain, strict=True)
        if (a[0], a[1]) != (b[0], b[1])
    ]
    assert differ == []
    # Not vacuous: most requests reach a route; the made-up paths reach none and are 404s.
    assert sum(route is not None for route, _ in filtered) > 250
    assert filtered[-4:] == [(None, 404)] * 4


def test_a_router_refuses_a_path_none_of_its_routes_takes() -> None:
    inner = Router()

    @inner.get("/things/{thing_id}")
    def thing(thing_id: str) -> dict[str, str]:
        return {"thing": thing_id}

    outer = Router()
    outer.include_router(inner, prefix="/outer")
    app = FastAPI()
    app.include_router(outer)
    client = TestClient(app)
    assert client.get("/outer/things/7").json() == {"thing": "7"}
    assert client.get("/things/7").status_code == 404
    assert client.post("/outer/things/7").status_code == 405

    # A route added after the first request is reached too (the union is rebuilt).
    @inner.get("/others")
    def others() -> list[str]:
        return []

    outer.include_router(inner, prefix="/again")
    assert client.get("/again/others").json() == []
