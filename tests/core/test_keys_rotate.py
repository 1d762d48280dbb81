"""Key rotation (`core.sealed`, `sigurna keys rotate`): every sealed column is registered, and a
rotation re-seals each of them under the active key, in batches, resumable, skipping nothing it
could not open. Fictional data only."""

from __future__ import annotations

import base64
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select
from typer.testing import CliRunner, Result

from core import domains, sealed
from core.audit import Actor, AuditEvent
from core.cli import app as cli
from core.clock import FrozenClock
from core.config import Settings, get_settings
from core.crypto import FieldCipher, Sealed, derive_key
from core.db import UnitOfWork, create_db_engine, unit_of_work
from core.models import OrganisationKind, Role
from notifications.models import Channel, Purpose
from referrals import service as referrals
from referrals.models import Direction, Referral
from shelters import service as shelters
from shelters.models import AdmissionCreate, AssessmentCreate, Shelter
from shelters.service import Admitted
from tests.conftest import (
    T0,
    TEST_ENCRYPTION_KEYS,
    TEST_SECRET,
    TWILIO_AUTH_TOKEN,
    World,
    make_settings,
)
from tests.referrals.conftest import add_contact
from tests.shelters.conftest import assign, make_shelter

KEY_A = bytes(range(100, 132))
KEY_B = bytes(range(140, 172))
HASH_KEY = derive_key(TEST_SECRET, "keyed-hash")
OLD = FieldCipher({"A": KEY_A}, hash_key=HASH_KEY)  # what the rows were sealed under
NEW = FieldCipher({"B": KEY_B, "A": KEY_A}, hash_key=HASH_KEY)  # keys "B,A": B is active
ONLY_B = FieldCipher({"B": KEY_B}, hash_key=HASH_KEY)  # opens only what was re-sealed
ACTOR = Actor.system("test")
BASE_URL = "https://sigurna.example.org"

# What `seeded` leaves under key A: the shelter's address, the webhook's signing secret, a
# woman and two children admitted (their names, her municipality), the two referrals that makes
# (hers and the children's, each a webhook message carrying the secret), a needs assessment
# and a question on her referral.
SEEDED = {
    "notification_contact.secret_sealed": 1,
    "outbox_message.secret_sealed": 2,
    "referral.dossier_sealed": 2,
    "referral_note.sealed": 1,
    "shelter.address_sealed": 1,
    "shelter_needs_assessment.sealed": 1,
    "shelter_stay.municipality_sealed": 1,
    "shelter_stay_member.name_sealed": 3,
}
SEEDED_ROWS = sum(SEEDED.values())


# --- every sealed column is registered ----------------------------------------------------------


def test_every_sealed_column_of_the_schema_is_registered_with_its_context() -> None:
    domains.import_models()
    missing = sealed.unregistered()
    assert not missing, (
        "sealed columns that `sigurna keys rotate` would leave under an old key; register them"
        " with their contexts in the domain's wiring.wire() (core.sealed.register): "
        + ", ".join(missing)
    )
    assert sealed.not_in_schema() == []
    for column in sealed.registered():
        table = SQLModel.metadata.tables[column.table]
        assert table.c[column.key_id_column].nullable == table.c[column.sealed_column].nullable
        assert column.context.strip(), column.name


def test_registering_again_changes_nothing_and_another_context_is_refused() -> None:
    before = sealed.registered()
    address = next(c for c in before if c.name == "shelter.address_sealed")
    sealed.register(address, sealed.pair("shelter", "address", address.context))
    assert sealed.registered() == before
    with pytest.raises(ValueError, match="already registered"):
        sealed.register(sealed.pair("shelter", "address", "shelter.something_else"))
    assert sealed.registered() == before


# --- rotation ---------------------------------------------------------------------------------


@dataclass
class Seeded:
    shelter: Shelter
    admitted: Admitted


