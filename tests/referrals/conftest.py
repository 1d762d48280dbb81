"""A network for referrals: an NGO with a shelter, the CSW competent for Podgorica with its
contacts, and their people. Fictional data only (example.org, numbers reserved for fiction)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from core.audit import Actor
from core.config import Settings
from core.crypto import FieldCipher, cipher_from_settings
from core.models import Organisation, OrganisationKind, Role, User
from notifications import service as outbox
from notifications.models import Channel, ContactCreate, NotificationContact, OutboxMessage, Purpose
from referrals import service
from referrals.models import Municipality, Referral, ReferralReminder
from tests.conftest import World, act_as
from tests.shelters.conftest import Place, assign, make_shelter

CSW_EMAIL = "intake@csw-podgorica.example.org"
CSW_HEAD_EMAIL = "head@csw-podgorica.example.org"
CSW_SMS = "+61491570156"  # ACMA's range for fiction
CHILD_TEAM_EMAIL = "children@csw-podgorica.example.org"
BASE_URL = "https://sigurna.example.org"


@dataclass
class Network:
    world: World
    place: Place  # the NGO, its shelter, staff and supervisor
    csw: Organisation
    officer: User
    csw_admin: User
    municipality: Municipality
    contacts: dict[str, NotificationContact]
    webhook_secret: str

    @property
    def ngo(self) -> Organisation:
        return self.place.organisation

    def login(self, client: TestClient, user: User) -> TestClient:
        return act_as(client, self.world.login_cookie(user))


def add_contact(
    db: Session,
    settings: Settings,
    cipher: FieldCipher,
    organisation: Organisation,
    channel: Channel,
    address: str,
    *purposes: Purpose,
    now: Any,
) -> tuple[NotificationContact, str | None]:
    return outbox.create_contact(
        db,
        now=now,
        organisation_id=organisation.id,
        data=ContactCreate(
            channel=channel, address=address, label=f"{channel} desk", purposes=list(purposes)
        ),
        settings=settings.model_copy(update={"webhook_allow_private_hosts": True}),
        cipher=cipher,
        actor=Actor.system("test"),
    )


@pytest.fixture
def cipher(settings: Settings) -> FieldCipher:
    return cipher_from_settings(settings)


@pytest.fixture
def network(world: World, cipher: FieldCipher, settings: Settings, db: Session) -> Network:
    now = world.clock.now()
    ngo = world.organisation(name="SOS Test Line")
    shelter, beds = make_shelter(world, cipher, ngo)
    staff = world.user(ngo, Role.SHELTER_STAFF, email="staff@ngo.example.org")
    supervisor = world.user(ngo, Role.SUPERVISOR, email="supervisor@ngo.example.org")
    assign(world, shelter, staff)
    place = Place(ngo, shelter, beds, staff, supervisor, world)
    csw = world.organisation(OrganisationKind.CSW, name="CSW Podgorica (test)")
    officer = world.user(csw, Role.CSW_OFFICER, email="officer@csw-podgorica.example.org")
    csw_admin = world.user(csw, Role.ADMIN, email="admin@csw-podgorica.example.org")
    municipality = service.find_municipality(db, country_code="ME", name="Podgorica")
    assert municipality is not None
    municipality.csw_organisation_id = csw.id
    db.add(municipality)
    db.flush()
    contacts: dict[str, NotificationContact] = {}
    contacts["email"], _ = add_contact(
        db, settings, cipher, csw, Channel.EMAIL, CSW_EMAIL, Purpose.REFERRALS, now=now
    )
    contacts["sms"], _ = add_contact(
        db, settings, cipher, csw, Channel.SMS, CSW_SMS, Purpose.REFERRALS, now=now
    )
    contacts["webhook"], secret = add_contact(
        db,
        settings,
        cipher,
        csw,
        Channel.WEBHOOK,
        "https://cases.csw-podgorica.example.org/hooks/sigurna",
        Purpose.REFERRALS,
        Purpose.CHILD_PROTECTION,
        now=now,
    )
    contacts["head"], _ = add_contact(
        db, settings, cipher, csw, Channel.EMAIL, CSW_HEAD_EMAIL, Purpose.ESCALATION, now=now
    )
    contacts["children"], _ = add_contact(
        db,
        settings,
        cipher,
        csw,
        Channel.EMAIL,
        CHILD_TEAM_EMAIL,
        Purpose.CHILD_PROTECTION,
        now=now,
    )
    assert secret is not None
    return Network(world, place, csw, officer, csw_admin, municipality, contacts, secret)


def referrals_of(db: Session, stay_id: Any) -> list[Referral]:
    return list(
        db.exec(
            select(Referral).where(Referral.stay_id == stay_id).order_by(col(Referral.team).desc())
        ).all()
    )


def reminders(db: Session, referral: Referral) -> list[ReferralReminder]:
    return list(
        db.exec(
            select(ReferralReminder)
            .where(ReferralReminder.referral_id == referral.id)
            .order_by(col(ReferralReminder.due_at), col(ReferralReminder.sequence))
        ).all()
    )


def outbox_rows(db: Session) -> list[OutboxMessage]:
    return list(
        db.exec(
            select(OutboxMessage).order_by(
                col(OutboxMessage.created_at), col(OutboxMessage.idempotency_key)
            )
        ).all()
    )


@dataclass(frozen=True)
class Bearer:
    """An API token of an organisation (a case system's): its id and its Authorization header."""

    id: str
    headers: dict[str, str]


def bearer(world: World, organisation: Organisation, role: Role) -> Bearer:
    from core.auth import TOKEN_PREFIX, new_secret, token_digest
    from core.models import ApiToken

    secret = TOKEN_PREFIX + new_secret()
    token = ApiToken(
        organisation_id=organisation.id,
        name="case system",
        role=role,
        prefix=secret[:10],
        token_hash=token_digest(secret),
        created_at=world.clock.now(),
    )
    world.db.add(token)
    world.db.flush()
    return Bearer(str(token.id), {"Authorization": f"Bearer {secret}"})


def join_team(client: TestClient, csw_admin: User, user: User, network: Network) -> None:
    """`user` joins their centre's child-protection team, as its admin puts them on it."""
    network.login(client, csw_admin)
    response = client.put(f"/referrals/child-protection-team/{user.id}")
    assert response.status_code == 200, response.text
    client.cookies.clear()
