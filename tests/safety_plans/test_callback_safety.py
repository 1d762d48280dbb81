"""A callback task reads "safe to call back?" from the safety plan of the case its call belongs
to: a plan that says no makes the task say no, whatever was answered before."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from core.models import Role
from hotline.models import Call, CallbackTask, CallMode, CallStatus, Hotline
from tests.conftest import World, act_as
from tests.hotline.conftest import HOTLINE_NUMBER, LAST_RESORT, OFFICE_LINE


def _missed_call(world: World, organisation_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    now = world.clock.now()
    hotline = Hotline(
        organisation_id=organisation_id,
        name="SOS line",
        twilio_number=HOTLINE_NUMBER,
        time_zone="Europe/Podgorica",
        holiday_country="ME",
        office_numbers=[OFFICE_LINE],
        last_resort_number=LAST_RESORT,
        created_at=now,
        updated_at=now,
    )
    world.db.add(hotline)
    world.db.flush()
    call = Call(
        hotline_id=hotline.id,
        call_sid="CA" + uuid.uuid4().hex,
        started_at=now,
        mode=CallMode.DUTY,
        status=CallStatus.ENDED,
        plan=[],
    )
    world.db.add(call)
    world.db.flush()
    task = CallbackTask(
        organisation_id=organisation_id,
        hotline_id=hotline.id,
        call_id=call.id,
        short_ref="AB12CD",
        due_at=now,
        created_at=now,
    )
    world.db.add(task)
    world.db.flush()
    return call.id, task.id


def test_the_plan_of_the_calls_case_decides_whether_a_callback_is_safe(
    client: TestClient, world: World
) -> None:
    ngo = world.organisation()
    counselor = world.user(ngo, Role.COUNSELOR)
    colleague = world.user(ngo, Role.COUNSELOR)  # takes the callback, not on the case team
    call_id, task_id = _missed_call(world, ngo.id)
    world.db.commit()
    tasks = f"/organisations/{ngo.id}/callback-tasks"

    def task_seen_by_colleague() -> str:
        act_as(client, world.login_cookie(colleague))
        found = [t for t in client.get(tasks).json() if t["id"] == str(task_id)]
        assert "safe_per_plan" not in found[0]  # what the plan says stays with the case team
        return str(found[0]["safe_to_call_back"])

    assert task_seen_by_colleague() == "unknown"  # no case: as answered

    act_as(client, world.login_cookie(counselor, second_factor=True))
    case = client.post(f"/organisations/{ngo.id}/cases", json={"name": "Test Client"}).json()
    url = f"/organisations/{ngo.id}/cases/{case['id']}"
    linked = client.post(url + "/links", json={"kind": "call", "target_id": str(call_id)})
    assert linked.status_code == 201, linked.text
    assert task_seen_by_colleague() == "unknown"  # a case, but no plan yet

    act_as(client, world.login_cookie(counselor, second_factor=True))
    assert client.post(url + "/plan", json={"safe_to_call": True}).status_code == 201
    assert task_seen_by_colleague() == "yes"

    act_as(client, world.login_cookie(colleague))
    answered = client.patch(f"{tasks}/{task_id}", json={"safe_to_call_back": "yes"})
    assert answered.status_code == 200, answered.text
    act_as(client, world.login_cookie(counselor, second_factor=True))
    assert client.post(url + "/plan", json={"safe_to_call": False}).status_code == 201
    assert task_seen_by_colleague() == "no"  # the plan's no wins over an earlier yes
