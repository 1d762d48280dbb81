"""The shelters' error messages, written by us: they never echo input and never name a person or
an address. Raised as `core.errors` types (`NotFound`, `Conflict`, `InvalidInput`, `Forbidden`),
and `OverrideRequired`, the shelters' own.
"""

from __future__ import annotations

from core.errors import Conflict

# Another organisation's shelter, or another shelter's bed, stay, hold or approval, answers
# exactly as a missing one: core's words, the same for every row.
from core.scoped import NOT_FOUND as NOT_FOUND

SESSION_ONLY = "Log in to use this route."

# --- shelters, staff, rooms, beds -------------------------------------------------------------
NOTHING_TO_CHANGE = "Nothing to change: send at least one field of the shelter."
NOT_NULL = "{field}: must not be null."
NOT_SHELTER_STAFF = "Only users with the shelter_staff role can be assigned to a shelter."
ROOM_EXISTS = "name: the shelter already has a room of that name."
NO_SUCH_ROOM = "room_id: the shelter has no such room."
BED_LABEL_EXISTS = "label: the shelter already has a bed with that label."
BED_IN_USE = "The bed is occupied or reserved: move the person or end the hold first."

# --- beds and holds ---------------------------------------------------------------------------
BED_TAKEN = "That bed is already taken: choose another or refresh the bed board."
BED_OUT_OF_SERVICE = "The bed is out of service."
AT_CAPACITY = "The shelter is at capacity."
HOLD_UNTIL = "until: must be in the future and at most 24 hours from now."
HOLD_ENDED = "The hold has already ended."
INFANTS_OVER_CHILDREN = "infants: must not be more than children."

# --- admission --------------------------------------------------------------------------------
ADMITTED_AHEAD = "admitted_at: must not be in the future."
ADMITTED_TOO_EARLY = "admitted_at: must be at most 24 hours ago; admit her as of now."
NO_SUCH_CALL = "call_id: the organisation has no such call."
SOFT_CAPACITY_SUPERVISOR = "Only a supervisor may use the shelter's soft capacity."
NO_SUCH_BED = "bed_id: the shelter has no such bed in service."
COT_FOR_INFANTS = "bed_id: a cot is for a child under three."
NO_SUCH_PARTNER = "sent_to_shelter_id: no such shelter in the network."

# Why an admission was refused (`failed`), as the 409's message says it.
REFUSALS = {
    "sex": "the shelter does not take this person's sex",
    "age": "the person's age is outside the shelter's range",
    "group": "the shelter does not serve this group",
    "children": "the shelter does not take accompanying children",
    "capacity": "the shelter is at capacity",
    "soft_capacity_nights": "the shelter has used its soft capacity for the nights allowed",
    "no_free_bed": "there is no free bed for every person of the group",
}
MEN_ARE_REFERRED = (
    " A man who is a victim is not admitted as a user of this service: refer him to another "
    "service of the protection system (POST /organisations/{org_id}/referrals, source call or "
    "case, to a partner service); the partner shelters listed, if any, take men."
)


def refusal(failed: list[str], *, man: bool) -> str:
    """The message of an admission refused for the checks that `failed`."""
    reasons = "; ".join(REFUSALS[f] for f in failed)
    message = (
        f"No eligible free bed here: {reasons}. The partner shelters listed have free eligible "
        "beds; support at distance is also possible. A turn-away has been recorded."
    )
    return message + (MEN_ARE_REFERRED if man and "sex" in failed else "")


# --- stays ------------------------------------------------------------------------------------
STAY_ENDED = "The stay has ended."
TOO_LONG_A_STAY = "{field}: an emergency stay cannot run beyond {days} days."
NEW_END_NOT_LATER = "new_end: must be after the stay's planned end."
EXTENSION_PENDING = "An extension of this stay is already waiting for a decision."
EXTENSION_DECIDED = "This extension has already been decided."
PLANNED_END_CHANGED = "The stay's planned end changed since the request: ask again."
STAY_UNTIL_ENDED = "stay_until: the stay has already ended."
STAY_UNTIL_PAST = "stay_until: must be in the future."
MOVE_NOT_A_MEMBER = "moves: member_id is not a person of this stay."
MOVE_ALL_TOGETHER = "moves: a stay moves to another shelter with all its people."
RECEIVER_AT_CAPACITY = "The receiving shelter is at capacity."
MOVE_SAME_BED = "moves: the person is already in that bed."
MOVE_NO_SUCH_BED = "moves: bed_id is not a bed in service in the receiving shelter."
MOVE_COT_FOR_INFANTS = "moves: a cot is for a child under three."

# --- visitors ---------------------------------------------------------------------------------
REFUSED_ENTRY = "This person cannot be approved to enter this shelter."
NEEDS_OVERRIDE = (
    "This name is close to the name of a person who may not enter this shelter: a supervisor "
    "may approve it only by an explicit override, stating why in override_reason."
)
LOCKDOWN = "The shelter is in lockdown: entry approvals are suspended."
APPROVAL_ENDS_PAST = "valid_until: must be in the future."
APPROVAL_TOO_LONG = "valid_until: an approval lasts at most 92 days."
ALREADY_REVOKED = "The approval is already revoked."
APPROVAL_REVOKED = "The approval has been revoked."
APPROVAL_NOT_NOW = "The approval is not valid at this time."
EXIT_LOGGED = "The exit is already logged."

# --- figures ----------------------------------------------------------------------------------
PERIOD_BACKWARDS = "to: must not be before from."
PERIOD_TOO_LONG = "to: a period covers at most {days} days."


class OverrideRequired(Conflict):
    """A name close to a barred person's, sent without a supervisor's override."""

    code = "override_required"
