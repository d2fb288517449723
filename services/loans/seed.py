"""Demo data for Knutepunkt Strømsø: loan policies per kind, a few PCs and planter boxes.

Idempotent: it runs at every start and only adds what is missing.
"""

from __future__ import annotations

from services.loans.models import Item, LoanPolicy
from services.loans.store import new_id
from shared.db import insert_for
from shared.hubs import DEFAULT_HUB
from shared.service import Runtime

HUB = DEFAULT_HUB

POLICIES: list[dict[str, object]] = [
    # A PC for the day, renewable up to three days in all; wiped between borrowers.
    {
        "kind": "pc",
        "default_days": 1,
        "min_days": 1,
        "max_days": 3,
        "max_renewals": 2,
        "max_items_per_borrower": 1,
        "buffer_minutes": 30,
        "hold_hours": 24,
    },
    # A planter box for the growing season, to 30 September.
    {
        "kind": "planter_box",
        "default_days": 1,
        "min_days": 1,
        "max_days": 366,
        "season_end": "09-30",
        "max_renewals": 0,
        "max_items_per_borrower": 2,
        "buffer_minutes": 0,
        "hold_hours": 72,
    },
    # Books are swapped on the shelf, never lent.
    {
        "kind": "book",
        "lendable": False,
        "default_days": 0,
        "min_days": 0,
        "max_days": 0,
        "max_renewals": 0,
        "max_items_per_borrower": 0,
    },
    {
        "kind": "other",
        "default_days": 7,
        "min_days": 1,
        "max_days": 14,
        "max_renewals": 1,
        "max_items_per_borrower": 2,
        "buffer_minutes": 0,
        "hold_hours": 48,
    },
]

DEFAULTS: dict[str, object] = {
    "lendable": True,
    "season_end": None,
    "buffer_minutes": 0,
    "hold_hours": 48,
}

ITEMS: list[tuple[str, str]] = [
    *[("pc", f"PC-0{n}") for n in range(1, 5)],
    *[("planter_box", f"Pallekarm A{n}") for n in range(1, 7)],
]


async def seed(runtime: Runtime) -> None:
    """Each table in one INSERT ... ON CONFLICT DO NOTHING: replicas starting together on an
    empty database seed at the same time, and the second one adds nothing (never a unique
    violation at start)."""
    now = runtime.now()
    insert = insert_for(runtime.db.dialect)
    async with runtime.db.transaction() as session:
        await session.execute(
            insert(LoanPolicy)
            .values([{"hub": HUB, **DEFAULTS, **policy} for policy in POLICIES])
            .on_conflict_do_nothing()
        )
        await session.execute(
            insert(Item)
            .values(
                [
                    {
                        "id": new_id(),
                        "hub": HUB,
                        "kind": kind,
                        "label": label,
                        "condition": "ok",
                        "created_at": now,
                    }
                    for kind, label in ITEMS
                ]
            )
            .on_conflict_do_nothing()
        )
