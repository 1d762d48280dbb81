"""The supervisor's rota page: two weeks per hotline with its gaps; shifts, covers and swaps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from core.config import Settings
from core.models import Organisation, Role, User
from hotline.models import Hotline, OverrideKind, Position, Shift, ShiftOverride
from tests.conftest import World
from tests.console.conftest import browse_as, post_form


@dataclass
class Team:
    organisation: Organisation
    hotline: Hotline
    supervisor: User
    ana: User
    boris: User
    vesna: User

    @property
    def rota(self) -> str:
        return f"/console/o/{self.organisation.id}/rota"

    @property
    def shifts(self) -> str:
        return f"{self.rota}/{self.hotline.id}/shifts"


@pytest.fixture
def team(world: World) -> Team:
    organisation = world.organisation(name="SOS Podgorica")
    now = world.clock.now()
    hotline = Hotline(
        organisation_id=organisation.id,
        name="SOS line",
        twilio_number="+442079460150",
        time_zone="Europe/Podgorica",
        holiday_country="ME",
        created_at=now,
        updated_at=now,
    )
    world.db.add(hotline)
    world.db.flush()
    return Team(
        organisation,
        hotline,
        world.user(organisation, Role.SUPERVISOR, display_name="Sanja Supervisor"),
        world.user(organisation, Role.COUNSELOR, display_name="Ana Counselor"),
        world.user(organisation, Role.COUNSELOR, display_name="Boris Counselor"),
        world.user(organisation, Role.COUNSELOR, display_name="Vesna Counselor"),
    )


def _count(db: Session, model: type[Any]) -> int:
    return int(db.exec(select(func.count()).select_from(model)).one())


def _add(
    client: TestClient,
    settings: Settings,
    team: Team,
    start: str,
    end: str,
    backup: User | None = None,
) -> Any:
    return post_form(
        client,
        settings,
        team.shifts,
        {
            "starts_at": start,
            "ends_at": end,
            "primary_user_id": str(team.ana.id),
            "backup_user_id": str((backup or team.boris).id),
            "from": "2026-03-02",
        },
    )


def test_the_grid_shows_two_weeks_and_names_the_gaps(
    client: TestClient, world: World, team: Team
) -> None:
    browse_as(client, world.login_cookie(team.supervisor, second_factor=True))
    page = client.get(team.rota)
    assert page.status_code == 200
    assert 'aria-current="page">Rota</a>' in page.text
    assert page.text.count('<th scope="row">') == 14
    assert '<th scope="row">2 Mar 2026</th>' in page.text
    assert '<th scope="row">15 Mar 2026</th>' in page.text
    # Nobody stands duty: every evening is a gap, said in words, not only in colour.
    assert '<td class="gap">' in page.text
    assert "<strong>Gap</strong>" in page.text
    assert "no Primary, no Backup" in page.text
    later = client.get(team.rota + "?from=2026-04-01")
    assert later.status_code == 200
    assert '<th scope="row">1 Apr 2026</th>' in later.text
    assert '<th scope="row">14 Apr 2026</th>' in later.text


def test_a_supervisor_adds_a_shift_a_cover_a_swap_and_removes_a_shift(
    client: TestClient, world: World, team: Team, db: Session, settings: Settings
) -> None:
    browse_as(client, world.login_cookie(team.supervisor, second_factor=True))
    added = _add(client, settings, team, "2026-03-02T16:00", "2026-03-03T08:00")
    assert added.status_code == 303
    assert added.headers["location"] == f"{team.rota}?done=shift_added&from=2026-03-02"
    shift = db.exec(select(Shift)).one()
    assert (shift.starts_at, shift.ends_at) == (
        datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
        datetime(2026, 3, 3, 7, 0, tzinfo=UTC),
    )
    assert (shift.primary_user_id, shift.backup_user_id) == (team.ana.id, team.boris.id)
    page = client.get(added.headers["location"])
    assert "The shift is added." in page.text
    assert "Primary: Ana Counselor" in page.text
    assert "Backup: Boris Counselor" in page.text

    covered = post_form(
        client,
        settings,
        f"{team.shifts}/overrides",
        {
            "shift_id": str(shift.id),
            "position": "primary",
            "user_id": str(team.vesna.id),
            "reason": "Sick day",
        },
    )
    assert covered.status_code == 303
    assert covered.headers["location"] == f"{team.rota}?done=override_added"
    cover = db.exec(select(ShiftOverride)).one()
    assert (cover.user_id, cover.position, cover.kind) == (
        team.vesna.id,
        Position.PRIMARY,
        OverrideKind.COVER,
    )
    assert "Vesna Counselor covers Primary" in client.get(team.rota).text

    other = _add(client, settings, team, "2026-03-03T16:00", "2026-03-04T08:00", team.supervisor)
    assert other.status_code == 303
    second = db.exec(select(Shift).order_by(col(Shift.starts_at).desc())).first()
    assert second is not None
    swapped = post_form(
        client,
        settings,
        f"{team.shifts}/swap",
        {
            "shift_id": str(second.id),
            "other_shift_id": str(shift.id),
            "position": "backup",
            "reason": "Family event",
        },
    )
    assert swapped.status_code == 303, swapped.text
    assert swapped.headers["location"] == f"{team.rota}?done=shifts_swapped"
    swaps = db.exec(select(ShiftOverride).where(ShiftOverride.kind == OverrideKind.SWAP)).all()
    assert len(swaps) == 2

    removed = post_form(client, settings, f"{team.shifts}/remove", {"shift_id": str(second.id)})
    assert removed.status_code == 303
    assert removed.headers["location"] == f"{team.rota}?done=shift_removed"
    assert [s.id for s in db.exec(select(Shift)).all()] == [shift.id]


def test_bad_rota_forms_change_nothing(
    client: TestClient, world: World, team: Team, db: Session, settings: Settings
) -> None:
    browse_as(client, world.login_cookie(team.supervisor, second_factor=True))
    backwards = _add(client, settings, team, "2026-03-03T08:00", "2026-03-02T16:00")
    assert backwards.status_code == 422
    assert '<div class="problem" role="alert">' in backwards.text
    assert _count(db, Shift) == 0
    garbled = _add(client, settings, team, "tonight", "2026-03-03T08:00")
    assert garbled.status_code == 422
    assert "starts_at: enter a date and time" in garbled.text
    assert _add(client, settings, team, "2026-03-02T16:00", "2026-03-03T08:00").status_code == 303
    overlapping = _add(client, settings, team, "2026-03-02T20:00", "2026-03-03T10:00")
    assert overlapping.status_code == 409
    assert _count(db, Shift) == 1
    short_reason = post_form(
        client,
        settings,
        f"{team.shifts}/overrides",
        {"shift_id": str(db.exec(select(Shift)).one().id), "user_id": str(team.vesna.id)},
    )
    assert short_reason.status_code == 422
    assert "reason" in short_reason.text
    no_shift = post_form(client, settings, f"{team.shifts}/remove", {"shift_id": "nonsense"})
    assert no_shift.status_code == 422
    assert _count(db, ShiftOverride) == 0
    assert _count(db, Shift) == 1


def test_the_rota_page_answers_as_the_gaps_route_does(
    client: TestClient, world: World, team: Team, settings: Settings
) -> None:
    api = f"/organisations/{team.organisation.id}/hotlines/{team.hotline.id}/gaps"
    admin = world.user(team.organisation, Role.ADMIN)
    browse_as(client, world.login_cookie(admin, second_factor=True))
    assert client.get(team.rota).status_code == client.get(api).status_code == 200
    browse_as(client, world.login_cookie(team.ana, second_factor=True))
    assert client.get(team.rota).status_code == client.get(api).status_code == 403
    refused = _add(client, settings, team, "2026-03-02T16:00", "2026-03-03T08:00")
    assert refused.status_code == 403
    stranger = world.user(world.organisation(), Role.SUPERVISOR)
    browse_as(client, world.login_cookie(stranger, second_factor=True))
    assert client.get(team.rota).status_code == client.get(api).status_code == 404
