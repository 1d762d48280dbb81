"""Who may read or write a case: a pure decision over the facts the gate gathers.

Deny by default. The answer names the basis a read is audited under:

- **team**: the owner and the members of the case team read and write everything;
- **shelter**: staff of the shelter where her stay (linked to the case) is running now are on
  the team while it runs, and fall off when she leaves;
- **break_glass**: a supervisor of the case's organisation outside the team, inside the hour of a
  break-glass opening, reads and writes everything (the opening is alerted and reviewed);
- **consent**: a user of another organisation named by a live consent (not withdrawn, not
  expired) reads, never writes, the sections it names; never while "do not disclose" is set.

Admins are never let in (they keep accounts, not cases). Anyone else is refused, and the route
answers as if the case did not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core.models import Role
from safety_plans.models import Section

ALL_SECTIONS = frozenset(Section)


class Basis(StrEnum):
    TEAM = "team"
    SHELTER = "shelter"
    BREAK_GLASS = "break_glass"
    CONSENT = "consent"


@dataclass(frozen=True)
class Caller:
    user_id: uuid.UUID
    organisation_id: uuid.UUID
    roles: frozenset[Role]


@dataclass(frozen=True)
class CaseFacts:
    organisation_id: uuid.UUID
    owner_id: uuid.UUID
    team: frozenset[uuid.UUID]
    do_not_disclose: bool
    # Users on the staff of a shelter where one of the case's stays is running now.
    shelter_staff: frozenset[uuid.UUID]


@dataclass(frozen=True)
class Opening:
    """A break-glass opening of this case by this caller."""

    expires_at: datetime


@dataclass(frozen=True)
class Sharing:
    """A consent naming the caller's organisation."""

    sections: frozenset[Section]
    expires_at: datetime
    withdrawn_at: datetime | None


@dataclass(frozen=True)
class Access:
    basis: Basis
    sections: frozenset[Section]
    may_write: bool

    @property
    def is_team(self) -> bool:
        return self.basis is not Basis.CONSENT


def decide(
    caller: Caller,
    case: CaseFacts,
    *,
    now: datetime,
    openings: Iterable[Opening] = (),
    consents: Iterable[Sharing] = (),
) -> Access | None:
    """How the caller may use the case now, or None (refused)."""
    if Role.ADMIN in caller.roles and len(caller.roles) == 1:
        return None
    if caller.organisation_id == case.organisation_id:
        if caller.user_id == case.owner_id or caller.user_id in case.team:
            return Access(Basis.TEAM, ALL_SECTIONS, may_write=True)
        if Role.SHELTER_STAFF in caller.roles and caller.user_id in case.shelter_staff:
            return Access(Basis.SHELTER, ALL_SECTIONS, may_write=True)
        if Role.SUPERVISOR in caller.roles and any(o.expires_at > now for o in openings):
            return Access(Basis.BREAK_GLASS, ALL_SECTIONS, may_write=True)
        return None
    if case.do_not_disclose:
        return None
    live = [c.sections for c in consents if c.withdrawn_at is None and c.expires_at > now]
    if not live:
        return None
    return Access(Basis.CONSENT, frozenset().union(*live), may_write=False)
