"""What a recipient may read of a referral's personal part, and the audit of every such read.

The personal part is cut to the client's consent. A child at risk is the one exception the law
makes: the centre's child-protection team must be able to identify the child, so its members
read the children's names, sexes and ages without consent. Everyone else at the centre reads
how many children there are and their ages (youngest first), never a name (which would also
give away the mother's surname) or a sex. Each read is audited in the reader's transaction,
saying what it showed and never a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from core import audit
from core.audit import Actor
from core.crypto import FieldCipher
from referrals import service
from referrals.models import ConsentScope, LegalBasis, Referral, Team


@dataclass(frozen=True)
class Shared:
    """What one reader may see of a referral's personal part."""

    client: dict[str, Any] | None
    children: list[dict[str, Any]] | None  # names, sexes and ages
    children_ages: list[int] | None  # a child at risk: ages only, for every reader
    names_withheld: bool  # a child at risk, read by someone outside the team
    circumstances: str | None


def child_at_risk(referral: Referral) -> bool:
    """Referred to child protection without consent, because the law obliges it."""
    return (
        referral.legal_basis is LegalBasis.CHILD_AT_RISK and referral.team is Team.CHILD_PROTECTION
    )


def cut(dossier: dict[str, Any], referral: Referral, *, on_team: bool) -> Shared:
    """The dossier cut to the consent's scope, and for a child at risk to the reader's team."""
    scope = set(referral.consent_scope)
    by_law = child_at_risk(referral)
    children = dossier.get("children")
    named = ConsentScope.CHILDREN in scope or (by_law and on_team)
    return Shared(
        client=dossier.get("client") if ConsentScope.IDENTITY in scope else None,
        children=children if named else None,
        children_ages=sorted(c["age"] for c in children or []) if by_law else None,
        names_withheld=by_law and not named,
        circumstances=dossier.get("circumstances") if ConsentScope.CIRCUMSTANCES in scope else None,
    )


def _what(shared: Shared, referral: Referral) -> str:
    """The audit's account of a read: which parts it showed, never their content."""
    parts: list[str] = []
    if shared.client is not None:
        parts.append("identity")
    if shared.children is not None:
        by_consent = ConsentScope.CHILDREN in referral.consent_scope
        parts.append("children named " + ("(consent)" if by_consent else "(child-protection team)"))
    elif shared.names_withheld:
        parts.append("children unnamed (ages only)")
    if shared.circumstances is not None:
        parts.append("circumstances")
    return "shown: " + (", ".join(parts) or "nothing personal")


def disclose(
    session: Session,
    *,
    now: datetime,
    cipher: FieldCipher,
    referral: Referral,
    actor: Actor,
    on_team: bool,
) -> Shared:
    """What this reader may see of the referral, audited as a read in the same transaction."""
    shared = cut(service.dossier_of(cipher, referral), referral, on_team=on_team)
    audit.record(
        session,
        now,
        actor,
        "referral.read",
        "referral",
        referral.id,
        referral.to_organisation_id,
        reason=_what(shared, referral),
    )
    return shared
