"""What the shelter pages share: enum labels (msgids), the local time a form field means, and
the stay's clocks.

The labels are English msgids (`N_`); templates translate them where they are shown.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from console.pages import inbox_common
from console.render import N_, PREFIX
from core.context import Context
from core.errors import NotFound
from referrals.models import ConsentScope, LegalBasis, ReferralStatus
from shelters.deps import WORK, Gate, admit_to_shelter
from shelters.models import (
    AdmissionChannel,
    BedKind,
    BedState,
    CswOutcome,
    Destination,
    ExtensionStatus,
    Group,
    MemberRole,
    SentTo,
    Sex,
    ShelterPublic,
    StayStatus,
)
from shelters.router import configuration

BED_STATE = {
    BedState.FREE: N_("Free"),
    BedState.OCCUPIED: N_("Occupied"),
    BedState.RESERVED: N_("Held"),
    BedState.OUT_OF_SERVICE: N_("Out of service"),
}
# The board's CSS class of each state (the text label above says the same: never colour only).
BED_CLASS = {
    BedState.FREE: "free",
    BedState.OCCUPIED: "occupied",
    BedState.RESERVED: "held",
    BedState.OUT_OF_SERVICE: "out",
}
BED_KIND = {BedKind.BED: N_("Bed"), BedKind.COT: N_("Cot"), BedKind.EMERGENCY: N_("Emergency bed")}
SEX = {Sex.FEMALE: N_("Female"), Sex.MALE: N_("Male"), Sex.OTHER: N_("Other")}
CHANNEL = {
    AdmissionChannel.IN_PERSON: N_("In person"),
    AdmissionChannel.HOTLINE: N_("Hotline"),
    AdmissionChannel.POLICE: N_("Police"),
    AdmissionChannel.CSW: N_("Centre for Social Work"),
    AdmissionChannel.NGO: N_("Another organisation"),
    AdmissionChannel.OTHER: N_("Other"),
}
GROUP = {
    Group.WOMEN: N_("Women"),
    Group.WOMEN_WITH_CHILDREN: N_("Women with children"),
    Group.LGBTI_YOUTH: N_("LGBTI youth"),
    Group.TRAFFICKING_VICTIMS: N_("Victims of trafficking"),
    Group.UNACCOMPANIED_CHILDREN: N_("Unaccompanied children"),
}
MEMBER_ROLE = {MemberRole.CLIENT: N_("Client"), MemberRole.CHILD: N_("Child")}
STAY_STATUS = {StayStatus.ACTIVE: N_("Active"), StayStatus.ENDED: N_("Ended")}
DESTINATION = {
    Destination.HOME: N_("Home"),
    Destination.RELATIVES: N_("Relatives"),
    Destination.CSW_PLACEMENT: N_("Placement by the Centre for Social Work"),
    Destination.ANOTHER_SHELTER: N_("Another shelter"),
    Destination.SUPPORT_AT_DISTANCE: N_("Support at distance"),
    Destination.OWN_DECISION: N_("Left on her own decision"),
}
CSW_OUTCOME = {
    CswOutcome.LONGER_TERM_ACCOMMODATION: N_("Longer-term accommodation"),
    CswOutcome.OTHER_MEASURE: N_("Another measure"),
    CswOutcome.DECLINED: N_("Declined"),
}
EXTENSION_STATUS = {
    ExtensionStatus.PENDING: N_("Waiting for a supervisor"),
    ExtensionStatus.APPROVED: N_("Approved"),
    ExtensionStatus.REJECTED: N_("Rejected"),
}
SENT_TO = {
    SentTo.PARTNER_SHELTER: N_("A partner shelter"),
    SentTo.SUPPORT_AT_DISTANCE: N_("Support at distance"),
    SentTo.OTHER_SERVICE: N_("Another service"),
    SentTo.NOWHERE: N_("Nowhere"),
    SentTo.UNKNOWN: N_("Not known yet"),
}
FAILED = {
    "sex": N_("The shelter does not take this person's sex."),
    "age": N_("The person's age is outside the shelter's range."),
    "group": N_("The shelter does not serve this group."),
    "children": N_("The shelter does not take accompanying children."),
    "capacity": N_("The shelter is at capacity."),
    "soft_capacity_nights": N_("The shelter has used its soft capacity for the nights allowed."),
    "no_free_bed": N_("There is no free bed for every person of the group."),
}
# A referral's team and outcome read as on the inbox's pages.
TEAM = inbox_common.TEAM
OUTCOME = inbox_common.OUTCOME
REFERRAL_STATUS = {
    ReferralStatus.OPEN: N_("Sent, not yet opened"),
    ReferralStatus.ACKNOWLEDGED: N_("Acknowledged"),
    ReferralStatus.INFORMATION_REQUESTED: N_("Information requested"),
    ReferralStatus.DECIDED: N_("Decided"),
    ReferralStatus.WITHDRAWN: N_("Withdrawn"),
}
CONSENT_SCOPE = {
    ConsentScope.IDENTITY: N_("Her name, sex and age"),
    ConsentScope.CHILDREN: N_("The children's names, sexes and ages"),
    ConsentScope.CIRCUMSTANCES: N_("The summary of what happened and what is needed"),
}
LEGAL_BASIS = {
    LegalBasis.EMERGENCY_ACCOMMODATION: N_("Emergency accommodation (the law obliges it)"),
    LegalBasis.CHILD_AT_RISK: N_("A child at risk (the law obliges it)"),
    LegalBasis.LEGAL_OBLIGATION: N_("Another legal obligation"),
}

LABELS: dict[str, Any] = {
    "bed_state": BED_STATE,
    "bed_class": BED_CLASS,
    "bed_kind": BED_KIND,
    "sexes": SEX,
    "channels": CHANNEL,
    "groups": GROUP,
    "member_roles": MEMBER_ROLE,
    "stay_statuses": STAY_STATUS,
    "destinations": DESTINATION,
    "csw_outcomes": CSW_OUTCOME,
    "extension_statuses": EXTENSION_STATUS,
    "sent_to_labels": SENT_TO,
    "failed_labels": FAILED,
    "referral_statuses": REFERRAL_STATUS,
    "teams": TEAM,
    "consent_scopes": CONSENT_SCOPE,
    "legal_bases": LEGAL_BASIS,
    "outcomes": OUTCOME,
}

BAD_TIME = "Enter the date and time as the form asks (day, month, year, hours and minutes)."


@dataclass(frozen=True)
class Clock:
    """One of a stay's deadlines: what it is, when, and whether it is met or passed."""

    label: str  # msgid
    due: datetime
    done: bool
    done_label: str  # msgid shown when done
    overdue: bool
    soon: bool


