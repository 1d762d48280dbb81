"""What the inbox and the supervision pages share: labels of the API's values, a form's local
time as an instant, and a form's act undone when the API refuses it. The shelter pages label a
referral's team and outcome with the same labels."""

from typing import Any

from console.render import N_
from notifications.models import Channel, DeliveryState
from referrals.models import (
    ConsentScope,
    Direction,
    LegalBasis,
    Outcome,
    PersonSex,
    ReferralStatus,
    Source,
    Team,
)
from shelters.models import ExtensionStatus

REFERRAL_STATUS = {
    ReferralStatus.OPEN: N_("New"),
    ReferralStatus.ACKNOWLEDGED: N_("Acknowledged"),
    ReferralStatus.INFORMATION_REQUESTED: N_("Information requested"),
    ReferralStatus.DECIDED: N_("Decided"),
    ReferralStatus.WITHDRAWN: N_("Withdrawn"),
}
TEAM = {
    Team.GENERAL: N_("General"),
    Team.CHILD_PROTECTION: N_("Child protection"),
}
SOURCE = {
    Source.ADMISSION: N_("Emergency admission to a shelter"),
    Source.CALL: N_("Hotline call"),
    Source.CASE: N_("Counselling case"),
}
CONSENT_SCOPE = {
    ConsentScope.IDENTITY: N_("Her name, sex and age"),
    ConsentScope.CHILDREN: N_("The children's names, sexes and ages"),
    ConsentScope.CIRCUMSTANCES: N_("What happened and what is needed"),
}
LEGAL_BASIS = {
    LegalBasis.EMERGENCY_ACCOMMODATION: N_("Emergency accommodation"),
    LegalBasis.CHILD_AT_RISK: N_("A child at risk"),
    LegalBasis.LEGAL_OBLIGATION: N_("Another legal obligation"),
}
OUTCOME = {
    Outcome.LONGER_TERM_ACCOMMODATION: N_("Longer-term accommodation"),
    Outcome.OTHER_MEASURE: N_("Another measure"),
    Outcome.DECLINED: N_("Declined"),
}
SEX = {
    PersonSex.FEMALE: N_("Female"),
    PersonSex.MALE: N_("Male"),
    PersonSex.OTHER: N_("Other"),
}
DIRECTION = {
    Direction.QUESTION: N_("Request for information"),
    Direction.ANSWER: N_("Answer from the sender"),
}
DELIVERY_STATE = {
    DeliveryState.PENDING: N_("Waiting"),
    DeliveryState.SENT: N_("Sent"),
    DeliveryState.DEAD: N_("Failed"),
}
CHANNEL = {
    Channel.SMS: N_("SMS"),
    Channel.EMAIL: N_("E-mail"),
    Channel.WEBHOOK: N_("Webhook"),
}
EXTENSION_STATUS = {
    ExtensionStatus.PENDING: N_("Waiting for a decision"),
    ExtensionStatus.APPROVED: N_("Approved"),
    ExtensionStatus.REJECTED: N_("Rejected"),
}

# The labels the referral pages show (Any: `page` takes them as keywords).
LABELS: dict[str, Any] = {
    "referral_statuses": REFERRAL_STATUS,
    "teams": TEAM,
    "sources": SOURCE,
    "consent_scopes": CONSENT_SCOPE,
    "legal_bases": LEGAL_BASIS,
    "outcomes": OUTCOME,
    "sexes": SEX,
    "directions": DIRECTION,
}
