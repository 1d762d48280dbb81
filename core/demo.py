"""Demo data for `make run`: fictional organisations and staff, nothing real.

In development the accounts that may read cases come with their second factor set up (TOTP, a
fresh secret each load), so that a newcomer is logged in within a minute: the secrets go into the
owner-only credentials file, and `sigurna demo code EMAIL` prints an account's current code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pyotp
from pwdlib import PasswordHash
from sqlmodel import Session, col, select

from core import audit, second_factor, users
from core.audit import Actor
from core.config import Settings
from core.crypto import FieldCipher, cipher_from_settings
from core.errors import NotFound
from core.models import (
    Organisation,
    OrganisationCreate,
    OrganisationKind,
    Role,
    User,
    UserCreate,
)
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
# The roles that read cases, which need a second factor: their demo accounts come enrolled.
SECOND_FACTOR_ROLES = frozenset(
    {Role.COUNSELOR, Role.SUPERVISOR, Role.SHELTER_STAFF, Role.CSW_OFFICER}
)
NOT_A_DEMO_ACCOUNT = "no demo account with that e-mail address"
NO_SECOND_FACTOR = "that demo account has no second factor (it reads no cases, or it was reset)"


@dataclass(frozen=True)
class DemoAccount:
    organisation: str
    email: str
    roles: tuple[Role, ...]
    password: str
    totp_secret: str | None = None  # development only: its second factor, set up

    @property
    def totp_uri(self) -> str | None:
        if self.totp_secret is None:
            return None
        totp = pyotp.TOTP(self.totp_secret)
        return totp.provisioning_uri(name=self.email, issuer_name=second_factor.ISSUER)


def demo_loaded(session: Session) -> bool:
    first = DEMO_ORGANISATIONS[0][0]
    return session.exec(select(Organisation).where(Organisation.name == first)).first() is not None


def load_demo(
    session: Session, *, now: datetime, settings: Settings, hasher: PasswordHash
) -> list[DemoAccount]:
    """Create the demo organisations and accounts; returns the accounts with their passwords
    (and, in development, the second-factor secrets of those that read cases)."""
    actor = Actor.system("demo")
    cipher = cipher_from_settings(settings) if settings.is_development else None
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
            user, _ = users.create_user(
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
            secret = None
            if cipher is not None and SECOND_FACTOR_ROLES & set(roles):
                secret = _enrol(session, now=now, user=user, cipher=cipher, actor=actor)
            accounts.append(DemoAccount(name, email, roles, password, secret))
    return accounts


def _enrol(
    session: Session, *, now: datetime, user: User, cipher: FieldCipher, actor: Actor
) -> str:
    """Set up a demo account's second factor with a fresh secret; returns the secret."""
    secret = pyotp.random_base32()
    second_factor.enrol_with_secret(session, now=now, user=user, secret=secret, cipher=cipher)
    audit.record(
        session, now, actor, "auth.second_factor_enrolled", "user", user.id, reason="demo account"
    )
    return secret


def current_code(session: Session, *, now: datetime, email: str, cipher: FieldCipher) -> str:
    """The TOTP code of a demo account at `now` (for `sigurna demo code`, development only)."""
    demo_names = [name for name, *_ in DEMO_ORGANISATIONS]
    user = session.exec(
        select(User)
        .join(Organisation, col(Organisation.id) == col(User.organisation_id))
        .where(User.email == email.strip().lower(), col(Organisation.name).in_(demo_names))
    ).first()
    if user is None:
        raise NotFound(NOT_A_DEMO_ACCOUNT)
    factor = second_factor.factor_of(session, user.id)
    if factor is None or factor.confirmed_at is None:
        raise NotFound(NO_SECOND_FACTOR)
    secret = cipher.open_pair(
        factor.secret_key_id, factor.secret_sealed, context=second_factor.SECRET_CONTEXT
    )
    if not secret:
        raise NotFound(NO_SECOND_FACTOR)
    return pyotp.TOTP(secret).at(int(now.timestamp()))
