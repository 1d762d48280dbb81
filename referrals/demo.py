"""Demo data for `make run`: the demo CSW is competent for Podgorica, has e-mail contacts, and
its officer is on its child-protection team (its supervisor is not: it sees children unnamed)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from core.audit import Actor
from core.config import get_settings
from core.crypto import cipher_from_settings
from core.models import Organisation, User
from notifications import service as outbox
from notifications.models import Channel, ContactCreate, Purpose
from referrals import service, team

DEMO_CSW = "Demo Centre for Social Work"
DEMO_MUNICIPALITIES = ("Podgorica", "Danilovgrad")
# example.org is reserved for documentation (RFC 2606): these addresses reach nobody.
DEMO_CHILD_PROTECTION = "officer@csw.example.org"
DEMO_CONTACTS = (
    ("intake@csw.example.org", "Intake desk", Purpose.REFERRALS),
    ("children@csw.example.org", "Child protection team", Purpose.CHILD_PROTECTION),
    ("head@csw.example.org", "Head of the centre", Purpose.ESCALATION),
)


def load(session: Session, *, now: datetime) -> list[str]:
    """Make the demo CSW competent for its municipalities and give it contacts."""
    csw = session.exec(select(Organisation).where(Organisation.name == DEMO_CSW)).first()
    if csw is None:
        return []
    actor = Actor.system("demo")
    settings = get_settings()
    for name in DEMO_MUNICIPALITIES:
        municipality = service.find_municipality(session, country_code="ME", name=name)
        if municipality is not None:
            service.set_competent_csw(
                session, now=now, municipality=municipality, csw_organisation_id=csw.id, actor=actor
            )
    for address, label, purpose in DEMO_CONTACTS:
        outbox.create_contact(
            session,
            now=now,
            organisation_id=csw.id,
            data=ContactCreate(
                channel=Channel.EMAIL, address=address, label=label, purposes=[purpose]
            ),
            settings=settings,
            cipher=cipher_from_settings(settings),
            actor=actor,
        )
    officer = session.exec(select(User).where(User.email == DEMO_CHILD_PROTECTION)).first()
    if officer is not None:
        team.add(session, now=now, organisation_id=csw.id, user_id=officer.id, actor=actor)
    return [
        f"Demo CSW: competent for {', '.join(DEMO_MUNICIPALITIES)}; e-mail contacts only",
        "Demo CSW: its officer is on its child-protection team (reads children's names)",
    ]
