"""The demo menu of Café Jasmin at Knutepunkt Strømsø. Booking's demo and tests use these
ids ("kaffe-te", "lunsj-baguette", "fruktfat", "kake"): keep them stable.

Replicas started together on a fresh database seed at the same moment, so the seed is one
INSERT … ON CONFLICT DO NOTHING per table: a row another replica wrote first is left alone
(as are staff edits), and nobody hits a unique violation in the startup hook.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.catering.models import MenuItem
from shared.db import Database, insert_for
from shared.hubs import DEFAULT_HUB
from shared.service import Runtime

BOTH = ["catering", "takeaway"]
DEMO_MENU: list[dict[str, Any]] = [
    {
        "id": "kaffe-te",
        "name_nb": "Kaffe og te",
        "name_en": "Coffee and tea",
        "category": "drikke",
        "unit": "per_person",
        "price_ore": 3500,
        "allergens": [],
        "diet": ["vegan", "halal"],
        "kinds": ["catering"],
    },
    {
        "id": "lunsj-baguette",
        "name_nb": "Lunsjbaguette med kylling eller falafel",
        "name_en": "Lunch baguette with chicken or falafel",
        "category": "lunsj",
        "unit": "piece",
        "price_ore": 8900,
        "allergens": ["gluten", "milk", "eggs", "mustard"],
        "diet": ["halal"],
        "kinds": BOTH,
    },
    {
        "id": "fruktfat",
        "name_nb": "Fruktfat (til 8 personer)",
        "name_en": "Fruit platter (serves 8)",
        "category": "frukt",
        "unit": "platter",
        "price_ore": 24900,
        "allergens": [],
        "diet": ["vegan", "halal"],
        "kinds": ["catering"],
    },
    {
        "id": "kake",
        "name_nb": "Dagens kake",
        "name_en": "Cake of the day",
        "category": "bakst",
        "unit": "piece",
        "price_ore": 4500,
        "allergens": ["gluten", "eggs", "milk", "nuts"],
        "diet": ["vegetarian"],
        "kinds": BOTH,
    },
    {
        "id": "linsesuppe",
        "name_nb": "Linsesuppe med brød",
        "name_en": "Lentil soup with bread",
        "category": "lunsj",
        "unit": "piece",
        "price_ore": 9500,
        "allergens": ["gluten", "celery"],
        "diet": ["vegan", "halal"],
        "kinds": ["takeaway"],
    },
    {
        "id": "samosa",
        "name_nb": "Samosa med grønnsaker (2 stk.)",
        "name_en": "Vegetable samosas (2)",
        "category": "smårett",
        "unit": "piece",
        "price_ore": 5500,
        "allergens": ["gluten"],
        "diet": ["vegan", "halal"],
        "kinds": BOTH,
    },
    {
        "id": "kanelbolle",
        "name_nb": "Kanelbolle",
        "name_en": "Cinnamon bun",
        "category": "bakst",
        "unit": "piece",
        "price_ore": 3900,
        "allergens": ["gluten", "milk", "eggs"],
        "diet": ["vegetarian"],
        "kinds": ["takeaway"],
    },
]


async def seed(runtime: Runtime) -> None:
    await seed_menu(runtime.db, runtime.now())


async def seed_menu(db: Database, now: datetime) -> None:
    """Adds the demo items a hub does not have yet; never overwrites staff edits."""
    rows = [
        {
            **item,
            "hub": DEFAULT_HUB,
            "available": True,
            "description_nb": None,
            "created_at": now,
            "updated_at": now,
        }
        for item in DEMO_MENU
    ]
    async with db.transaction() as session:
        await session.execute(
            insert_for(db.dialect)(MenuItem).values(rows).on_conflict_do_nothing()
        )
