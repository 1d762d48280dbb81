"""A counselor's day with a case, end to end through the API (the detailed tests sit beside)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from core.models import OrganisationKind, Role
from tests.conftest import World, act_as


def test_a_case_from_opening_to_a_high_risk_and_its_conference(
    client: TestClient, world: World
) -> None:
    ngo = world.organisation()
    counselor = world.user(ngo, Role.COUNSELOR)
    supervisor = world.user(ngo, Role.SUPERVISOR)
    other = world.user(ngo, Role.COUNSELOR)
    csw = world.organisation(OrganisationKind.CSW)
    officer = world.user(csw, Role.CSW_OFFICER)
    world.db.commit()
    base = f"/organisations/{ngo.id}/cases"

    act_as(client, world.login_cookie(counselor))
    assert client.get(base).status_code == 403  # no second factor yet

    act_as(client, world.login_cookie(counselor, second_factor=True))
    made = client.post(base, json={"name": "MARKER-NAME-7731", "violence_types": ["physical"]})
    assert made.status_code == 201, made.text
    case = made.json()
    assert case["name"] == "MARKER-NAME-7731"
    assert case["access"] == "team"
    url = f"{base}/{case['id']}"

    answers = dict.fromkeys(_questions(), "no")
    answers["strangulation"] = "yes"
    assessed = client.post(url + "/risk-assessments", json={"answers": answers})
    assert assessed.status_code == 201, assessed.text
    assert assessed.json()["level"] == "high"
    assert assessed.json()["critical_yes"] == ["strangulation"]

    plan = client.post(url + "/plan", json={"code_word": "MARKER-CODE-5521", "safe_to_call": False})
    assert plan.status_code == 201, plan.text
    plan2 = client.post(url + "/plan", json={"code_word": "MARKER-CODE-5521", "safe_to_call": True})
    assert plan2.json()["revision"] == 2
    diff = client.get(url + "/plan/diff", params={"from": 1, "to": 2})
    assert diff.json()["changes"] == [{"field": "safe_to_call", "before": False, "after": True}]

    act_as(client, world.login_cookie(other, second_factor=True))
    refused = client.get(url)
    assert refused.status_code == 404
    assert "MARKER" not in refused.text

    act_as(client, world.login_cookie(supervisor, second_factor=True))
    tasks = client.get(f"/organisations/{ngo.id}/case-tasks").json()
    assert [t["kind"] for t in tasks] == ["case_conference"]
    opened = client.post(
        f"/organisations/{ngo.id}/break-glass",
        json={
            "case_number": case["number"],
            "reason": "She called the night line in danger, owner unreachable",
        },
    )
    assert opened.status_code == 201, opened.text
    assert client.get(url).json()["access"] == "break_glass"

    act_as(client, world.login_cookie(counselor, second_factor=True))
    consent = client.post(
        url + "/consents",
        json={
            "recipient_organisation_id": str(csw.id),
            "purpose": "CSW decision on accommodation",
            "sections": ["risk"],
            "expires_at": (world.clock.now() + timedelta(days=30)).isoformat(),
        },
    )
    assert consent.status_code == 201, consent.text
    report = client.get(url + "/readers").json()
    assert {r["basis"] for r in report if r["action"] == "case.read"} >= {"team", "break_glass"}
    assert any(r["action"] == "case.refused" for r in report)

    act_as(client, world.login_cookie(officer, second_factor=True))
    shared = client.get(f"/shared-cases/{case['id']}")
    assert shared.status_code == 200, shared.text
    assert shared.json()["risk_level"] == "high"
    assert shared.json()["name"] is None
    assert "MARKER" not in shared.text


def _questions() -> list[str]:
    from safety_plans.risk import instrument

    return [q.id for q in instrument().questions]
