"""Revision 0008 gives child-protection referrals made before it their admission's deadline and,
when still open, the reminder ladder; it goes down and up again without adding anything twice."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

from core.audit import Actor
from core.clock import FrozenClock
from core.config import Settings
from core.crypto import cipher_from_settings
from core.db import create_db_engine, downgrade, upgrade
from core.models import OrganisationKind, Role
from referrals import service
from referrals.models import (
    ConsentSet,
    LegalBasis,
    Referral,
    ReferralCreate,
    ReferralReminder,
    ReferralStatus,
    ReminderKind,
    ReminderState,
    Source,
    Team,
)
from shelters import service as shelters
from shelters.models import AdmissionChannel as Channel
from shelters.models import AdmissionCreate, BedKind, PersonIn, Sex, Shelter
from tests.conftest import (
    T0,
    World,
    drop_postgres_database,
    make_case,
    make_settings,
    private_postgres_url,
    recreate_postgres_database,
)
from tests.referrals.test_referrals import utc
from tests.shelters.conftest import make_shelter


@dataclass(frozen=True)
class Fresh:
    settings: Settings
    engine: Engine


@pytest.fixture
def fresh(backend: str, tmp_path: Path) -> Iterator[Fresh]:
    """An empty database of this test's own (the shared one is kept at the head)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'child-protection.db'}"
    else:
        url = private_postgres_url("_child_protection")
        recreate_postgres_database(url)
    settings = make_settings(url)
    engine = create_db_engine(settings)
    try:
        yield Fresh(settings, engine)
    finally:
        engine.dispose()
        if backend == "postgresql":
            drop_postgres_database(url)


def _admit(world: World, settings: Settings, shelter: Shelter, *ages: int) -> uuid.UUID:
    admitted = shelters.admit(
        world.db,
        now=world.clock.now(),
        shelter=shelter,
        data=AdmissionCreate(
            client=PersonIn(name="Ana Test", sex=Sex.FEMALE, age=34),
            children=[PersonIn(name="Child Test", sex=Sex.FEMALE, age=a) for a in ages],
            channel=Channel.IN_PERSON,
            municipality="Podgorica",
        ),
        cipher=cipher_from_settings(settings),
        actor=Actor.system("test"),
        actor_roles=frozenset({Role.SHELTER_STAFF}),
        user_id=None,
    )
    assert isinstance(admitted, shelters.Admitted)
    return admitted.stay.id


def _as_before_0008(db: Session, stay_id: uuid.UUID, status: ReferralStatus) -> uuid.UUID:
    """The stay's child-protection referral as the code before 0008 made it: no deadline, and
    only the reminder that sends it."""
    referral = db.exec(
        select(Referral).where(Referral.stay_id == stay_id, Referral.team == Team.CHILD_PROTECTION)
    ).one()
    db.exec(
        delete(ReferralReminder).where(
            col(ReferralReminder.referral_id) == referral.id,
            col(ReferralReminder.kind) != ReminderKind.CREATED,
        )
    )
    referral.deadline = None
    referral.status = status
    db.add(referral)
    db.flush()
    return referral.id


def _seed(fresh: Fresh, password_hash: str) -> dict[str, uuid.UUID]:
    with Session(fresh.engine, expire_on_commit=False) as db:
        world = World(db, FrozenClock(T0), password_hash)
        ngo = world.organisation(name="SOS Migration Line")
        csw = world.organisation(OrganisationKind.CSW, name="CSW Migration")
        podgorica = service.find_municipality(db, country_code="ME", name="Podgorica")
        assert podgorica is not None
        podgorica.csw_organisation_id = csw.id
        db.add(podgorica)
        beds = tuple((f"A{i}", BedKind.BED) for i in range(1, 5))
        shelter, _ = make_shelter(world, cipher_from_settings(fresh.settings), ngo, beds=beds)
        seeded = {
            "open": _as_before_0008(
                db, _admit(world, fresh.settings, shelter, 5), ReferralStatus.OPEN
            ),
            "decided": _as_before_0008(
                db, _admit(world, fresh.settings, shelter, 2), ReferralStatus.DECIDED
            ),
        }
        author = world.user(ngo, Role.COUNSELOR)
        case = service.create_referral(
            db,
            now=T0,
            organisation_id=ngo.id,
            data=ReferralCreate(
                source=Source.CASE,
                case_id=make_case(db, author, cipher=cipher_from_settings(fresh.settings)),
                to_organisation_id=csw.id,
                team=Team.CHILD_PROTECTION,
                legal_basis=LegalBasis.CHILD_AT_RISK,
                consent=ConsentSet(scope=[]),
            ),
            cipher=cipher_from_settings(fresh.settings),
            actor=Actor.system("test"),
            user_id=author.id,
        )
        seeded["case"] = case.id
        db.commit()
    return seeded


def _ladder(fresh: Fresh, referral_id: uuid.UUID) -> list[tuple[object, ...]]:
    with Session(fresh.engine) as db:
        rows = db.exec(
            select(ReferralReminder)
            .where(ReferralReminder.referral_id == referral_id)
            .order_by(col(ReferralReminder.due_at), col(ReferralReminder.sequence))
        ).all()
        return [(r.kind, r.sequence, r.due_at, r.state) for r in rows]


def _deadline(fresh: Fresh, referral_id: uuid.UUID) -> object:
    with Session(fresh.engine) as db:
        return db.exec(select(Referral.deadline).where(Referral.id == referral_id)).one()


def test_0008_gives_earlier_child_protection_referrals_their_deadline_and_ladder(
    fresh: Fresh, fixture_password_hash: str
) -> None:
    # Seeded with today's code, made to look as the code before 0008 left it, then taken back to
    # 0007 (today's models cannot write a 0007 schema) and brought up again.
    upgrade(fresh.settings, fresh.engine)
    seeded = _seed(fresh, fixture_password_hash)
    downgrade(fresh.settings, fresh.engine, "0007")
    upgrade(fresh.settings, fresh.engine)
    pending = ReminderState.PENDING
    expected = [
        (ReminderKind.CREATED, 0, utc("2026-03-02 09:00"), pending),
        (ReminderKind.BEFORE_3_DAYS, 0, utc("2026-03-06 09:00"), pending),
        (ReminderKind.BEFORE_1_DAY, 0, utc("2026-03-08 09:00"), pending),
        (ReminderKind.DEADLINE, 0, utc("2026-03-09 09:00"), pending),
        (ReminderKind.OVERDUE, 1, utc("2026-03-10 09:00"), pending),
    ]
    assert _ladder(fresh, seeded["open"]) == expected
    assert _deadline(fresh, seeded["open"]) == utc("2026-03-09 09:00")
    # A decided referral gets its deadline on record, and no reminder.
    assert _deadline(fresh, seeded["decided"]) == utc("2026-03-09 09:00")
    assert _ladder(fresh, seeded["decided"]) == [expected[0]]
    # A child at risk referred from a case keeps the deadline its sender gave (none here).
    assert _deadline(fresh, seeded["case"]) is None
    assert [k for k, *_ in _ladder(fresh, seeded["case"])] == [ReminderKind.CREATED]
    # Down drops the team and keeps the deadlines; up again adds nothing twice.
    downgrade(fresh.settings, fresh.engine, "0007")
    assert "child_protection_member" not in sa.inspect(fresh.engine).get_table_names()
    upgrade(fresh.settings, fresh.engine)
    assert "child_protection_member" in sa.inspect(fresh.engine).get_table_names()
    assert _ladder(fresh, seeded["open"]) == expected
