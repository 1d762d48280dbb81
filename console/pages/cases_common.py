"""What the case pages share: the labels of the API's values (msgids, translated where shown),
local date-time fields turned into instants, and the savepoint every form acts in.

A form that fails must change nothing, as the API's failed request does (its unit of work rolls
back): the page catches the error to show the form again and then returns normally, so the act
runs in a savepoint of its own, undone on the error unless the error keeps its writes (an
audited refusal, whose audit event must stay, as it does for the API).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from console.render import N_, PREFIX

STATUS = {"open": N_("Open"), "dormant": N_("Dormant"), "closed": N_("Closed")}
RISK = {"standard": N_("Standard"), "medium": N_("Medium"), "high": N_("High")}
RISK_TAG = {"standard": "ok", "medium": "soon", "high": "overdue"}
ANSWERS = {"yes": N_("Yes"), "no": N_("No"), "unknown": N_("Unknown")}
CLOSE_REASONS = {
    "goals_met": N_("Goals met"),
    "client_withdrew": N_("She withdrew"),
    "moved_away": N_("She moved away"),
    "referred_elsewhere": N_("Referred elsewhere"),
    "no_contact": N_("No contact"),
    "other": N_("Other reason"),
}
DORMANT_REASONS = {
    "no_contact": N_("No contact"),
    "client_paused": N_("She paused the work"),
    "other": N_("Other reason"),
}
REASONS = {**CLOSE_REASONS, **DORMANT_REASONS}
LINKS = {
    "call": N_("Call"),
    "callback_task": N_("Callback task"),
    "stay": N_("Shelter stay"),
    "referral": N_("Referral"),
}
CHANNELS = {
    "office_call": N_("Call on the office line"),
    "routed_call": N_("Call through the hotline"),
    "walk_in": N_("Walk-in"),
    "email": N_("E-mail"),
    "message": N_("Message"),
    "escort": N_("Escort"),
}
SERVICES = {
    "information": N_("Information"),
    "legal_counselling": N_("Legal counselling"),
    "application_to_csw": N_("Application to the social work centre"),
    "application_to_police": N_("Application to the police"),
    "psychological_phone": N_("Psychological support by phone"),
    "psychological_in_person": N_("Psychological support in person"),
    "self_help_group": N_("Self-help group"),
    "shelter_mediation": N_("Shelter mediation"),
    "escort": N_("Escort"),
}
ESCORT_PLACES = {"court": N_("Court"), "police": N_("Police"), "csw": N_("Social work centre")}
AGENCIES = {
    "police": N_("Police"),
    "csw": N_("Social work centre"),
    "health": N_("Health service"),
    "court": N_("Court"),
    "school": N_("School"),
    "ngo": N_("NGO"),
}
STEP_STATUS = {
    "planned": N_("Planned"),
    "in_progress": N_("In progress"),
    "done": N_("Done"),
    "cancelled": N_("Cancelled"),
}
VIOLENCE = {
    "physical": N_("Physical"),
    "psychological": N_("Psychological"),
    "sexual": N_("Sexual"),
    "economic": N_("Economic"),
    "cyber": N_("Cyber"),
    "stalking": N_("Stalking"),
    "neglect": N_("Neglect"),
    "trafficking": N_("Trafficking"),
    "peer": N_("Peer violence"),
    "labour": N_("Labour exploitation"),
}
AGE_BANDS = {
    "under_18": N_("Under 18"),
    "18_25": N_("18 to 25"),
    "26_35": N_("26 to 35"),
    "36_50": N_("36 to 50"),
    "51_65": N_("51 to 65"),
    "over_65": N_("Over 65"),
}
BASIS = {
    "team": N_("Case team"),
    "shelter": N_("Shelter staff during a stay"),
    "break_glass": N_("Break-glass opening"),
    "consent": N_("Her consent"),
}
SECTIONS = {
    "identity": N_("Identity"),
    "risk": N_("Risk"),
    "safety_plan": N_("Safety plan"),
    "assistance_plan": N_("Assistance plan"),
}
ACTIONS = {
    "case.read": N_("Read"),
    "case.listed": N_("Listed"),
    "case.refused": N_("Refused"),
    "case.created": N_("Opened the case"),
    "case.updated": N_("Changed the card"),
    "case.open": N_("Reopened the case"),
    "case.dormant": N_("Made the case dormant"),
    "case.closed": N_("Closed the case"),
    "case.member_added": N_("Added to the team"),
    "case.member_removed": N_("Removed from the team"),
    "case.linked": N_("Linked a record"),
    "case.contact_logged": N_("Logged a contact"),
    "case.service_logged": N_("Logged a service"),
    "case.risk_assessed": N_("Assessed the risk"),
    "case.plan_revised": N_("Revised the safety plan"),
    "case.step_added": N_("Added a step"),
    "case.step_updated": N_("Updated a step"),
    "case.consent_recorded": N_("Recorded a consent"),
    "case.consent_withdrawn": N_("Withdrew a consent"),
    "case.break_glass": N_("Opened by break-glass"),
}
TASKS = {"case_conference": N_("Case conference")}
# The safety plan's fields, as the comparison names them (dotted paths).
PLAN_FIELDS = {
    "safe_contacts": N_("Safe contacts"),
    "code_word": N_("Code word"),
    "safe_to_call": N_("Safe to call her back"),
    "safe_times": N_("Safe times to contact her"),
    "safe_ways": N_("Safe ways to contact her"),
    "escape_plan.bag": N_("Escape plan: the bag"),
    "escape_plan.documents": N_("Escape plan: documents"),
    "escape_plan.money": N_("Escape plan: money"),
    "escape_plan.where_to_go": N_("Escape plan: where to go"),
    "children_safety": N_("Children's safety"),
    "work_safety": N_("Safety at work"),
    "online_safety": N_("Safety online"),
    "her_decisions": N_("Her decisions, in her words"),
}
PLAN_TEXTS = (
    "safe_times",
    "safe_ways",
    "children_safety",
    "work_safety",
    "online_safety",
    "her_decisions",
)
ESCAPE_FIELDS = ("bag", "documents", "money", "where_to_go")

LABELS: dict[str, dict[str, str]] = {
    "status": STATUS,
    "risk": RISK,
    "risk_tag": RISK_TAG,
    "answers": ANSWERS,
    "reasons": REASONS,
    "close_reasons": CLOSE_REASONS,
    "dormant_reasons": DORMANT_REASONS,
    "links": LINKS,
    "channels": CHANNELS,
    "services": SERVICES,
    "escort_places": ESCORT_PLACES,
    "agencies": AGENCIES,
    "step_status": STEP_STATUS,
    "violence": VIOLENCE,
    "age_bands": AGE_BANDS,
    "basis": BASIS,
    "sections": SECTIONS,
    "actions": ACTIONS,
    "tasks": TASKS,
    "plan_fields": PLAN_FIELDS,
}


def org_url(org_id: uuid.UUID) -> str:
    return f"{PREFIX}/o/{org_id}"


def case_url(org_id: uuid.UUID, case_id: uuid.UUID) -> str:
    return f"{org_url(org_id)}/cases/{case_id}"


def words(value: Any) -> list[str]:
    """A field of several short codes ("sr, sq en") as a list."""
    if not isinstance(value, str):
        return []
    return [w for w in re.split(r"[\s,;]+", value.strip().lower()) if w]
