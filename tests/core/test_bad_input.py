"""Every route that takes a body refuses malformed bodies with a 422 and changes nothing."""

from __future__ import annotations

import uuid

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from core.app import create_app
from core.audit import AuditEvent
from core.models import ApiToken, AuthSession, Organisation, Role, User
from tests.conftest import World, act_as, make_settings


def _body_routes() -> list[tuple[str, str]]:
    app = create_app(make_settings("sqlite:///:memory:"))
    found = sorted(
        (method, context.path or "")
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and context.body_field is not None
        for method in context.methods or ()
    )
    app.state.engine.dispose()
    return found


BODY_ROUTES = _body_routes()


class _AnyId(dict[str, object]):
    def __missing__(self, key: str) -> object:
        return uuid.uuid4()


MALFORMED = (b"[1, 2]", b'"text"', b'{"unexpected_field": 1}', b"{not json", b"null")


def _state(db: Session) -> tuple[int, ...]:
    return tuple(
        int(db.exec(select(func.count()).select_from(model)).one())
        for model in (Organisation, User, ApiToken, AuthSession, AuditEvent)
    )


def test_there_are_body_routes_to_check() -> None:
    assert ("POST", "/organisations/{org_id}/users") in BODY_ROUTES
    assert ("POST", "/auth/login") in BODY_ROUTES


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES, ids=[f"{m} {p}" for m, p in BODY_ROUTES])
def test_malformed_bodies_are_refused_and_change_nothing(
    client: TestClient, world: World, db: Session, method: str, path: str
) -> None:
    organisation = world.organisation()
    # Admin and supervisor: a caller every body route admits (policies answer before bodies).
    admin = world.user(organisation, Role.ADMIN, Role.SUPERVISOR)
    target = world.user(organisation, Role.COUNSELOR)
    act_as(client, world.login_cookie(admin))
    # Any other path parameter gets a random id: the body is refused before it is looked up.
    url = path.format_map(
        _AnyId(org_id=organisation.id, user_id=target.id, token_id=organisation.id)
    )
    before = _state(db)
    for raw in MALFORMED:
        if raw == b"null" and path.endswith(("/disable", "/enable", "/revoke-sessions", "/revoke")):
            continue  # an optional body may be absent: null is a valid "no reason given"
        response = client.request(
            method, url, content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, (raw, response.text)
        assert response.json()["error"] == "invalid_input"
        assert response.json()["message"]
        assert _state(db) == before
