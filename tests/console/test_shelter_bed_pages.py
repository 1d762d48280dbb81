"""The bed board's forms: holding a bed for someone on her way and releasing the hold, taking a
bed out of service and bringing it back, and the supervisor's lockdown. Each as the API route it
mirrors answers: the same change, the same refusals. Fictional data only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from core.config import Settings
from core.models import Role, User
from shelters.models import Bed, BedOccupancy, OccupancyKind, Shelter
from tests.conftest import World
from tests.console import test_shelter_pages as shelter_pages
from tests.console.conftest import post_form
from tests.console.test_shelter_pages import Desk, as_user, text

# The shelter pages' world (an NGO, its shelter with three beds, staff, a supervisor), shared.
desk = shelter_pages.desk

HOLD = {"until": "2026-03-02T14:00", "note": "Sister of a caller, coming by bus"}


def board_states(client: TestClient, desk: Desk) -> dict[str, tuple[str, str | None]]:
    """Each bed's state (and hold) as the API's board says (as whoever is signed in)."""
    answer = client.get(desk.api + "/board")
    assert answer.status_code == 200, answer.text
    return {b["label"]: (b["state"], b["hold_id"]) for b in answer.json()["beds"]}


def holds(db: Session) -> list[BedOccupancy]:
    db.expire_all()
    return list(db.exec(select(BedOccupancy).where(BedOccupancy.kind == OccupancyKind.RESERVED)))


def strangers(world: World, desk: Desk) -> list[User]:
    """A counselor of the organisation, and shelter staff not on this shelter."""
    organisation = desk.place.organisation
    return [world.user(organisation, Role.COUNSELOR), world.user(organisation, Role.SHELTER_STAFF)]


def refused_alike(
    client: TestClient,
    settings: Settings,
    world: World,
    user: User,
    api: tuple[str, str, dict[str, Any] | None],
    console: tuple[str, dict[str, Any]],
) -> int:
    """The API's and the console's answers to `user` (the same status, a refusal)."""
    as_user(client, world, user)
    method, path, body = api
    answer = client.request(method, path, json=body)
    page = post_form(client, settings, console[0], console[1])
    assert page.status_code == answer.status_code, (page.status_code, answer.text)
    assert answer.status_code in (403, 404)
    return answer.status_code


# --- holds ------------------------------------------------------------------------------------


def test_hold_a_free_bed_and_release_it(
    client: TestClient, settings: Settings, desk: Desk, db: Session, world: World
) -> None:
    as_user(client, world, desk.place.staff)
    bed = desk.place.bed("A1")
    form = client.get(desk.base + "/board")
    assert form.status_code == 200
    assert f'<option value="{bed.id}">Room 1 · A1 · Bed</option>' in form.text
    assert 'name="until" type="datetime-local"' in form.text

    held = post_form(client, settings, desk.base + "/holds", {"bed_id": str(bed.id), **HOLD})

    assert held.status_code == 303, held.text
    assert held.headers["location"] == desk.base + "/board?done=bed_held"
    (hold,) = holds(db)
    assert (hold.bed_id, hold.ends_at) == (bed.id, datetime(2026, 3, 2, 13, 0, tzinfo=UTC))
    assert board_states(client, desk)["A1"] == ("reserved", str(hold.id))
    page = client.get(held.headers["location"])
    shown = text(page.text)
    assert "The bed is held." in shown
    assert page.text.count('class="bed held"') == 1
    assert f'action="{desk.base}/holds/{hold.id}/release"' in page.text
    assert "Release the hold on A1" in shown

    world.clock.set(world.clock.now() + timedelta(minutes=30))
    as_user(client, world, desk.place.staff)
    released = post_form(client, settings, f"{desk.base}/holds/{hold.id}/release")

    assert released.status_code == 303, released.text
    assert released.headers["location"] == desk.base + "/board?done=hold_released"
    (ended,) = holds(db)
    assert ended.ends_at == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert board_states(client, desk)["A1"] == ("free", None)
    shown = text(client.get(released.headers["location"]).text)
    assert "The hold is released: the bed is free." in shown


@pytest.mark.parametrize(
    ("changed", "status", "problem"),
    [
        ({"until": "2026-03-02T08:00"}, 422, "until: must be in the future and at most 24 hours"),
        ({"until": "2026-03-03T11:00"}, 422, "until: must be in the future and at most 24 hours"),
        ({"until": "tonight"}, 422, "until"),
        ({"note": "ab"}, 422, "note"),
    ],
)
def test_a_bad_hold_is_refused_and_holds_nothing(
    client: TestClient,
    settings: Settings,
    desk: Desk,
    db: Session,
    world: World,
    changed: dict[str, str],
    status: int,
    problem: str,
) -> None:
    as_user(client, world, desk.place.staff)
    bed = desk.place.bed("A2")
    data = {"bed_id": str(bed.id), **HOLD, **changed}

    answer = post_form(client, settings, desk.base + "/holds", data)

    assert answer.status_code == status
    assert "Please check what you entered." in answer.text
    assert problem in answer.text
    assert f'value="{data["note"]}"' in answer.text  # what she entered is kept
    assert f'<option value="{bed.id}" selected>' in answer.text
    assert holds(db) == []
    assert board_states(client, desk)["A2"] == ("free", None)


def test_holding_a_bed_out_of_service_is_refused_as_the_api_refuses_it(
    client: TestClient, settings: Settings, desk: Desk, db: Session, world: World
) -> None:
    as_user(client, world, desk.place.staff)
    bed = desk.place.bed("A3")
    out = client.put(
        desk.api + f"/beds/{bed.id}/service", json={"out_of_service": True, "reason": "Mould"}
    )
    assert out.status_code == 200
    body = {"bed_id": str(bed.id), "until": "2026-03-02T12:00:00+01:00", "note": HOLD["note"]}
    api = client.post(desk.api + "/holds", json=body)
    page = post_form(client, settings, desk.base + "/holds", {**body, "until": "2026-03-02T12:00"})
    assert (api.status_code, page.status_code) == (409, 409)
    assert "The bed is out of service." in page.text
    assert holds(db) == []


def test_a_counselor_and_other_staff_may_neither_hold_nor_release(
    client: TestClient, settings: Settings, desk: Desk, db: Session, world: World
) -> None:
    as_user(client, world, desk.place.staff)
    bed = desk.place.bed("A1")
    held = post_form(client, settings, desk.base + "/holds", {"bed_id": str(bed.id), **HOLD})
    assert held.status_code == 303
    (hold,) = holds(db)
    body = {"bed_id": str(desk.place.bed("A2").id), "until": "2026-03-02T14:00:00+01:00"}
    body["note"] = HOLD["note"]
    answers = []
    for user in strangers(world, desk):
        answers.append(
            refused_alike(
                client,
                settings,
                world,
                user,
                ("POST", desk.api + "/holds", body),
                (desk.base + "/holds", {**body, "until": "2026-03-02T14:00"}),
            )
        )
        answers.append(
            refused_alike(
                client,
                settings,
                world,
                user,
                ("DELETE", f"{desk.api}/holds/{hold.id}", None),
                (f"{desk.base}/holds/{hold.id}/release", {}),
            )
        )
    assert answers == [403, 403, 404, 404]
    assert [(h.id, h.ends_at) for h in holds(db)] == [(hold.id, hold.ends_at)]


# --- beds out of service ----------------------------------------------------------------------


def bed_row(db: Session, bed: Bed) -> Bed:
    db.expire_all()
    found = db.get(Bed, bed.id)
    assert found is not None
    return found


def test_take_a_bed_out_of_service_and_bring_it_back(
    client: TestClient, settings: Settings, desk: Desk, db: Session, world: World
) -> None:
    as_user(client, world, desk.place.staff)
    bed = desk.place.bed("A2")
    page = client.get(desk.base + "/board")
    out_url = f"{desk.base}/beds/out-of-service"
    assert f'action="{out_url}"' in page.text
    chooser = page.text.split('id="out-bed"')[1].split("</select>")[0]
    assert chooser.count("<option ") == 3  # the three free beds
    assert f'value="{bed.id}"' in chooser

    out = post_form(client, settings, out_url, {"bed_id": str(bed.id), "reason": "Broken frame"})

    assert out.status_code == 303, out.text
    assert out.headers["location"] == desk.base + "/board?done=bed_out_of_service"
    assert bed_row(db, bed).out_of_service is True
    assert board_states(client, desk)["A2"] == ("out_of_service", None)
    page = client.get(out.headers["location"])
    shown = text(page.text)
    assert "The bed is out of service." in shown
    assert "Bring A2 back into service" in shown
    tile = page.text.split('class="bed out"')[1].split("</li>")[0]
    assert '<span class="small">Broken frame</span>' in tile
    chooser = page.text.split('id="out-bed"')[1].split("</select>")[0]
    assert f'value="{bed.id}"' not in chooser

    url = f"{desk.base}/beds/{bed.id}/service"
    back = post_form(client, settings, url, {"out_of_service": "false", "reason": "Repaired"})

    assert back.status_code == 303, back.text
    assert back.headers["location"] == desk.base + "/board?done=bed_in_service"
    assert bed_row(db, bed).out_of_service is False
    assert board_states(client, desk)["A2"] == ("free", None)
    assert "The bed is back in service." in text(client.get(back.headers["location"]).text)


def test_a_bad_service_form_is_refused_and_changes_nothing(
    client: TestClient, settings: Settings, desk: Desk, db: Session, world: World
) -> None:
    as_user(client, world, desk.place.staff)
    bed = desk.place.bed("A2")
    out_url = f"{desk.base}/beds/out-of-service"

    short = post_form(client, settings, out_url, {"bed_id": str(bed.id), "reason": "ab"})

    assert short.status_code == 422
    assert "Please check what you entered." in short.text
    assert "reason" in short.text
    assert 'id="out-reason" name="reason" maxlength="200" required' in short.text
    assert 'value="ab"' in short.text
    assert f'<option value="{bed.id}" selected>' in short.text
    assert bed_row(db, bed).out_of_service is False

    nameless = post_form(client, settings, out_url, {"bed_id": "A2", "reason": "Broken frame"})
    assert nameless.status_code == 422
    assert "bed_id" in nameless.text
    assert bed_row(db, bed).out_of_service is False

    # Bringing a bed back needs a reason too.
    url = f"{desk.base}/beds/{bed.id}/service"
    ok = post_form(client, settings, out_url, {"bed_id": str(bed.id), "reason": "Broken frame"})
    assert ok.status_code == 303
    again = post_form(client, settings, url, {"out_of_service": "false", "reason": "ok"})
    assert again.status_code == 422
    assert f'id="reason-{bed.id}" name="reason" maxlength="200" required' in again.text
    assert again.text.count("<details open>") == 1
    assert bed_row(db, bed).out_of_service is True
    ok = post_form(client, settings, url, {"out_of_service": "false", "reason": "Repaired"})
    assert ok.status_code == 303

    # A held bed cannot go out of service: the API's 409, nothing changed.
    held = post_form(client, settings, desk.base + "/holds", {"bed_id": str(bed.id), **HOLD})
    assert held.status_code == 303
    busy = post_form(client, settings, url, {"out_of_service": "true", "reason": "Broken frame"})
    assert busy.status_code == 409
    assert "The bed is occupied or reserved" in busy.text
    assert bed_row(db, bed).out_of_service is False
    assert board_states(client, desk)["A2"][0] == "reserved"


def test_a_counselor_and_other_staff_may_not_change_a_bed(
    client: TestClient, settings: Settings, desk: Desk, db: Session, world: World
) -> None:
    bed = desk.place.bed("A2")
    body = {"out_of_service": True, "reason": "Broken frame"}
    api = ("PUT", f"{desk.api}/beds/{bed.id}/service", body)
    answers = [
        refused_alike(
            client,
            settings,
            world,
            user,
            api,
            (f"{desk.base}/beds/{bed.id}/service", {**body, "out_of_service": "true"}),
        )
        for user in strangers(world, desk)
    ]
    chosen = {"bed_id": str(bed.id), "reason": "Broken frame"}
    answers += [
        refused_alike(
            client, settings, world, user, api, (f"{desk.base}/beds/out-of-service", chosen)
        )
        for user in strangers(world, desk)
    ]
    assert answers == [403, 404, 403, 404]
    assert bed_row(db, bed).out_of_service is False


# --- the lockdown -----------------------------------------------------------------------------


def lockdown(db: Session, desk: Desk) -> bool:
    db.expire_all()
    shelter = db.get(Shelter, desk.place.shelter.id)
    assert shelter is not None
    return shelter.lockdown


def test_the_supervisor_starts_and_lifts_the_lockdown(
    client: TestClient, settings: Settings, desk: Desk, db: Session, world: World
) -> None:
    as_user(client, world, desk.place.staff)
    assert 'action="' + desk.base + '/lockdown"' not in client.get(desk.base + "/board").text
    as_user(client, world, desk.place.supervisor)
    page = client.get(desk.base + "/board")
    assert f'action="{desk.base}/lockdown"' in page.text
    assert "Start the lockdown" in page.text

    on = post_form(
        client,
        settings,
        desk.base + "/lockdown",
        {"lockdown": "true", "reason": "The police warned of a threat"},
    )

    assert on.status_code == 303, on.text
    assert on.headers["location"] == desk.base + "/board?done=lockdown_on"
    assert lockdown(db, desk) is True
    assert client.get(desk.api).json()["lockdown"] is True
    page = client.get(on.headers["location"])
    shown = text(page.text)
    assert "The lockdown is on: every entry approval is suspended." in shown
    assert "Lockdown: every entry approval is suspended." in shown
    assert "Lift the lockdown" in shown

    off = post_form(
        client, settings, desk.base + "/lockdown", {"lockdown": "false", "reason": "Threat over"}
    )

    assert off.status_code == 303, off.text
    assert off.headers["location"] == desk.base + "/board?done=lockdown_off"
    assert lockdown(db, desk) is False
    shown = text(client.get(off.headers["location"]).text)
    assert "The lockdown is off." in shown
    assert "Start the lockdown" in shown


def test_a_lockdown_without_a_reason_is_refused(
    client: TestClient, settings: Settings, desk: Desk, db: Session, world: World
) -> None:
    as_user(client, world, desk.place.supervisor)
    answer = post_form(
        client, settings, desk.base + "/lockdown", {"lockdown": "true", "reason": "x"}
    )
    assert answer.status_code == 422
    assert "Please check what you entered." in answer.text
    assert "reason" in answer.text
    assert ">x</textarea>" in answer.text
    assert lockdown(db, desk) is False


def test_staff_and_a_counselor_may_not_lock_the_shelter_down(
    client: TestClient, settings: Settings, desk: Desk, db: Session, world: World
) -> None:
    body = {"lockdown": True, "reason": "The police warned of a threat"}
    callers = [desk.place.staff, *strangers(world, desk)]
    answers = [
        refused_alike(
            client,
            settings,
            world,
            user,
            ("PUT", desk.api + "/lockdown", body),
            (desk.base + "/lockdown", {**body, "lockdown": "true"}),
        )
        for user in callers
    ]
    assert answers == [403, 403, 403]
    assert lockdown(db, desk) is False
