"""A CSW's child-protection team: who at the centre may identify a child at risk.

A child at risk is referred without consent because the law obliges it, and the obligation is
to the centre's child-protection service. Its members (officers and supervisors the centre's
admins or supervisors name) read the children's names; everyone else at the centre reads the
referral without them. Joining and leaving are audited.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Session, col, select

from core import audit
from core.audit import Actor
from core.auth import Principal
from core.errors import InvalidInput, NotFound
from core.models import Role, User, UserRole
from referrals import errors
from referrals.models import ChildProtectionMember

# Only those who read the inbox can read a child's identity there.
ELIGIBLE = frozenset({Role.CSW_OFFICER, Role.SUPERVISOR})


def is_member(session: Session, principal: Principal) -> bool:
    """Whether the caller is on their own centre's child-protection team (never a token)."""
    if principal.user_id is None:
        return False
    row = session.get(ChildProtectionMember, principal.user_id)
    return row is not None and row.organisation_id == principal.organisation_id


def members(session: Session, *, organisation_id: uuid.UUID) -> list[tuple[User, datetime]]:
    rows = session.exec(
        select(User, ChildProtectionMember.created_at)
        .join(ChildProtectionMember, col(ChildProtectionMember.user_id) == col(User.id))
        .where(ChildProtectionMember.organisation_id == organisation_id)
        .order_by(col(User.display_name), col(User.id))
    )
    return [(user, since) for user, since in rows.all()]


def _colleague(session: Session, *, organisation_id: uuid.UUID, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None or user.organisation_id != organisation_id:
        raise InvalidInput(errors.NO_SUCH_USER)
    return user


def add(
    session: Session, *, now: datetime, organisation_id: uuid.UUID, user_id: uuid.UUID, actor: Actor
) -> tuple[User, datetime]:
    """Put one of the centre's officers or supervisors on its team (idempotent)."""
    user = _colleague(session, organisation_id=organisation_id, user_id=user_id)
    roles = set(session.exec(select(UserRole.role).where(UserRole.user_id == user.id)).all())
    if not roles & ELIGIBLE or user.disabled_at is not None:
        raise InvalidInput(errors.ONLY_ELIGIBLE_ON_TEAM)
    row = session.get(ChildProtectionMember, user.id)
    if row is not None:
        return user, row.created_at
    session.add(
        ChildProtectionMember(
            user_id=user.id,
            organisation_id=organisation_id,
            added_by=f"{actor.type}:{actor.id}" if actor.id else actor.type,
            created_at=now,
        )
    )
    session.flush()
    audit.record(
        session,
        now,
        actor,
        "referrals.child_protection_member_added",
        "user",
        user.id,
        organisation_id,
    )
    return user, now


def remove(
    session: Session, *, now: datetime, organisation_id: uuid.UUID, user_id: uuid.UUID, actor: Actor
) -> None:
    """Take someone off the team: from their next request they read no child's name."""
    user = _colleague(session, organisation_id=organisation_id, user_id=user_id)
    row = session.get(ChildProtectionMember, user.id)
    if row is None:
        raise NotFound(errors.NOT_ON_TEAM)
    session.delete(row)
    session.flush()
    audit.record(
        session,
        now,
        actor,
        "referrals.child_protection_member_removed",
        "user",
        user.id,
        organisation_id,
    )
