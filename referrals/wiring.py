"""What referrals plugs into the application: the referral every emergency admission makes, in
the admission's own transaction (it subscribes to `core.events.StayAdmitted`).

Referrals hangs nothing on app.state and has nothing to start or stop; the questions it asks
(`StaysSeen`, `CallOfOrganisation`) and the event it publishes (`CswDecisionRecorded`) are the
other domains' to answer and handle.
"""

from __future__ import annotations

from core import events
from core.events import StayAdmitted
from referrals import service


def wire() -> None:
    events.subscribe(StayAdmitted, service.refer_admission)