def clock(label: str, due: datetime, now: datetime, *, done: bool, done_label: str) -> Clock:
    return Clock(
        label=label,
        due=due,
        done=done,
        done_label=done_label,
        overdue=not done and due <= now,
        soon=not done and now < due <= now + timedelta(hours=24),
    )


def shelter_url(org_id: uuid.UUID, shelter_id: uuid.UUID) -> str:
    return f"{PREFIX}/o/{org_id}/shelters/{shelter_id}"


def shelter_values(ctx: Gate) -> dict[str, Any]:
    """What every page of one shelter shows: its name, its pages' base address, the labels."""
    base = shelter_url(ctx.shelter.organisation_id, ctx.shelter.id)
    return {"shelter": ctx.shelter, "base": base, "active": "shelters", **LABELS}


def her_shelters(org_id: uuid.UUID, ctx: Context) -> list[tuple[ShelterPublic, Gate]]:
    """Each shelter of the organisation she may work in, admitted by the rule of the shelter
    gate of its routes (`WORK`), for a page over several shelters: exactly those the API would
    answer her about (each as the shelter list shows it, and admitted)."""
    admitted: list[tuple[ShelterPublic, Gate]] = []
    for shelter in configuration.list_shelters_route(org_id, ctx.principal, ctx.session):
        try:
            gate = admit_to_shelter(
                WORK,
                ctx.principal,
                ctx.session,
                ctx.now,
                ctx.cipher,
                org_id=org_id,
                shelter_id=shelter.id,
            )
        except NotFound:
            continue
        admitted.append((shelter, gate))
    return admitted
