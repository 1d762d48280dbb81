"""Demo data for `make run`: fictional organisations and staff, nothing real."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pwdlib import PasswordHash
from sqlmodel import Session, select

from core import users
from core.audit import Actor
from core.config import Settings
from core.models import Organisation, OrganisationCreate, OrganisationKind, Role, UserCreate
from core.passwords import generate_password

# example.org is reserved for documentation (RFC 2606): these addresses reach nobody.
DEMO_ORGANISATIONS: tuple[tuple[str, OrganisationKind, str, str, str], ...] = (
    ("Demo SOS Line North", OrganisationKind.NGO, "ME", "Europe/Podgorica", "sos-north"),
    ("Demo Shelter South", OrganisationKind.NGO, "ME", "Europe/Podgorica", "shelter-south"),
    ("Demo Centre for Social Work", OrganisationKind.CSW, "ME", "Europe/Podgorica", "csw"),
)
DEMO_STAFF: dict[OrganisationKind, tuple[tuple[str, tuple[Role, ...], bool], ...]] = {
    OrganisationKind.NGO: (
        ("admin", (Role.ADMIN,), False),
        ("supervisor", (Role.SUPERVISOR,), False),
        ("counselor", (Role.COUNSELOR,), False),
        ("volunteer", (Role.COUNSELOR,), True),
        ("shelter", (Role.SHELTER_STAFF,), False),
    ),
    OrganisationKind.CSW: (
        ("admin", (Role.ADMIN,), False),
        ("supervisor", (Role.SUPERVISOR,), False),
        ("officer", (Role.CSW_OFFICER,), False),
    ),
    OrganisationKind.PARTNER: (),
}


@dataclass(frozen=True)
class DemoAccount:
    organisation: str
    email: str
    roles: tuple[Role, ...]
    password: str


def demo_loaded(session: Session) -> bool:
    first = DEMO_ORGANISATIONS[0][0]
    return session.exec(select(Organisation).where(Organisation.name == first)).first() is not None


def load_demo(
    session: Session, *, now: datetime, settings: Settings, hasher: PasswordHash
) -> list[DemoAccount]:
    """Create the demo organisations and accounts; returns the accounts with their passwords."""
    actor = Actor.system("demo")
    accounts: list[DemoAccount] = []
    for name, kind, country, zone, domain in DEMO_ORGANISATIONS:
        organisation = users.create_organisation(
            session,
            now=now,
            data=OrganisationCreate(name=name, kind=kind, country_code=country, time_zone=zone),
            actor=actor,
        )
        for local, roles, volunteer in DEMO_STAFF[kind]:
            email = f"{local}@{domain}.example.org"
            password = generate_password()
            users.create_user(
                session,
                now=now,
                settings=settings,
                hasher=hasher,
                organisation=organisation,
                data=UserCreate(
                    email=email,
                    display_name=f"Demo {local.title()} ({name.split()[-1]})",
                    roles=list(roles),
                    is_volunteer=volunteer,
                    password=password,
                ),
                actor=actor,
                must_change_password=False,
            )
            accounts.append(DemoAccount(name, email, roles, password))
    return accounts