def seeded(world: World, settings: Settings, uow: UnitOfWork) -> Seeded:
    """Real rows, made through the services, every sealed value under key A (`SEEDED`)."""
    db, now, cipher = world.db, world.clock.now(), OLD
    ngo = world.organisation(name="SOS Rotation Line")
    shelter, _ = make_shelter(world, cipher, ngo)
    staff = world.user(ngo, Role.SHELTER_STAFF)
    assign(world, shelter, staff)
    csw = world.organisation(OrganisationKind.CSW, name="CSW Podgorica (rotation)")
    municipality = referrals.find_municipality(db, country_code="ME", name="Podgorica")
    assert municipality is not None
    municipality.csw_organisation_id = csw.id
    db.add(municipality)
    hook = "https://cases.csw-podgorica.example.org/hooks/sigurna"
    kinds = (Purpose.REFERRALS, Purpose.CHILD_PROTECTION)
    add_contact(db, settings, cipher, csw, Channel.WEBHOOK, hook, *kinds, now=now)
    add_contact(db, settings, cipher, csw, Channel.EMAIL, "intake@csw.example.org", *kinds, now=now)
    data = AdmissionCreate.model_validate(
        {
            "client": {"name": "Ana Rotacija", "sex": "female", "age": 31},
            "children": [
                {"name": "Mia Rotacija", "sex": "female", "age": 2},
                {"name": "Lea Rotacija", "sex": "female", "age": 9},
            ],
            "channel": "in_person",
            "municipality": "Podgorica",
        }
    )
    admitted = shelters.admit(
        db,
        now=now,
        shelter=shelter,
        data=data,
        cipher=cipher,
        actor=ACTOR,
        actor_roles=frozenset({Role.SHELTER_STAFF}),
        user_id=staff.id,
    )
    assert isinstance(admitted, Admitted)
    assessment = AssessmentCreate(
        security="Lock changed.",
        love_and_belonging="Sister visits.",
        respect="-",
        self_accomplishment="-",
    )
    shelters.add_revision(
        db,
        shelters.ASSESSMENTS,
        now=now,
        shelter=shelter,
        stay=admitted.stay,
        content=assessment,
        cipher=cipher,
        user_id=staff.id,
        actor=ACTOR,
    )
    hers = db.exec(select(Referral).where(Referral.stay_id == admitted.stay.id)).first()
    assert hers is not None
    referrals.exchange(
        db,
        now=now,
        referral=hers,
        direction=Direction.QUESTION,
        text="Does she have a lawyer?",
        cipher=cipher,
        actor=ACTOR,
        base_url=BASE_URL,
    )
    db.flush()
    assert referrals.sweep(uow, now=now, base_url=BASE_URL) == 2  # each referral's webhook
    return Seeded(shelter, admitted)


def under_keys(db: Session) -> dict[str, dict[str | None, int]]:
    """Rows of each column by key id, for the columns that have any value."""
    return {
        column.name: {k: n for k, n in counts.items() if k is not None}
        for column, counts in sealed.status(db)
        if any(k is not None for k in counts)
    }


def opened(db: Session, cipher: FieldCipher) -> dict[tuple[str, Any], str]:
    """Every sealed value, opened with the registered context: (column, row id) -> text."""
    found: dict[tuple[str, Any], str] = {}
    connection = db.connection()
    for column in sealed.registered():
        table = SQLModel.metadata.tables[column.table]
        key_id, blob = table.c[column.key_id_column], table.c[column.sealed_column]
        primary_key = list(table.primary_key.columns)
        rows = connection.execute(sa.select(key_id, blob, *primary_key).where(key_id.is_not(None)))
        for kid, data, *row_key in rows:
            text = cipher.open(Sealed(kid, data), context=column.context)
            found[column.name, tuple(row_key)] = text
    return found


def counts(rotation: sealed.Rotation) -> dict[str, tuple[int, int, int, int]]:
    """(current, re-sealed, failed, pending) of the columns that had anything to count."""
    return {
        c.column.name: (c.current, c.resealed, c.failed, c.pending)
        for c in rotation.columns
        if (c.current, c.resealed, c.failed, c.pending) != (0, 0, 0, 0)
    }


