"""Every route that takes a body refuses malformed bodies with a 422 and changes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import Session, SQLModel, func, select

from core.app import create_app
from core.audit import Actor, AuditEvent
from core.config import Settings
from core.crypto import cipher_from_settings
from core.models import ApiToken, AuthSession, Organisation, OrganisationKind, Role, User
from notifications.models import NotificationContact, OutboxMessage
from referrals import service as referral_service
from referrals.models import (
    ConsentSet,
    Municipality,
    Referral,
    ReferralCreate,
    ReferralNote,
    ReferralReminder,
    Source,
)
from safety_plans.models import CaseCreate, SafetyCase
from safety_plans.service import cases as case_service
from shelters import service as shelter_service
from shelters.models import AdmissionChannel as Channel
from shelters.models import (
    AdmissionCreate,
    Bed,
    BedOccupancy,
    EntryApproval,
    EntryLog,
    ExtensionCreate,
    NeedsAssessment,
    Perpetrator,
    PersonIn,
    Room,
    Sex,
    Shelter,
    ShelterStaff,
    Stay,
    StayExtension,
    StayMember,
    TurnAway,
    WorkPlan,
)
from tests.conftest import World, act_as, make_case, make_settings
from tests.shelters.conftest import make_shelter


def _body_routes() -> list[tuple[str, str]]:
    app = create_app(make_settings("sqlite:///:memory:"))
    found = sorted(
        (method, context.path or "")
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and context.body_field is not None
        for method in context.methods or ()
    )
    app.state.engine.dispose()
    return found


BODY_ROUTES = _body_routes()


class _AnyId(dict[str, object]):
    def __missing__(self, key: str) -> object:
        return uuid.uuid4()


MALFORMED = (b"[1, 2]", b'"text"', b'{"unexpected_field": 1}', b"{not json", b"null")


WATCHED: tuple[type[SQLModel], ...] = (
    Organisation,
    User,
    ApiToken,
    AuthSession,
    AuditEvent,
    Shelter,
    ShelterStaff,
    Room,
    Bed,
    Stay,
    StayMember,
    BedOccupancy,
    StayExtension,
    NeedsAssessment,
    WorkPlan,
    Perpetrator,
    EntryApproval,
    EntryLog,
    TurnAway,
    Municipality,
    Referral,
    ReferralReminder,
    ReferralNote,
    NotificationContact,
    OutboxMessage,
)


def _state(db: Session) -> tuple[int, ...]:
    return tuple(int(db.exec(select(func.count()).select_from(model)).one()) for model in WATCHED)


def _shelter_ids(world: World, settings: Settings, organisation: Organisation) -> dict[str, object]:
    """A shelter with a resident, a pending extension and a turn-away: the shelter must exist,
    as its gate looks it up before the body is read; the others are real so that a refused
    body is seen to leave them as they were."""
    now = world.clock.now()
    cipher = cipher_from_settings(settings)
    actor = Actor.system("test")
    shelter, beds = make_shelter(world, cipher, organisation)
    admitted = shelter_service.admit(
        world.db,
        now=now,
        shelter=shelter,
        data=AdmissionCreate(
            client=PersonIn(name="Ana Test", sex=Sex.FEMALE, age=34),
            channel=Channel.IN_PERSON,
            municipality="Podgorica",
        ),
        cipher=cipher,
        actor=actor,
        actor_roles=frozenset({Role.SUPERVISOR}),
        user_id=None,
    )
    assert isinstance(admitted, shelter_service.Admitted)
    staff = world.user(organisation, Role.SHELTER_STAFF)
    extension = shelter_service.request_extension(
        world.db,
        now=now,
        shelter=shelter,
        stay=admitted.stay,
        data=ExtensionCreate(
            new_end=admitted.stay.planned_end + timedelta(days=2),
            justification="The centre for social work has not decided yet.",
        ),
        cipher=cipher,
        user_id=staff.id,
        actor=actor,
    )
    turn_away = TurnAway(
        shelter_id=shelter.id, occurred_at=now, group_size=1, children=0, failed=["capacity"]
    )
    world.db.add(turn_away)
    world.db.flush()
    return {
        "shelter_id": shelter.id,
        "stay_id": admitted.stay.id,
        "extension_id": extension.id,
        "bed_id": beds[-1].id,
        "turn_away_id": turn_away.id,
    }


def _referral(
    world: World, settings: Settings, organisation: Organisation, *, received: bool
) -> Referral:
    """A referral the organisation made, or (received) one another NGO made to it."""
    sender = world.organisation() if received else organisation
    author = world.user(sender, Role.COUNSELOR)  # on the team of the case it is made from
    return referral_service.create_referral(
        world.db,
        now=world.clock.now(),
        organisation_id=sender.id,
        data=ReferralCreate(
            source=Source.CASE,
            case_id=make_case(world.db, author),
            to_organisation_id=organisation.id if received else world.organisation().id,
            consent=ConsentSet(scope=[]),
        ),
        cipher=cipher_from_settings(settings),
        actor=Actor.system("test"),
        user_id=author.id,
    )


def _case(world: World, settings: Settings, organisation: Organisation, owner: User) -> SafetyCase:
    return case_service.create_case(
        world.db,
        now=world.clock.now(),
        organisation_id=organisation.id,
        user_id=owner.id,
        data=CaseCreate(name="Test Client"),
        cipher=cipher_from_settings(settings),
        actor=Actor.system("test"),
    )


def test_there_are_body_routes_to_check() -> None:
    assert ("POST", "/organisations/{org_id}/users") in BODY_ROUTES
    assert ("POST", "/auth/login") in BODY_ROUTES
    assert ("POST", "/organisations/{org_id}/shelters/{shelter_id}/stays") in BODY_ROUTES


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES, ids=[f"{m} {p}" for m, p in BODY_ROUTES])
def test_malformed_bodies_are_refused_and_change_nothing(
    client: TestClient,
    world: World,
    db: Session,
    settings: Settings,
    method: str,
    path: str,
) -> None:
    # The directory and a referral's recipient are a CSW's; everything else an NGO's.
    csw_route = path.startswith(("/municipalities", "/referrals/inbox"))
    organisation = world.organisation(OrganisationKind.CSW if csw_route else OrganisationKind.NGO)
    # Admin and supervisor: a caller every body route admits (policies answer before bodies).
    admin = world.user(organisation, Role.ADMIN, Role.SUPERVISOR)
    target = world.user(organisation, Role.COUNSELOR)
    act_as(client, world.login_cookie(admin, second_factor=True))
    ids = _shelter_ids(world, settings, organisation) if "{shelter_id}" in path else {}
    if "{case_id}" in path:
        # The case gate looks the case up before its body is read: the caller owns one.
        ids["case_id"] = _case(world, settings, organisation, admin).id
    if "{referral_id}" in path:
        # Gates look a referral up before its body is read: it must exist on the caller's side.
        ids["referral_id"] = _referral(world, settings, organisation, received=csw_route).id
    # Any other path parameter gets a random id: the body is refused before it is looked up.
    url = path.format_map(
        _AnyId(org_id=organisation.id, user_id=target.id, token_id=organisation.id, **ids)
    )
    before = _state(db)
    for raw in MALFORMED:
        if raw == b"null" and path.endswith(("/disable", "/enable", "/revoke-sessions", "/revoke")):
            continue  # an optional body may be absent: null is a valid "no reason given"
        response = client.request(
            method, url, content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, (raw, response.text)
        assert response.json()["error"] == "invalid_input"
        assert response.json()["message"]
        assert _state(db) == before
