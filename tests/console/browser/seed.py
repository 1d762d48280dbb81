"""What the night-shift script needs beyond the demo data, made through the app's own services
before the server starts (never raw SQL): per language run, two missed calls with their
callback tasks at the demo SOS line, and a stay at the demo youth house with an extension
waiting for a supervisor. Everything else (the admission, the referral, the decision) the
script does itself through the pages.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, col, select

from core.audit import Actor
from core.clock import SystemClock
from core.config import get_settings
from core.crypto import cipher_from_settings
from core.db import create_db_engine
from core.models import Organisation, Role, User
from hotline import service as hotline_service
from hotline.models import CallbackTask, Hotline
from shelters import service as shelter_service
from shelters.models import AdmissionChannel, AdmissionCreate, ExtensionCreate, Group, PersonIn, Sex
from shelters.service.admission import Admitted

LINE = "Demo SOS Line North"
SHELTER_ORG = "Demo Shelter South"
CSW = "Demo Centre for Social Work"
SAFE_HOUSE = "Demo Safe House"
YOUTH_HOUSE = "Demo Youth House"
YOUTH_STAFF = "shelter@sos-north.example.org"
# Fictional numbers (ACMA's range reserved for drama, 0491 570 xxx).
CALLERS = ("+61491570156", "+61491570157")
JUSTIFICATION = "She waits for a room in longer-term housing that the social worker arranged."


@dataclass(frozen=True)
class Run:
    """What one language's run of the script finds seeded."""

    tasks: tuple[uuid.UUID, uuid.UUID]  # the first to mark not safe, the second to close
    extension_stay: uuid.UUID
    extension: uuid.UUID


@dataclass(frozen=True)
class Seeded:
    organisations: dict[str, uuid.UUID]  # demo organisation name -> id
    shelters: dict[str, uuid.UUID]  # demo shelter name -> id
    runs: dict[str, Run]  # language code -> its data


def _organisation(session: Session, name: str) -> Organisation:
    found = session.exec(select(Organisation).where(Organisation.name == name)).one()
    return found


def _missed_call(session: Session, hotline: Hotline, caller: str) -> uuid.UUID:
    """A call nobody answered (the status callback's path): one callback task."""
    settings = get_settings()
    now = SystemClock().now()
    call = hotline_service.record_unseen_call(
        session,
        cipher=cipher_from_settings(settings),
        hotline=hotline,
        call_sid="CA" + uuid.uuid4().hex,
        caller_number=caller,
        started_at=now - timedelta(minutes=5),
    )
    hotline_service.status_changed(
        session, now=now, settings=settings, call=call, status="no-answer"
    )
    task = session.exec(select(CallbackTask).where(CallbackTask.call_id == call.id)).one()
    return task.id


def _stay_with_extension(session: Session, lang: str) -> tuple[uuid.UUID, uuid.UUID]:
    """A guest of the youth house whose stay has an extension waiting for a decision."""
    settings = get_settings()
    cipher = cipher_from_settings(settings)
    now = SystemClock().now()
    actor = Actor.system("browser-tests")
    line = _organisation(session, LINE)
    [shelter] = [
        s
        for s in shelter_service.list_shelters(session, organisation_id=line.id)
        if s.name == YOUTH_HOUSE
    ]
    staff = session.exec(select(User).where(User.email == YOUTH_STAFF)).one()
    admitted = shelter_service.admit(
        session,
        now=now,
        shelter=shelter,
        data=AdmissionCreate(
            client=PersonIn(name=f"Demo Guest {lang}", sex=Sex.FEMALE, age=24),
            channel=AdmissionChannel.IN_PERSON,
            municipality="Danilovgrad",
            group=Group.LGBTI_YOUTH,
            contract_days=3,
        ),
        cipher=cipher,
        actor=actor,
        actor_roles=frozenset({Role.SHELTER_STAFF}),
        user_id=staff.id,
    )
    assert isinstance(admitted, Admitted), "the youth house has no free bed for the seed"
    stay = admitted.stay
    extension = shelter_service.request_extension(
        session,
        now=now,
        shelter=shelter,
        stay=stay,
        data=ExtensionCreate(
            new_end=stay.planned_end + timedelta(days=4), justification=JUSTIFICATION
        ),
        cipher=cipher,
        user_id=staff.id,
        actor=actor,
    )
    session.flush()
    return stay.id, extension.id


def seed(languages: tuple[str, ...]) -> Seeded:
    """Seed the database the settings name (the server's environment must be in force)."""
    engine = create_db_engine(get_settings())
    try:
        with Session(engine, expire_on_commit=False) as session:
            line = _organisation(session, LINE)
            hotline = session.exec(select(Hotline).where(Hotline.organisation_id == line.id)).one()
            runs: dict[str, Run] = {}
            for lang in languages:
                first, second = (_missed_call(session, hotline, c) for c in CALLERS)
                stay, extension = _stay_with_extension(session, lang)
                runs[lang] = Run((first, second), stay, extension)
            organisations = {
                o.name: o.id
                for o in session.exec(
                    select(Organisation).where(col(Organisation.name).in_((LINE, SHELTER_ORG, CSW)))
                )
            }
            shelters = {
                s.name: s.id
                for org_id in organisations.values()
                for s in shelter_service.list_shelters(session, organisation_id=org_id)
            }
            session.commit()
    finally:
        engine.dispose()
    return Seeded(organisations, shelters, runs)