def test_rotation_reseals_every_column_under_the_active_key_and_a_second_run_does_nothing(
    world: World, settings: Settings, db: Session, uow: UnitOfWork
) -> None:
    seeded(world, settings, uow)
    assert under_keys(db) == {name: {"A": n} for name, n in SEEDED.items()}
    before = opened(db, OLD)  # the contexts registered are the ones the services seal with
    assert len(before) == SEEDED_ROWS

    batches: list[tuple[str, int]] = []
    rotation = sealed.rotate(
        uow, NEW, batch=2, progress=lambda c: batches.append((c.column.name, c.resealed))
    )
    assert rotation.key_id == "B"
    assert counts(rotation) == {name: (0, n, 0, 0) for name, n in SEEDED.items()}
    assert rotation.totals() == {
        "current": 0,
        "resealed": SEEDED_ROWS,
        "failed": 0,
        "pending": 0,
    }
    # Two rows a transaction, each batch reported once it is committed.
    assert batches == [
        ("notification_contact.secret_sealed", 1),
        ("outbox_message.secret_sealed", 2),
        ("referral.dossier_sealed", 2),
        ("referral_note.sealed", 1),
        ("shelter.address_sealed", 1),
        ("shelter_needs_assessment.sealed", 1),
        ("shelter_stay.municipality_sealed", 1),
        ("shelter_stay_member.name_sealed", 2),
        ("shelter_stay_member.name_sealed", 3),
    ]
    assert under_keys(db) == {name: {"B": n} for name, n in SEEDED.items()}
    assert opened(db, ONLY_B) == before

    again = sealed.rotate(uow, NEW, batch=2)
    assert counts(again) == {name: (n, 0, 0, 0) for name, n in SEEDED.items()}
    assert again.totals() == {"current": SEEDED_ROWS, "resealed": 0, "failed": 0, "pending": 0}


def test_what_the_services_read_is_the_same_after_rotation(
    world: World, settings: Settings, db: Session, uow: UnitOfWork
) -> None:
    made = seeded(world, settings, uow)
    sealed.rotate(uow, NEW)
    db.expire_all()
    shelter = db.get(Shelter, made.shelter.id)
    assert shelter is not None
    assert shelters.reveal_address(ONLY_B, shelter) == "Ulica Izmišljena 7, Testgrad"
    [assessment] = shelters.list_revisions(db, shelters.ASSESSMENTS, stay=made.admitted.stay)
    assert shelters.open_revision(ONLY_B, shelters.ASSESSMENTS, assessment)["security"] == (
        "Lock changed."
    )


class Crash(Exception):
    pass


def test_a_rotation_killed_after_a_batch_is_finished_by_the_next_run(
    world: World, settings: Settings, db: Session, uow: UnitOfWork
) -> None:
    seeded(world, settings, uow)
    before = opened(db, OLD)

    def crash_in_the_members(column: sealed.ColumnRotation) -> None:
        if column.column.table == "shelter_stay_member":
            raise Crash

    with pytest.raises(Crash):
        sealed.rotate(uow, NEW, batch=2, progress=crash_in_the_members)
    # Every batch committed before the crash stays done; the rest waits under A.
    assert under_keys(db) == {
        **{name: {"B": n} for name, n in SEEDED.items()},
        "shelter_stay_member.name_sealed": {"B": 2, "A": 1},
    }

    rotation = sealed.rotate(uow, NEW, batch=2)
    assert counts(rotation) == {
        **{name: (n, 0, 0, 0) for name, n in SEEDED.items()},
        "shelter_stay_member.name_sealed": (2, 1, 0, 0),
    }
    assert under_keys(db) == {name: {"B": n} for name, n in SEEDED.items()}
    assert opened(db, ONLY_B) == before


def test_a_row_that_cannot_be_opened_is_counted_and_left_and_the_rest_rotate(
    world: World, settings: Settings, db: Session, uow: UnitOfWork
) -> None:
    seeded(world, settings, uow)
    organisation = world.organisation()
    # One address under a key no longer configured, one under A but tampered with.
    lost = FieldCipher({"Z": bytes(32)}, hash_key=HASH_KEY)
    unknown, _ = make_shelter(world, lost, organisation, name="Lost key")
    tampered, _ = make_shelter(world, OLD, organisation, name="Tampered")
    tampered.address_sealed = tampered.address_sealed[:-1] + bytes(
        [tampered.address_sealed[-1] ^ 1]
    )
    db.add(tampered)
    db.flush()
    untouched = {s.id: (s.address_key_id, s.address_sealed) for s in (unknown, tampered)}

    for batch in (1, 500):  # one row a batch: a failed row never holds up the walk
        rotation = sealed.rotate(uow, NEW, batch=batch)
        address = next(c for c in rotation.columns if c.column.name == "shelter.address_sealed")
        if batch == 1:
            assert (address.current, address.resealed, address.failed) == (0, 1, 2)
        else:
            assert (address.current, address.resealed, address.failed) == (1, 0, 2)
        assert address.pending == 0
        assert sorted(address.failed_ids) == sorted([unknown.id, tampered.id])
        assert rotation.failed == 2
    db.expire_all()
    for shelter_id, pair in untouched.items():
        row = db.get(Shelter, shelter_id)
        assert row is not None
        assert (row.address_key_id, row.address_sealed) == pair
    assert under_keys(db)["shelter.address_sealed"] == {"A": 1, "B": 1, "Z": 1}
    assert {name: keys for name, keys in under_keys(db).items() if "A" in keys or "Z" in keys} == {
        "shelter.address_sealed": {"A": 1, "B": 1, "Z": 1}
    }


