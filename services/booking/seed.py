"""Demo data for Knutepunkt Strømsø: the two meeting rooms and Gymsalen. Idempotent: a
resource that exists (perhaps edited by staff) is left as it is. Race-free: one INSERT …
ON CONFLICT DO NOTHING, so replicas started together on a fresh database all seed without
a unique violation (a check-then-insert crashed the second replica's startup)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.booking.models import Resource
from services.booking.settings import booking_settings
from shared.db import Database, insert_for
from shared.hubs import DEFAULT_HUB
from shared.service import Runtime

_MEETING_ROOM: dict[str, Any] = {
    "kind": "meeting_room",
    "hours": None,  # the hub's Mon–Fri 10–14
    "approval_required": False,
    "free_for": ["organisation", "staff"],
    "min_notice_minutes": 60,
    "min_length_minutes": 30,
    "max_length_minutes": 240,
    "max_days_ahead": 180,
    "buffer_minutes": 0,
    "cancel_deadline_hours": 24,
    "weekly_free_hours": None,
    "price_per_hour_nok": 100,
}

RESOURCES: list[dict[str, Any]] = [
    {
        "id": "moterom-1",
        "name": "Møterom 1",
        "description": "Møterom ved innbyggertorget, skjerm og whiteboard.",
        "capacity": 14,
        **_MEETING_ROOM,
    },
    {
        "id": "moterom-2",
        "name": "Møterom 2",
        "description": "Lite møterom ved innbyggertorget.",
        "capacity": 8,
        **_MEETING_ROOM,
    },
    {
        "id": "gymsalen",
        "name": "Gymsalen",
        "kind": "arena",
        "description": "Flerbrukshall: forestillinger, konserter, bursdager, kurs og trening.",
        "capacity": 150,
        "hours": {"mon-fri": "16:00-22:00", "sat-sun": "10:00-20:00"},
        "approval_required": True,
        "free_for": ["organisation", "staff"],
        "min_notice_minutes": 24 * 60,
        "min_length_minutes": 60,
        "max_length_minutes": 8 * 60,
        "max_days_ahead": 365,
        "buffer_minutes": 30,
        "cancel_deadline_hours": 48,
        "weekly_free_hours": 6,
        "price_per_hour_nok": 400,
    },
]


async def seed(runtime: Runtime) -> None:
    if booking_settings(runtime).seed_demo:
        await seed_resources(runtime.db, runtime.now())


async def seed_resources(db: Database, now: datetime) -> None:
    rows = [
        {"hub": DEFAULT_HUB, "active": True, "created_at": now, "updated_at": now, **spec}
        for spec in RESOURCES
    ]
    stmt = (
        insert_for(db.dialect)(Resource)
        .values(rows)
        .on_conflict_do_nothing(index_elements=[Resource.id])
    )
    async with db.transaction() as session:
        await session.execute(stmt)
