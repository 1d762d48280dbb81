"""A counselling service with a case, its team, a shelter, a neighbour NGO and a CSW, built
through the API where the API exists (fictional data only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from core.audit import AuditEvent
from core.auth import TOKEN_PREFIX, new_secret, token_digest
from core.config import Settings
from core.crypto import FieldCipher, cipher_from_settings
from core.models import ApiToken, Organisation, OrganisationKind, Role, User
from safety_plans.risk import instrument
from shelters.models import Shelter
from tests.conftest import World, act_as
from tests.shelters.conftest import admission, assign, make_shelter

QUESTIONS = tuple(q.id for q in instrument().questions)


def all_no(**changes: str) -> dict[str, str]:
    answers = dict.fromkeys(QUESTIONS, "no")
    answers.update(changes)
    return answers


def ok(response: httpx2.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def count(db: Session, table: Any) -> int:
    return int(db.exec(select(func.count()).select_from(table)).one())


def audit_count(db: Session) -> int:
    return count(db, AuditEvent)


@dataclass
class Clinic:
    """An NGO's counselling service and its neighbours."""

    world: World
    client: TestClient
    cipher: FieldCipher
    ngo: Organisation
    owner: User
    member: User
    spare: User  # a counselor of the NGO, on no team
    other: User  # a counselor of the NGO, on no team
    staff: User  # shelter staff of the NGO's shelter
    supervisor: User
    supervisor2: User
    admin: User
    shelter: Shelter
    neighbour: Organisation  # another NGO
    outsider: User  # a counselor of the neighbour NGO
    csw: Organisation
    officer: User  # a CSW officer
    case: dict[str, Any] = field(default_factory=dict)

    # --- requests --------------------------------------------------------------------------

    def as_(self, user: User | None, *, second_factor: bool = True) -> TestClient:
        cookies = self.world.login_cookie(user, second_factor=second_factor) if user else None
        self.world.db.commit()
        return act_as(self.client, cookies)

    def token(self, role: Role = Role.COUNSELOR) -> dict[str, str]:
        secret = TOKEN_PREFIX + new_secret()
        self.world.db.add(
            ApiToken(
                organisation_id=self.ngo.id,
                name="case system",
                role=role,
                prefix=secret[:10],
                token_hash=token_digest(secret),
                created_at=self.world.clock.now(),
            )
        )
        self.world.db.commit()
        return {"Authorization": f"Bearer {secret}"}

    @property
    def now(self) -> datetime:
        return self.world.clock.now()

    @property
    def cases(self) -> str:
        return f"/organisations/{self.ngo.id}/cases"

    @property
    def url(self) -> str:
        return f"{self.cases}/{self.case['id']}"

    @property
    def org(self) -> str:
        return f"/organisations/{self.ngo.id}"

    @property
    def shelter_url(self) -> str:
        return f"{self.org}/shelters/{self.shelter.id}"

    # --- building ---------------------------------------------------------------------------

    def open_case(self, **body: Any) -> dict[str, Any]:
        """A case owned by `owner`, `member` on its team (as the owner, with a second factor)."""
        self.as_(self.owner)
        values: dict[str, Any] = {"name": "Ana Test", "team": [str(self.member.id)]}
        values.update(body)
        made: dict[str, Any] = ok(self.client.post(self.cases, json=values), 201)
        return made

    def admit(self) -> str:
        """A stay admitted to the shelter by its staff; its id."""
        act_as(self.client, self.world.login_cookie(self.staff))
        self.world.db.commit()
        stay = ok(self.client.post(self.shelter_url + "/stays", json=admission()), 201)
        return str(stay["id"])

    def discharge(self, stay_id: str) -> None:
        act_as(self.client, self.world.login_cookie(self.staff))
        self.world.db.commit()
        ok(
            self.client.post(
                f"{self.shelter_url}/stays/{stay_id}/discharge",
                json={"destination": "relatives", "reason": "Went to her sister"},
            )
        )

    def link_stay(self, stay_id: str) -> None:
        self.as_(self.owner)
        ok(self.client.post(self.url + "/links", json={"kind": "stay", "target_id": stay_id}), 201)

    def consent(
        self,
        recipient: Organisation,
        sections: list[str],
        *,
        expires_in: timedelta = timedelta(days=30),
        purpose: str = "CSW decision on accommodation",
    ) -> dict[str, Any]:
        self.as_(self.owner)
        made: dict[str, Any] = ok(
            self.client.post(
                self.url + "/consents",
                json={
                    "recipient_organisation_id": str(recipient.id),
                    "purpose": purpose,
                    "sections": sections,
                    "expires_at": (self.now + expires_in).isoformat(),
                },
            ),
            201,
        )
        return made

    def break_glass(
        self, supervisor: User, reason: str = "She called the night line in danger, owner away"
    ) -> dict[str, Any]:
        self.as_(supervisor)
        made: dict[str, Any] = ok(
            self.client.post(
                self.org + "/break-glass",
                json={"case_number": self.case["number"], "reason": reason},
            ),
            201,
        )
        return made


@pytest.fixture
def cipher(settings: Settings) -> FieldCipher:
    return cipher_from_settings(settings)


@pytest.fixture
def clinic(world: World, client: TestClient, cipher: FieldCipher) -> Clinic:
    ngo = world.organisation()
    shelter, _ = make_shelter(world, cipher, ngo)
    staff = world.user(ngo, Role.SHELTER_STAFF)
    assign(world, shelter, staff)
    neighbour = world.organisation()
    csw = world.organisation(OrganisationKind.CSW)
    clinic = Clinic(
        world=world,
        client=client,
        cipher=cipher,
        ngo=ngo,
        owner=world.user(ngo, Role.COUNSELOR, email="owner@ngo.example.org"),
        member=world.user(ngo, Role.COUNSELOR, email="member@ngo.example.org"),
        spare=world.user(ngo, Role.COUNSELOR),
        other=world.user(ngo, Role.COUNSELOR),
        staff=staff,
        supervisor=world.user(ngo, Role.SUPERVISOR, email="sup1@ngo.example.org"),
        supervisor2=world.user(ngo, Role.SUPERVISOR, email="sup2@ngo.example.org"),
        admin=world.user(ngo, Role.ADMIN),
        shelter=shelter,
        neighbour=neighbour,
        outsider=world.user(neighbour, Role.COUNSELOR),
        csw=csw,
        officer=world.user(csw, Role.CSW_OFFICER),
    )
    world.db.commit()
    return clinic
