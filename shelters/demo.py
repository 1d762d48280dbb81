"""Demo data for shelters: two fictional houses, their beds, staff and two stays.

Addresses, names and places are invented; nothing here describes a real shelter or person.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from core.audit import Actor
from core.config import get_settings
from core.crypto import cipher_from_settings
from core.models import Organisation, Role, User
from shelters import service
from shelters.models import (
    AdmissionChannel,
    AdmissionCreate,
    BedCreate,
    BedKind,
    Group,
    PersonIn,
    RoomCreate,
    Sex,
    ShelterCreate,
)

HOUSES = (
    (
        "Demo Shelter South",
        ShelterCreate(
            name="Demo Safe House",
            address="1 Fictional Lane, Demo Town",
            groups=[Group.WOMEN, Group.WOMEN_WITH_CHILDREN],
            hard_capacity=8,
            soft_capacity=10,
            soft_capacity_max_nights=3,
        ),
        {
            "Room 1": (("1A", BedKind.BED), ("1B", BedKind.BED), ("1C", BedKind.COT)),
            "Room 2": (("2A", BedKind.BED), ("2B", BedKind.BED), ("2C", BedKind.COT)),
            "Room 3": (("3A", BedKind.BED), ("3B", BedKind.BED)),
            "Emergency room": (("E1", BedKind.EMERGENCY), ("E2", BedKind.EMERGENCY)),
        },
    ),
    (
        "Demo SOS Line North",
        ShelterCreate(
            name="Demo Youth House",
            address="2 Imaginary Street, Demo Town",
            sexes=[Sex.FEMALE, Sex.MALE, Sex.OTHER],
            min_age=18,
            max_age=29,
            groups=[Group.LGBTI_YOUTH],
            accepts_children=False,
            hard_capacity=5,
        ),
        {
            "Room 1": (("Y1", BedKind.BED), ("Y2", BedKind.BED), ("Y3", BedKind.BED)),
            "Room 2": (("Y4", BedKind.BED), ("Y5", BedKind.BED)),
            "Emergency room": (("YE", BedKind.EMERGENCY),),
        },
    ),
)


def load(session: Session, *, now: datetime) -> list[str]:
    """Add the demo shelters; returns lines to print."""
    cipher = cipher_from_settings(get_settings())
    actor = Actor.system("demo")
    notes: list[str] = []
    for organisation_name, data, rooms in HOUSES:
        organisation = session.exec(
            select(Organisation).where(Organisation.name == organisation_name)
        ).first()
        if organisation is None:
            continue
        shelter = service.create_shelter(
            session, now=now, organisation=organisation, data=data, cipher=cipher, actor=actor
        )
        for room_name, beds in rooms.items():
            room = service.add_room(
                session, now=now, shelter=shelter, data=RoomCreate(name=room_name), actor=actor
            )
            for label, kind in beds:
                service.add_bed(
                    session,
                    now=now,
                    shelter=shelter,
                    data=BedCreate(room_id=room.id, label=label, kind=kind),
                    actor=actor,
                )
        staff = session.exec(
            select(User).where(
                User.organisation_id == organisation.id, User.email.startswith("shelter@")
            )
        ).first()
        if staff is not None:
            service.assign_staff(session, now=now, shelter=shelter, user_id=staff.id, actor=actor)
        notes.append(
            f"Demo shelter: {data.name} ({organisation_name}), {data.hard_capacity} places"
        )
    _demo_stay(session, now=now)
    return notes


def _demo_stay(session: Session, *, now: datetime) -> None:
    """One woman with her baby in the safe house, admitted by the demo staff member."""
    organisation = session.exec(
        select(Organisation).where(Organisation.name == HOUSES[0][0])
    ).first()
    if organisation is None:
        return
    [shelter] = service.list_shelters(session, organisation_id=organisation.id)
    staff = session.exec(
        select(User).where(
            User.organisation_id == organisation.id, User.email.startswith("shelter@")
        )
    ).first()
    service.admit(
        session,
        now=now,
        shelter=shelter,
        data=AdmissionCreate(
            client=PersonIn(name="Demo Resident", sex=Sex.FEMALE, age=31),
            children=[PersonIn(name="Demo Baby", sex=Sex.MALE, age=1)],
            channel=AdmissionChannel.POLICE,
            municipality="Podgorica",
            group=Group.WOMEN_WITH_CHILDREN,
        ),
        cipher=cipher_from_settings(get_settings()),
        actor=Actor.system("demo"),
        actor_roles=frozenset({Role.SHELTER_STAFF}),
        user_id=staff.id if staff else None,
    )
