"""A CSW's admins and supervisors say who is on its child-protection team; joining and leaving
are audited; bad input is refused with a message and changes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from core.audit import AuditEvent
from core.clock import FrozenClock
from core.models import OrganisationKind, Role
from referrals.models import ChildProtectionMember
from tests.referrals.conftest import Network, referrals_of
from tests.referrals.test_referrals import admit
from tests.shelters.conftest import admission

TEAM = "/referrals/child-protection-team"


def _state(db: Session) -> tuple[Any, ...]:
    members = db.exec(
        select(ChildProtectionMember.user_id).order_by(col(ChildProtectionMember.user_id))
    ).all()
    return tuple(members), db.exec(select(func.count()).select_from(AuditEvent)).one()


def _team_events(db: Session) -> list[tuple[str, str, str | None, Any]]:
    rows = db.exec(
        select(AuditEvent)
        .where(col(AuditEvent.action).startswith("referrals.child_protection_member"))
        .order_by(col(AuditEvent.id))
    ).all()
    return [(r.action, r.subject_type, r.subject_id, r.organisation_id) for r in rows]


def test_the_centres_admins_and_supervisors_keep_the_team_and_each_change_is_audited(
    client: TestClient, network: Network, db: Session, clock: FrozenClock
) -> None:
    world = network.world
    officer = world.user(network.csw, Role.CSW_OFFICER, display_name="Vesna Officer")
    network.login(client, network.csw_admin)
    assert (client.get(TEAM).status_code, client.get(TEAM).json()) == (200, [])
    added = client.put(f"{TEAM}/{officer.id}")
    assert (added.status_code, added.json()) == (
        200,
        {
            "user_id": str(officer.id),
            "display_name": "Vesna Officer",
            "since": "2026-03-02T09:00:00Z",
        },
    )
    clock.advance(timedelta(minutes=10))
    again = client.put(f"{TEAM}/{officer.id}")  # already on it: nothing changes
    assert (again.status_code, again.json()["since"]) == (200, "2026-03-02T09:00:00Z")
    supervisor = world.user(network.csw, Role.SUPERVISOR, display_name="Ana Supervisor")
    network.login(client, supervisor)
    assert client.put(f"{TEAM}/{supervisor.id}").status_code == 200
    assert [m["display_name"] for m in client.get(TEAM).json()] == [
        "Ana Supervisor",
        "Vesna Officer",
    ]
    removed = client.delete(f"{TEAM}/{officer.id}")
    assert (removed.status_code, removed.content) == (204, b"")
    csw = network.csw.id
    assert _team_events(db) == [
        ("referrals.child_protection_member_added", "user", str(officer.id), csw),
        ("referrals.child_protection_member_added", "user", str(supervisor.id), csw),
        ("referrals.child_protection_member_removed", "user", str(officer.id), csw),
    ]
    actors = db.exec(
        select(AuditEvent.actor_id)
        .where(col(AuditEvent.action).startswith("referrals.child_protection_member"))
        .order_by(col(AuditEvent.id))
    ).all()
    assert actors == [str(network.csw_admin.id), str(supervisor.id), str(supervisor.id)]


def test_leaving_the_team_takes_the_names_away_at_once(
    client: TestClient, network: Network, db: Session
) -> None:
    stay = admit(client, network, admission(4))
    _, children = referrals_of(db, uuid.UUID(stay["id"]))
    network.login(client, network.csw_admin)
    assert client.put(f"{TEAM}/{network.officer.id}").status_code == 200
    network.login(client, network.officer)
    path = f"/referrals/inbox/{children.id}"
    assert client.get(path).json()["shared_children"] == [
        {"name": "Child 0 Test", "sex": "female", "age": 4}
    ]
    network.login(client, network.csw_admin)
    assert client.delete(f"{TEAM}/{network.officer.id}").status_code == 204
    network.login(client, network.officer)
    read = client.get(path).json()
    assert (read["shared_children"], read["children_ages"], read["names_withheld"]) == (
        None,
        [4],
        True,
    )


def test_bad_input_is_refused_with_a_message_and_changes_nothing(
    client: TestClient, network: Network, db: Session
) -> None:
    world = network.world
    other = world.organisation(OrganisationKind.CSW)
    outsider = world.user(other, Role.CSW_OFFICER)
    disabled = world.user(network.csw, Role.CSW_OFFICER)
    disabled.disabled_at = world.clock.now()
    db.add(disabled)
    db.flush()
    not_member = world.user(network.csw, Role.CSW_OFFICER)
    no_such = "user_id: your centre has no such user."
    ineligible = (
        "user_id: only an active csw_officer or supervisor can be on the child-protection team."
    )
    cases = [
        (
            "PUT",
            f"{TEAM}/not-a-uuid",
            422,
            "path.user_id: Input should be a valid UUID, invalid character: found `n` at 0",
        ),
        ("PUT", f"{TEAM}/{uuid.uuid4()}", 422, no_such),
        ("PUT", f"{TEAM}/{outsider.id}", 422, no_such),  # another centre's: as if absent
        ("PUT", f"{TEAM}/{network.place.staff.id}", 422, no_such),
        ("PUT", f"{TEAM}/{network.csw_admin.id}", 422, ineligible),  # admins read no inbox
        ("PUT", f"{TEAM}/{disabled.id}", 422, ineligible),
        ("DELETE", f"{TEAM}/{outsider.id}", 422, no_such),
        (
            "DELETE",
            f"{TEAM}/{not_member.id}",
            404,
            "That person is not on the child-protection team.",
        ),
    ]
    network.login(client, network.csw_admin)
    before = _state(db)
    for method, path, status, message in cases:
        response = client.request(method, path)
        assert (response.status_code, response.json()["message"]) == (status, message), path
        assert _state(db) == before
    refusals = [
        (network.officer, 403, "Your role does not allow this action."),
        (
            world.user(network.ngo, Role.ADMIN),
            403,
            "Only a Center for Social Work has a child-protection team.",
        ),
        (world.user(other, Role.ADMIN), 200, None),  # its own (empty) team, never this one's
    ]
    for user, code, refusal in refusals:
        network.login(client, user)
        listed = client.get(TEAM)
        assert listed.status_code == code
        if refusal is not None:
            assert listed.json()["message"] == refusal
            assert client.put(f"{TEAM}/{not_member.id}").status_code == code
        else:
            assert listed.json() == []
            assert client.put(f"{TEAM}/{not_member.id}").json()["message"] == no_such
    assert _state(db) == before