def test_a_batch_must_hold_a_row(uow: UnitOfWork) -> None:
    with pytest.raises(ValueError, match="at least one row"):
        sealed.rotate(uow, NEW, batch=0)


# --- PostgreSQL: rows another transaction holds are skipped, not waited for ----------------------


ADDRESS = sealed.pair("shelter", "address", shelters.ADDRESS_CONTEXT)


@pytest.mark.postgresql_only
def test_a_row_locked_by_another_transaction_is_left_pending_then_rotated_on_the_next_run(
    engine: Engine, backend: str, fixture_password_hash: str
) -> None:
    # Committed rows (another connection must see them), rotated alone, removed at the end.
    work: UnitOfWork = functools.partial(unit_of_work, engine)
    with work() as session:
        world = World(session, FrozenClock(T0), fixture_password_hash)
        organisation = world.organisation()
        made = [make_shelter(world, OLD, organisation, name=f"Locked {n}")[0] for n in range(3)]
        ids = sorted(s.id for s in made)
    shelter = SQLModel.metadata.tables["shelter"]
    try:
        with engine.connect() as other, other.begin():
            other.execute(sa.select(shelter.c.id).where(shelter.c.id == ids[1]).with_for_update())
            rotation = sealed.rotate(work, NEW, columns=[ADDRESS])
            assert counts(rotation) == {"shelter.address_sealed": (0, 2, 0, 1)}
            assert rotation.pending == 1
        rotation = sealed.rotate(work, NEW, columns=[ADDRESS])
        assert counts(rotation) == {"shelter.address_sealed": (2, 1, 0, 0)}
        with engine.connect() as connection:
            keys = connection.execute(
                sa.select(shelter.c.address_key_id).where(shelter.c.id.in_(ids))
            ).scalars()
            assert sorted(keys) == ["B", "B", "B"]
    finally:
        with work() as session:
            connection = session.connection()
            for name in ("shelter_bed", "shelter_room"):
                table = SQLModel.metadata.tables[name]
                connection.execute(sa.delete(table).where(table.c.shelter_id.in_(ids)))
            connection.execute(sa.delete(shelter).where(shelter.c.id.in_(ids)))
            session.delete(organisation)


# --- the command ------------------------------------------------------------------------------

runner = CliRunner()
K3 = base64.b64encode(bytes(range(64, 96))).decode()


def run(*args: str) -> Result:
    return runner.invoke(cli, list(args))


