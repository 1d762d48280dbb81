"""Referrals: the CSW directory, referrals and their decisions, their messages and the sweep.

Every emergency admission refers the client to the CSW of her municipality of residence in the
admission's own transaction (`refer_admission`, which `referrals.wiring` subscribes to
`core.events.StayAdmitted`), with the decision deadline of the stay, and her children to its
child-protection team with the same deadline. Reminders are rows made with the referral and
swept by `sweep`, which writes outbox rows in the transaction that marks the reminders done: a
sweep that dies leaves its rows pending for the next one, and two sweeps never take the same row.

The sections are `directory`, `referrals` (making and reading them), `acts` (what the sender
and the recipient do with one), `messages` and `sweep`.
"""

from __future__ import annotations

from referrals.service.acts import (
    acknowledge,
    decide,
    exchange,
    readdress,
    record_consent,
    withdraw,
)
from referrals.service.directory import (
    add_municipality,
    claim_municipality,
    find_municipality,
    fold,
    get_municipality,
    list_municipalities,
    municipality_names,
    names,
    set_competent_csw,
)
from referrals.service.messages import Recipients, Wording, wording
from referrals.service.referrals import (
    DECISION_CONTEXT,
    DOSSIER_CONTEXT,
    MAX_RESPONSE_TIME,
    NOTE_CONTEXT,
    REMINDERS_BEFORE,
    create_referral,
    decision_details,
    dossier_of,
    list_received,
    list_sent,
    notes_of,
    open_note,
    received_referral,
    refer_admission,
    reminders_of,
    sent_referral,
)
from referrals.service.sweep import STALE_AFTER, sweep, sweep_batch

__all__ = [
    "DECISION_CONTEXT",
    "DOSSIER_CONTEXT",
    "MAX_RESPONSE_TIME",
    "NOTE_CONTEXT",
    "REMINDERS_BEFORE",
    "STALE_AFTER",
    "Recipients",
    "Wording",
    "acknowledge",
    "add_municipality",
    "claim_municipality",
    "create_referral",
    "decide",
    "decision_details",
    "dossier_of",
    "exchange",
    "find_municipality",
    "fold",
    "get_municipality",
    "list_municipalities",
    "list_received",
    "list_sent",
    "municipality_names",
    "names",
    "notes_of",
    "open_note",
    "readdress",
    "received_referral",
    "record_consent",
    "refer_admission",
    "reminders_of",
    "sent_referral",
    "set_competent_csw",
    "sweep",
    "sweep_batch",
    "withdraw",
    "wording",
]
