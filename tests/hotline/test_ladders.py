"""The per-process ladder cache never routes a call by a rota that has changed hands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from core.clock import FrozenClock
from core.models import Role
from hotline.models import OverrideKind, Position, Shift, ShiftOverride
from tests.conftest import World
from tests.hotline.conftest import (
    BACKUP_PHONE,
    PRIMARY_PHONE,
    Line,
    add_phone,
    call_params,
    make_line,
    twilio,
)

EVENING = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)  # 21:00 in Podgorica, after hours
NIGHT_PHONE = "+61491570015"


def _first_number(xml: str) -> str:
    return xml.split('">', 3)[2].split("<", 1)[0]


def test_a_shift_change_inside_the_cache_window_applies_to_the_very_next_call(
    client: TestClient, world: World, clock: FrozenClock, db: Session
) -> None:
    clock.set(EVENING)
    boundary = EVENING + timedelta(seconds=5)
    line = make_line(world, shift_from=EVENING - timedelta(hours=5), shift_until=boundary)
    night = world.user(line.organisation, Role.COUNSELOR)
    add_phone(world, night, NIGHT_PHONE)
    db.add(
        Shift(
            hotline_id=line.hotline.id,
            starts_at=boundary,
            ends_at=boundary + timedelta(hours=10),
            primary_user_id=night.id,
            created_at=EVENING,
        )
    )
    db.flush()
    before = twilio(client, "/hotline/voice", call_params("CA" + "1" * 32))
    assert _first_number(before.text) == PRIMARY_PHONE
    clock.set(boundary - timedelta(microseconds=1))
    assert (
        _first_number(twilio(client, "/hotline/voice", call_params("CA" + "2" * 32)).text)
        == PRIMARY_PHONE
    )
    clock.set(boundary)
    assert (
        _first_number(twilio(client, "/hotline/voice", call_params("CA" + "3" * 32)).text)
        == NIGHT_PHONE
    )


def test_an_override_made_now_reaches_calls_within_fifteen_seconds(
    client: TestClient, line: Line, world: World, clock: FrozenClock, db: Session
) -> None:
    clock.set(EVENING)
    assert (
        _first_number(twilio(client, "/hotline/voice", call_params("CA" + "1" * 32)).text)
        == PRIMARY_PHONE
    )
    shift = db.exec(select(Shift)).one()
    db.add(
        ShiftOverride(
            shift_id=shift.id,
            position=Position.PRIMARY,
            user_id=line.backup.id,
            starts_at=EVENING,
            ends_at=shift.ends_at,
            kind=OverrideKind.COVER,
            reason="ill",
            created_at=EVENING,
        )
    )
    db.flush()
    clock.advance(timedelta(seconds=15))
    third = twilio(client, "/hotline/voice", call_params("CA" + "3" * 32))
    assert _first_number(third.text) == BACKUP_PHONE
