"""Demo data for the hotline: a fictional line, verified duty phones and a two-week rota.

Numbers are from ranges reserved for fiction (Ofcom 020 7946 0xxx, ACMA 0491 570 xxx).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from core.config import get_settings
from core.crypto import cipher_from_settings
from core.models import Organisation, User
from core.phones import last_two
from hotline.models import (
    Call,
    CallbackTask,
    CallMode,
    CallStatus,
    DutyPhone,
    Hotline,
    PromptLanguage,
    Shift,
)
from hotline.rota import local_instant
from hotline.service.calls import CALLER_CONTEXT

DEMO_ORGANISATION = "Demo SOS Line North"
HOTLINE_NUMBER = "+442079460100"
PHONES = {
    "counselor@sos-north.example.org": "+61491570011",
    "volunteer@sos-north.example.org": "+61491570012",
    "supervisor@sos-north.example.org": "+61491570013",
}


def load(session: Session, *, now: datetime) -> list[str]:
    """Add the demo hotline; returns lines to print."""
    organisation = session.exec(
        select(Organisation).where(Organisation.name == DEMO_ORGANISATION)
    ).first()
    if organisation is None:
        return []
    users = {
        u.email: u
        for u in session.exec(select(User).where(User.organisation_id == organisation.id)).all()
    }
    hotline = Hotline(
        organisation_id=organisation.id,
        name="Demo SOS line",
        twilio_number=HOTLINE_NUMBER,
        time_zone=organisation.time_zone,
        holiday_country=organisation.country_code,
        office_numbers=["+442079460101"],
        last_resort_number="+442079460199",
        language=PromptLanguage.MONTENEGRIN,
        created_at=now,
        updated_at=now,
    )
    session.add(hotline)
    for email, number in PHONES.items():
        if email in users:
            session.add(
                DutyPhone(
                    organisation_id=organisation.id,
                    user_id=users[email].id,
                    number=number,
                    verified_at=now,
                    created_at=now,
                )
            )
    session.flush()
    zone = ZoneInfo(organisation.time_zone)
    first_day = now.astimezone(zone).date() - timedelta(days=1)
    pair = [users["counselor@sos-north.example.org"], users["volunteer@sos-north.example.org"]]
    for offset in range(15):  # 08:00 to 08:00 local, alternating, DST-safe
        day = first_day + timedelta(days=offset)
        primary, backup = pair[offset % 2], pair[(offset + 1) % 2]
        session.add(
            Shift(
                hotline_id=hotline.id,
                starts_at=local_instant(day, time(8), zone),
                ends_at=local_instant(day + timedelta(days=1), time(8), zone),
                primary_user_id=primary.id,
                backup_user_id=backup.id,
                created_at=now,
            )
        )
    session.flush()
    _missed_calls(session, organisation, hotline, now=now)
    return [
        f"Demo hotline {HOTLINE_NUMBER} (a number reserved for fiction) with a two-week rota;",
        "point a Twilio number's Voice URL at /hotline/voice to try real calls (see README).",
    ]


# Two calls of last night that nobody accepted, from numbers reserved for fiction (sealed, as
# every caller's number is; lists show the last two digits).
MISSED = (
    (timedelta(hours=3), "+61491570017", "N7K2QD"),
    (timedelta(minutes=50), "+61491570042", "P4W9XB"),
)


def _missed_calls(
    session: Session, organisation: Organisation, hotline: Hotline, *, now: datetime
) -> None:
    """Missed calls with their callback tasks, for the counselor's duty page."""
    cipher = cipher_from_settings(get_settings())
    for ago, number, ref in MISSED:
        started = now - ago
        key_id, sealed = cipher.seal_pair(number, context=CALLER_CONTEXT)
        call = Call(
            hotline_id=hotline.id,
            call_sid="CA" + ref.lower().ljust(32, "0"),
            started_at=started,
            ended_at=started + timedelta(seconds=70),
            mode=CallMode.DUTY,
            status=CallStatus.ENDED,
            twilio_status="completed",  # as Twilio's status callback reported it
            caller_key_id=key_id,
            caller_sealed=sealed,
            caller_hash=cipher.keyed_hash(number, purpose="caller"),
            caller_last2=last_two(number),
            plan=[],
        )
        session.add(call)
        session.flush()
        session.add(
            CallbackTask(
                organisation_id=organisation.id,
                hotline_id=hotline.id,
                call_id=call.id,
                short_ref=ref,
                due_at=started + timedelta(minutes=30),
                created_at=started,
            )
        )
    session.flush()
