"""Demo data for cases and safety plans: a few fictional cases at the demo SOS line, one with a
medium risk assessment, a safety plan in two revisions, assistance steps and a consent to share
it with the demo CSW; and one at the demo shelter, linked to its running stay.

Everything goes through the services, as a counselor's requests would. Names, places and words
are invented ("Demo Client A"); nothing here describes a real person.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from core.audit import Actor
from core.config import get_settings
from core.crypto import FieldCipher, cipher_from_settings
from core.models import Organisation, User
from safety_plans import risk
from safety_plans.models import (
    AgeBand,
    Agency,
    AssessmentCreate,
    CaseCreate,
    CaseStatus,
    ConsentCreate,
    EscapePlan,
    LinkCreate,
    LinkKind,
    PlanContent,
    SafeContact,
    SafetyCase,
    Section,
    StatusCreate,
    StepCreate,
    ViolenceType,
)
from safety_plans.risk import Answer
from safety_plans.service import cases, plans, sharing
from safety_plans.service.cases import Work
from shelters.models import Stay, StayStatus

LINE = "Demo SOS Line North"
SHELTER_ORG = "Demo Shelter South"
CSW = "Demo Centre for Social Work"
COUNSELOR = "counselor@sos-north.example.org"
SUPERVISOR = "supervisor@sos-north.example.org"
VOLUNTEER = "volunteer@sos-north.example.org"
SHELTER_COUNSELOR = "counselor@shelter-south.example.org"
# Seven non-critical "yes" answers: 7 points, a medium level (thresholds 7 and 14).
YES = (
    "injured",
    "very_frightened",
    "afraid_of_what",
    "isolated",
    "texts_stalking",
    "jealous_controlling",
    "financial",
)

FIRST_PLAN = PlanContent(
    safe_contacts=[SafeContact(name="Demo Friend", how="at work, weekday mornings")],
    code_word="demo-lantern",
    safe_to_call=False,
    escape_plan=EscapePlan(
        bag="Kept at Demo Friend's", documents="Copies with the counselor", where_to_go="Shelter"
    ),
    her_decisions="She wants to stay in touch by coming to the office only.",
)
SECOND_PLAN = FIRST_PLAN.model_copy(
    update={
        "safe_to_call": True,
        "safe_times": "Weekdays 10:00-12:00",
        "safe_ways": "Call the office number; ask for the demo code word",
        "her_decisions": "She agrees to calls in the morning, using the code word.",
    }
)


def _users(session: Session, *emails: str) -> dict[str, User]:
    rows = session.exec(select(User).where(col(User.email).in_(emails))).all()
    return {u.email: u for u in rows}


def _organisation(session: Session, name: str) -> Organisation | None:
    return session.exec(select(Organisation).where(Organisation.name == name)).first()


def load(session: Session, *, now: datetime) -> list[str]:
    """Add the demo cases; returns lines to print."""
    line = _organisation(session, LINE)
    people = _users(session, COUNSELOR, SUPERVISOR, VOLUNTEER, SHELTER_COUNSELOR)
    if line is None or COUNSELOR not in people or SUPERVISOR not in people:
        return []
    cipher = cipher_from_settings(get_settings())
    counselor, supervisor = people[COUNSELOR], people[SUPERVISOR]
    made = [
        _case_with_plan(
            session, now=now, line=line, owner=counselor, team=supervisor, cipher=cipher
        ),
        _open(
            session,
            now,
            line,
            counselor,
            cipher,
            name="Demo Client B",
            age_band=AgeBand.FROM_18_TO_25,
            municipality="Danilovgrad",
            violence_types=[ViolenceType.CYBER, ViolenceType.STALKING],
            do_not_disclose=True,
        ),
    ]
    dormant = _open(
        session,
        now,
        line,
        supervisor,
        cipher,
        name="Demo Client C",
        age_band=AgeBand.FROM_51_TO_65,
        violence_types=[ViolenceType.ECONOMIC],
        team=[people[VOLUNTEER].id] if VOLUNTEER in people else [],
    )
    cases.change_status(
        Work(session, now, dormant, supervisor.id, cipher, Actor.system("demo")),
        StatusCreate(status=CaseStatus.DORMANT, reason="client_paused"),
    )
    made.append(dormant)
    notes = [
        f"Demo cases: {', '.join(c.number for c in made)} at {LINE}; {made[0].number} has a "
        "medium risk,",
        "a plan in 2 revisions and steps, shared with the demo CSW; "
        f"{made[1].number} is do-not-disclose",
    ]
    at_shelter = _shelter_case(session, now=now, owner=people.get(SHELTER_COUNSELOR), cipher=cipher)
    if at_shelter is not None:
        notes.append(
            f"Demo cases: {at_shelter.number} at {SHELTER_ORG}, linked to its running stay "
            "(its shelter staff read it)"
        )
    return notes


def _open(
    session: Session,
    now: datetime,
    organisation: Organisation,
    owner: User,
    cipher: FieldCipher,
    **fields: Any,
) -> SafetyCase:
    """A demo case (the `CaseCreate` fields as keywords), opened through the service."""
    return cases.create_case(
        session,
        now=now,
        organisation_id=organisation.id,
        user_id=owner.id,
        data=CaseCreate(**fields),
        cipher=cipher,
        actor=Actor.system("demo"),
    )


def _case_with_plan(
    session: Session,
    *,
    now: datetime,
    line: Organisation,
    owner: User,
    team: User,
    cipher: FieldCipher,
) -> SafetyCase:
    """Demo Client A: assessed (medium), a plan revised once, two steps, shared with the CSW."""
    actor = Actor.system("demo")
    case = _open(
        session,
        now,
        line,
        owner,
        cipher,
        name="Demo Client A",
        birth_year=1990,
        municipality="Podgorica",
        languages=["sr", "en"],
        children_involved=True,
        violence_types=[ViolenceType.PHYSICAL, ViolenceType.PSYCHOLOGICAL],
        team=[team.id],
    )
    questions = [q.id for q in risk.instrument().questions]
    plans.assess(
        Work(session, now, case, owner.id, cipher, actor),
        AssessmentCreate(answers={q: Answer.YES if q in YES else Answer.NO for q in questions}),
    )
    for plan in (FIRST_PLAN, SECOND_PLAN):
        plans.revise_plan(Work(session, now, case, owner.id, cipher, actor), plan)
    for agency, what, days in (
        (Agency.CSW, "Demo step: apply for one-off financial support", 7),
        (Agency.POLICE, "Demo step: accompany her to report the latest incident", 3),
    ):
        plans.add_step(
            Work(session, now, case, owner.id, cipher, actor),
            StepCreate(agency=agency, what=what, due_at=now + timedelta(days=days)),
        )
    csw = _organisation(session, CSW)
    if csw is not None:
        sharing.record_consent(
            Work(session, now, case, owner.id, cipher, actor),
            ConsentCreate(
                recipient_organisation_id=csw.id,
                purpose="Demo: the CSW's decision on financial support",
                sections=[Section.RISK, Section.SAFETY_PLAN, Section.ASSISTANCE_PLAN],
                expires_at=now + timedelta(days=90),
            ),
        )
    return case


def _shelter_case(
    session: Session, *, now: datetime, owner: User | None, cipher: FieldCipher
) -> SafetyCase | None:
    """Demo Client D at the demo shelter, linked to its running stay (loaded by shelters)."""
    organisation = _organisation(session, SHELTER_ORG)
    if organisation is None or owner is None:
        return None
    stay = session.exec(
        select(Stay).where(
            Stay.organisation_id == organisation.id, Stay.status == StayStatus.ACTIVE
        )
    ).first()
    if stay is None:
        return None
    case = _open(
        session,
        now,
        organisation,
        owner,
        cipher,
        name="Demo Client D",
        age_band=AgeBand.FROM_26_TO_35,
        children_involved=True,
        violence_types=[ViolenceType.PHYSICAL],
    )
    cases.link(
        Work(session, now, case, owner.id, cipher, Actor.system("demo")),
        LinkCreate(kind=LinkKind.STAY, target_id=stay.id),
    )
    return case
