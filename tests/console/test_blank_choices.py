"""A reading form's "all" or "any" option sends its field empty: the page answers as if the
field were left out, and a value no option has is still refused (`console.forms.BlankIsNone`)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.models import Role
from tests.conftest import World
from tests.console.conftest import browse_as


@pytest.mark.parametrize(
    ("page", "field", "heading"),
    [
        ("/cases", "status", "Your cases"),
        ("/notifications", "state", "Notifications"),
        ("/network/availability", "group", "Free beds across the network"),
    ],
)
def test_an_empty_choice_means_all(
    client: TestClient, world: World, page: str, field: str, heading: str
) -> None:
    ngo = world.organisation(name="SOS Test Line")
    supervisor = world.user(ngo, Role.SUPERVISOR)
    browse_as(client, world.login_cookie(supervisor, second_factor=True))
    base = "/console" if page.startswith("/network") else f"/console/o/{ngo.id}"
    left_out = client.get(base + page)
    empty = client.get(f"{base}{page}?{field}=")
    assert left_out.status_code == empty.status_code == 200
    assert heading in empty.text
    assert client.get(f"{base}{page}?{field}=no-such-choice").status_code == 422
