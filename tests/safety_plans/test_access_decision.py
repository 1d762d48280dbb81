"""`safety_plans.access.decide` as a table: who gets in, on what basis, to which sections."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from core.models import Role
from safety_plans.access import (
    ALL_SECTIONS,
    Access,
    Basis,
    Caller,
    CaseFacts,
    Opening,
    Sharing,
    decide,
)
from safety_plans.models import Section

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOME = uuid.UUID(int=1)
OTHER_ORG = uuid.UUID(int=2)
OWNER = uuid.UUID(int=10)
MEMBER = uuid.UUID(int=11)
STAFF = uuid.UUID(int=12)
STRANGER = uuid.UUID(int=13)

CASE = CaseFacts(
    organisation_id=HOME,
    owner_id=OWNER,
    team=frozenset({OWNER, MEMBER}),
    do_not_disclose=False,
    shelter_staff=frozenset({STAFF}),
)
LIVE_OPENING = Opening(NOW + timedelta(minutes=1))
EXPIRED_OPENING = Opening(NOW)  # expires_at == now: over
RISK = frozenset({Section.RISK})
IDENTITY = frozenset({Section.IDENTITY})


def caller(user: uuid.UUID, *roles: Role, organisation: uuid.UUID = HOME) -> Caller:
    return Caller(user, organisation, frozenset(roles))


def sharing(
    sections: frozenset[Section] = RISK,
    *,
    expires: timedelta = timedelta(days=1),
    withdrawn: bool = False,
) -> Sharing:
    return Sharing(sections, NOW + expires, NOW - timedelta(hours=1) if withdrawn else None)


TEAM = Access(Basis.TEAM, ALL_SECTIONS, may_write=True)
SHELTER = Access(Basis.SHELTER, ALL_SECTIONS, may_write=True)
BREAK_GLASS = Access(Basis.BREAK_GLASS, ALL_SECTIONS, may_write=True)


@pytest.mark.parametrize(
    ("who", "openings", "consents", "expected"),
    [
        pytest.param(caller(OWNER, Role.COUNSELOR), (), (), TEAM, id="owner"),
        pytest.param(caller(MEMBER, Role.COUNSELOR), (), (), TEAM, id="team-member"),
        pytest.param(
            caller(MEMBER, Role.SHELTER_STAFF), (), (), TEAM, id="team-member-shelter-staff"
        ),
        pytest.param(caller(STRANGER, Role.COUNSELOR), (), (), None, id="other-counselor"),
        pytest.param(
            caller(STAFF, Role.SHELTER_STAFF), (), (), SHELTER, id="staff-of-running-stay"
        ),
        pytest.param(
            caller(STRANGER, Role.SHELTER_STAFF), (), (), None, id="staff-not-of-her-shelter"
        ),
        pytest.param(
            caller(STAFF, Role.COUNSELOR),
            (),
            (),
            None,
            id="in-staff-set-without-shelter-role",
        ),
        pytest.param(
            caller(STRANGER, Role.SUPERVISOR),
            (LIVE_OPENING,),
            (),
            BREAK_GLASS,
            id="supervisor-live-opening",
        ),
        pytest.param(
            caller(STRANGER, Role.SUPERVISOR),
            (EXPIRED_OPENING,),
            (),
            None,
            id="supervisor-expired-opening",
        ),
        pytest.param(
            caller(STRANGER, Role.SUPERVISOR),
            (EXPIRED_OPENING, LIVE_OPENING),
            (),
            BREAK_GLASS,
            id="supervisor-one-live-among-expired",
        ),
        pytest.param(caller(STRANGER, Role.SUPERVISOR), (), (), None, id="supervisor-no-opening"),
        pytest.param(
            caller(STRANGER, Role.COUNSELOR),
            (LIVE_OPENING,),
            (),
            None,
            id="counselor-with-opening-row",
        ),
        pytest.param(caller(STRANGER, Role.ADMIN), (LIVE_OPENING,), (), None, id="admin-only"),
        pytest.param(caller(OWNER, Role.ADMIN), (), (), None, id="admin-only-even-as-owner"),
        pytest.param(
            caller(OWNER, Role.ADMIN, Role.COUNSELOR), (), (), TEAM, id="admin-and-counselor-owner"
        ),
        pytest.param(
            caller(STRANGER, Role.CSW_OFFICER, organisation=OTHER_ORG),
            (),
            (sharing(),),
            Access(Basis.CONSENT, RISK, may_write=False),
            id="other-org-live-consent",
        ),
        pytest.param(
            caller(STRANGER, Role.CSW_OFFICER, organisation=OTHER_ORG),
            (),
            (sharing(expires=timedelta(0)),),
            None,
            id="other-org-expired-consent",
        ),
        pytest.param(
            caller(STRANGER, Role.CSW_OFFICER, organisation=OTHER_ORG),
            (),
            (sharing(withdrawn=True),),
            None,
            id="other-org-withdrawn-consent",
        ),
        pytest.param(
            caller(STRANGER, Role.CSW_OFFICER, organisation=OTHER_ORG),
            (),
            (),
            None,
            id="other-org-no-consent",
        ),
        pytest.param(
            caller(STRANGER, Role.SUPERVISOR, organisation=OTHER_ORG),
            (LIVE_OPENING,),
            (),
            None,
            id="other-org-supervisor-with-opening-row",
        ),
        pytest.param(
            caller(OWNER, Role.COUNSELOR, organisation=OTHER_ORG),
            (),
            (),
            None,
            id="owner-id-from-another-org",
        ),
        pytest.param(
            caller(STRANGER, Role.CSW_OFFICER, organisation=OTHER_ORG),
            (),
            (
                sharing(RISK),
                sharing(IDENTITY),
                sharing(frozenset({Section.SAFETY_PLAN}), withdrawn=True),
                sharing(frozenset({Section.ASSISTANCE_PLAN}), expires=timedelta(seconds=-1)),
            ),
            Access(Basis.CONSENT, RISK | IDENTITY, may_write=False),
            id="live-consents-union",
        ),
        pytest.param(
            caller(STRANGER, Role.ADMIN, organisation=OTHER_ORG),
            (),
            (sharing(),),
            None,
            id="other-org-admin-with-consent",
        ),
    ],
)
def test_decide(
    who: Caller,
    openings: tuple[Opening, ...],
    consents: tuple[Sharing, ...],
    expected: Access | None,
) -> None:
    assert decide(who, CASE, now=NOW, openings=openings, consents=consents) == expected


@pytest.mark.parametrize(
    "sections", [RISK, IDENTITY, ALL_SECTIONS], ids=["risk", "identity", "all"]
)
def test_do_not_disclose_stops_every_consent(sections: frozenset[Section]) -> None:
    hidden = replace(CASE, do_not_disclose=True)
    officer = caller(STRANGER, Role.CSW_OFFICER, organisation=OTHER_ORG)
    assert decide(officer, hidden, now=NOW, consents=[sharing(sections)]) is None
    # ... and only consents: the team still works the case.
    assert decide(caller(OWNER, Role.COUNSELOR), hidden, now=NOW) == TEAM
    assert decide(caller(STAFF, Role.SHELTER_STAFF), hidden, now=NOW) == SHELTER


def test_staff_fall_off_when_her_stay_ends() -> None:
    ended = replace(CASE, shelter_staff=frozenset())
    assert decide(caller(STAFF, Role.SHELTER_STAFF), ended, now=NOW) is None


def test_only_consent_is_not_team() -> None:
    assert TEAM.is_team
    assert SHELTER.is_team
    assert BREAK_GLASS.is_team
    assert not Access(Basis.CONSENT, RISK, may_write=False).is_team