@pytest.fixture
def operator(cli_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A scratch database with the demo loaded under k2 (the test keys: k2 active, then k1)."""
    monkeypatch.setenv("SIGURNA_MODE", "test")
    monkeypatch.setenv("SIGURNA_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SIGURNA_ENCRYPTION_KEYS", TEST_ENCRYPTION_KEYS)
    monkeypatch.setenv("SIGURNA_TWILIO_AUTH_TOKEN", TWILIO_AUTH_TOKEN)
    get_settings.cache_clear()
    assert run("db", "upgrade").exit_code == 0
    loaded = run("demo", "load")
    assert loaded.exit_code == 0, loaded.output
    engine = create_db_engine(make_settings(cli_url))
    yield engine
    engine.dispose()


def use_keys(monkeypatch: pytest.MonkeyPatch, keys: str) -> None:
    monkeypatch.setenv("SIGURNA_ENCRYPTION_KEYS", keys)
    get_settings.cache_clear()


def demo_under_keys(engine: Engine) -> dict[str, dict[str | None, int]]:
    with Session(engine) as session:
        return under_keys(session)


def test_keys_rotate_reseals_the_demo_under_the_new_key_and_keys_status_shows_it(
    operator: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = demo_under_keys(operator)
    assert demo == {
        "referral.dossier_sealed": {"k2": 2},
        "shelter.address_sealed": {"k2": 2},
        "shelter_stay.municipality_sealed": {"k2": 1},
        "shelter_stay_member.name_sealed": {"k2": 2},
        "safety_case.name_sealed": {"k2": 4},
        "safety_risk_assessment.sealed": {"k2": 1},
        "safety_plan_revision.sealed": {"k2": 2},
        "safety_assistance_step.what_sealed": {"k2": 2},
        "safety_consent.purpose_sealed": {"k2": 1},
        "hotline_call.caller_sealed": {"k2": 2},
    }
    total = sum(n for keys in demo.values() for n in keys.values())
    use_keys(monkeypatch, f"k3:{K3},{TEST_ENCRYPTION_KEYS}")

    with Session(operator) as session:
        empty = sum(counts.get(None, 0) for _, counts in sealed.status(session))
    status = run("keys", "status")
    assert status.exit_code == 0, status.output
    lines = {line.split()[0]: line.split()[1:] for line in status.stdout.splitlines()[1:]}
    assert status.stdout.splitlines()[0] == "active key: k3 (configured: k3, k2, k1)"
    assert lines["shelter.address_sealed"] == ["k2", "2"]
    assert lines["shelter_bed.out_of_service_reason_sealed"][0] == "none"
    assert lines["hotline_call.caller_sealed"] == ["k2", "2"]
    assert lines["total"] == ["k2", f"{total},", "none", str(empty)]

    rotated = run("keys", "rotate", "--batch", "1")
    assert rotated.exit_code == 0, rotated.output
    table = {line.split()[0]: line.split()[1:] for line in rotated.stdout.splitlines()[2:]}
    assert rotated.stdout.splitlines()[0] == "re-sealed under key k3"
    assert rotated.stdout.splitlines()[1].split() == [
        "column",
        "current",
        "re-sealed",
        "failed",
        "pending",
    ]
    assert table["referral.dossier_sealed"] == ["0", "2", "0", "0"]
    assert table["shelter.address_sealed"] == ["0", "2", "0", "0"]
    assert table["shelter_stay.municipality_sealed"] == ["0", "1", "0", "0"]
    assert table["shelter_stay_member.name_sealed"] == ["0", "2", "0", "0"]
    assert table["hotline_call.caller_sealed"] == ["0", "2", "0", "0"]
    assert table["total"] == ["0", str(total), "0", "0"]
    assert demo_under_keys(operator) == {
        name: {"k3": n} for name, keys in demo.items() for n in keys.values()
    }
    with Session(operator) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "keys.rotated")).all()
        assert [(e.subject_type, e.subject_id, e.reason) for e in events] == [
            ("encryption_key", "k3", f"{total} sealed values re-sealed")
        ]

    again = run("keys", "rotate")
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[-1].split() == ["total", str(total), "0", "0", "0"]
    assert run("audit", "verify").exit_code == 0
    after = run("keys", "status")
    assert after.stdout.splitlines()[-1].split() == ["total", "k3", f"{total},", "none", str(empty)]


def test_keys_rotate_exits_1_and_names_the_rows_it_could_not_open(
    operator: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # k2 is dropped before its rows were re-sealed: nothing opens, nothing is written.
    use_keys(monkeypatch, f"k3:{K3}")
    with Session(operator) as session:
        addresses = sorted(str(s.id) for s in session.exec(select(Shelter)).all())
    result = run("keys", "rotate")
    assert result.exit_code == 1
    table = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[2:]}
    assert table["total"] == [
        "0",
        "0",
        "19",
        "0",
    ]  # every demo value (7, 2 callers, 10 in cases)
    assert table["shelter.address_sealed"] == ["0", "0", "2", "0"]
    assert f"could not open shelter.address_sealed of rows {', '.join(addresses)}" in (
        result.stderr
    )
    assert demo_under_keys(operator)["shelter.address_sealed"] == {"k2": 2}
