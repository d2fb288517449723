"""A customer changes an order with its manage token: at once before the cut-off, as a
request the café answers after it; capacity re-checked like a new order; and the café told
when a closure or a capacity change lands on a day with orders. Use cases without HTTP, on
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from services.catering import usecases
from services.catering.app import SPEC
from services.catering.domain import OrderRefused, TransitionRefused
from services.catering.models import OrderChangeRequest
from services.catering.seed import seed_menu
from shared.errors import Conflict, NotAllowed
from shared.events import Actor
from shared.hubs import DEFAULT_HUB
from shared.unit_of_work import UnitsOfWork
from tests.catering.support import oslo
from tests.catering.test_usecases import (
    RULES,
    THURSDAY,
    catering,
    outbox,
    place,
    stored,
    takeaway,
    used,
)
from tests.support.clock import TestClock
from tests.support.units import service_units

FRIDAY = date(2026, 6, 5)
CAFE_ACTOR = Actor(kind="service_account", id="token-abc", roles=["cafe"])


@pytest.fixture
def clock() -> TestClock:
    return TestClock(oslo("2026-06-01", "09:00"))  # a Monday


@pytest.fixture
async def units(database_url: str, clock: TestClock) -> AsyncIterator[UnitsOfWork[Any]]:
    async with service_units(SPEC, database_url, clock) as units:
        await seed_menu(units.db, clock())
        yield units


def change(
    placed: usecases.PlacedOrder, at: str, people: int | None = None, **lines: int
) -> usecases.ChangeOrder:
    d, t = at.split()
    return usecases.ChangeOrder(
        order_id=placed.order.id,
        token=placed.manage_token,
        pickup_at=oslo(d, t),
        lines=[(k.replace("_", "-"), v) for k, v in lines.items()],
        people=people,
    )


async def run_change(units: UnitsOfWork[Any], cmd: usecases.ChangeOrder) -> usecases.ChangedOrder:
    return await units.run(lambda uow: usecases.change_order(uow, cmd, rules=RULES))


async def decide(
    units: UnitsOfWork[Any], order_id: str, accept: bool, reason: str | None = None
) -> Any:
    cmd = usecases.DecideChange(order_id, accept, reason, CAFE_ACTOR)
    return await units.run(
        lambda uow: usecases.decide_change(uow, cmd, daily_capacity=RULES.daily_capacity)
    )


async def set_capacity(units: UnitsOfWork[Any], day: date, portions: int) -> None:
    cmd = usecases.SetCapacity(DEFAULT_HUB, day, portions)
    await units.run(
        lambda uow: usecases.set_capacity(uow, cmd, daily_capacity=RULES.daily_capacity)
    )


async def pending(units: UnitsOfWork[Any]) -> list[Any]:
    query = usecases.PendingChangesQuery(DEFAULT_HUB)
    return await units.run(lambda uow: usecases.pending_changes(uow, query), read_only=True)


async def types(units: UnitsOfWork[Any]) -> list[str]:
    return [e["type"] for e in await outbox(units)]


async def test_before_the_cut_off_a_change_applies_at_once_and_moves_the_portions(
    units: UnitsOfWork[Any],
) -> None:
    placed = await place(units, catering("2026-06-04 11:00", 8, kaffe_te=8))
    changed = await run_change(units, change(placed, "2026-06-05 12:00", 10, kaffe_te=10, kake=2))
    assert changed.applied is True
    assert changed.message.startswith("Bestillingen er endret")  # Kari reads Bokmål
    order = await stored(units, placed.order.id)
    assert (order.pickup_at, order.pickup_day) == (oslo("2026-06-05", "12:00"), FRIDAY)
    assert (order.status, order.people, order.portions) == ("placed", 10, 12)
    assert sorted((line.item_id, line.quantity) for line in order.lines) == [
        ("kaffe-te", 10),
        ("kake", 2),
    ]
    assert order.total_ore == changed.order.total_ore > placed.order.total_ore
    # Friday's lead time: by Wednesday 12:00.
    assert order.cancel_cutoff_at == oslo("2026-06-03", "12:00")
    assert await used(units, THURSDAY) == 0
    assert await used(units, FRIDAY) == 12
    event = (await outbox(units))[-1]
    assert event["type"] == "OrderChanged" and event["subject"] == order.id
    data = event["data"]
    assert (data["change"], data["status"], data["total_ore"]) == (
        "applied",
        "placed",
        order.total_ore,
    )
    assert data["previous_pickup_at"] == "2026-06-04T09:00:00Z"
    assert data["new_pickup_at"] == data["pickup_at"] == "2026-06-05T10:00:00Z"


async def test_a_change_the_day_has_no_room_for_is_refused_and_changes_nothing(
    units: UnitsOfWork[Any],
) -> None:
    await set_capacity(units, THURSDAY, 5)
    await set_capacity(units, FRIDAY, 3)
    placed = await place(units, takeaway("2026-06-04 11:00", kake=4))
    # The same day: its own 4 portions are given back first, so 5 fit and 6 do not.
    await run_change(units, change(placed, "2026-06-04 11:30", kake=5))
    assert await used(units, THURSDAY) == 5
    with pytest.raises(OrderRefused) as refused:
        await run_change(units, change(placed, "2026-06-04 11:30", kake=6))
    assert refused.value.code == "capacity_full"
    assert refused.value.details["remaining"] == 5
    # Another day: only that day's room counts.
    with pytest.raises(OrderRefused) as other_day:
        await run_change(units, change(placed, "2026-06-05 11:00", kake=4))
    assert other_day.value.code == "capacity_full"
    order = await stored(units, placed.order.id)
    assert (order.pickup_day, order.portions) == (THURSDAY, 5)
    assert (await used(units, THURSDAY), await used(units, FRIDAY)) == (5, 0)
    assert await types(units) == ["OrderPlaced", "OrderChanged"]


async def test_after_the_cut_off_a_change_waits_for_the_cafe_who_accepts_it(
    units: UnitsOfWork[Any], clock: TestClock
) -> None:
    placed = await place(units, catering("2026-06-04 11:00", 8, kaffe_te=8))
    clock.set(oslo("2026-06-02", "13:00"))  # after Tuesday 12:00, Thursday's cut-off
    asked = await run_change(units, change(placed, "2026-06-04 13:00", 12, kaffe_te=12))
    assert asked.applied is False
    assert asked.message.startswith("Endringen kom etter fristen")
    order = await stored(units, placed.order.id)
    assert (order.pickup_at, order.portions, order.people) == (oslo("2026-06-04", "11:00"), 8, 8)
    assert await used(units, THURSDAY) == 8  # a request holds nothing
    requested = (await outbox(units))[-1]["data"]
    assert (requested["change"], requested["pickup_at"], requested["new_pickup_at"]) == (
        "requested",
        "2026-06-04T09:00:00Z",
        "2026-06-04T11:00:00Z",
    )
    assert [line["quantity"] for line in requested["lines"]] == [12]
    # The café's list of what waits for it: the change with its order as it stands.
    waiting = await pending(units)
    assert [(c.order_id, c.portions, o.portions) for c, o in waiting] == [(placed.order.id, 12, 8)]

    accepted = await decide(units, placed.order.id, accept=True)
    assert await pending(units) == []
    assert (accepted.pickup_at, accepted.portions, accepted.people) == (
        oslo("2026-06-04", "13:00"),
        12,
        12,
    )
    assert await used(units, THURSDAY) == 12
    event = (await outbox(units))[-1]["data"]
    assert (event["change"], event["pickup_at"]) == ("accepted", "2026-06-04T11:00:00Z")
    assert event["actor"]["id"] == "token-abc"
    with pytest.raises(Conflict) as nothing_left:
        await decide(units, placed.order.id, accept=True)
    assert nothing_left.value.code == "no_change_pending"


async def test_a_rejected_change_leaves_the_order_as_it_was(
    units: UnitsOfWork[Any], clock: TestClock
) -> None:
    placed = await place(units, takeaway("2026-06-04 11:00", kake=2))
    clock.set(oslo("2026-06-04", "10:45"))  # 15 minutes before: past the 30 minutes' lead
    with pytest.raises(OrderRefused) as too_soon:
        await run_change(units, change(placed, "2026-06-04 11:00", kake=3))
    assert too_soon.value.code == "too_soon"  # a new take-away time still needs its lead
    asked = await run_change(units, change(placed, "2026-06-04 14:00", kake=3))
    assert asked.applied is False
    rejected = await decide(units, placed.order.id, accept=False, reason="vi er tomme for kake")
    assert (rejected.pickup_at, rejected.portions) == (oslo("2026-06-04", "11:00"), 2)
    assert [line.quantity for line in rejected.lines] == [2]
    assert await used(units, THURSDAY) == 2
    event = (await outbox(units))[-1]["data"]
    assert (event["change"], event["reason"]) == ("rejected", "vi er tomme for kake")


async def test_accepting_is_refused_when_the_day_filled_up_meanwhile(
    units: UnitsOfWork[Any], clock: TestClock
) -> None:
    await set_capacity(units, THURSDAY, 10)
    placed = await place(units, takeaway("2026-06-04 14:00", kake=2))
    clock.set(oslo("2026-06-04", "13:45"))
    await run_change(units, change(placed, "2026-06-04 14:30", kake=6))  # fits now: 6 of 10
    await place(units, takeaway("2026-06-04 14:30", kake=7))  # 9 of 10 used
    with pytest.raises(OrderRefused) as full:
        await decide(units, placed.order.id, accept=True)
    assert full.value.code == "capacity_full"
    assert await used(units, THURSDAY) == 9
    # Still waiting: the café may reject it, or raise the capacity and accept.
    await set_capacity(units, THURSDAY, 13)
    accepted = await decide(units, placed.order.id, accept=True)
    assert accepted.portions == 6 and await used(units, THURSDAY) == 13


async def test_a_new_request_replaces_the_waiting_one_and_cancelling_ends_it(
    units: UnitsOfWork[Any], clock: TestClock
) -> None:
    placed = await place(units, catering("2026-06-04 11:00", 8, kaffe_te=8))
    clock.set(oslo("2026-06-03", "09:00"))
    await run_change(units, change(placed, "2026-06-04 11:00", kaffe_te=9))
    await run_change(units, change(placed, "2026-06-04 11:00", kaffe_te=10))
    accepted = await decide(units, placed.order.id, accept=True)
    assert accepted.portions == 10  # the later wish, not the first
    assert accepted.people == 8  # kept when not given

    await run_change(units, change(placed, "2026-06-04 12:00", kaffe_te=11))
    cancel = usecases.CancelOrder(placed.order.id, usecases.Caller(cafe_staff=True), "stengt")
    await units.run(lambda uow: usecases.cancel_order(uow, cancel))
    with pytest.raises(Conflict) as ended:
        await decide(units, placed.order.id, accept=True)
    assert ended.value.code == "no_change_pending"
    assert await used(units, THURSDAY) == 0


async def test_who_may_change_and_what_cannot_be_changed(
    units: UnitsOfWork[Any], clock: TestClock
) -> None:
    placed = await place(units, takeaway("2026-06-04 11:00", kake=2))
    other = await place(units, takeaway("2026-06-04 11:00", kake=1))
    stolen = usecases.ChangeOrder(
        placed.order.id, other.manage_token, oslo("2026-06-04", "12:00"), [("kake", 9)]
    )
    with pytest.raises(NotAllowed):
        await run_change(units, stolen)
    for action in ("accept", "ready"):
        step = usecases.AdvanceOrder(placed.order.id, action)  # type: ignore[arg-type]
        await units.run(lambda uow, step=step: usecases.advance_order(uow, step))
    with pytest.raises(TransitionRefused) as ready:
        await run_change(units, change(placed, "2026-06-04 12:00", kake=3))
    assert ready.value.code == "ready_for_pickup"
    assert (await stored(units, placed.order.id)).portions == 2


async def test_an_undecided_short_notice_order_changes_in_place_and_still_waits(
    units: UnitsOfWork[Any], clock: TestClock
) -> None:
    clock.set(oslo("2026-06-03", "09:00"))
    placed = await place(units, catering("2026-06-04 11:00", 4, kake=4))
    assert placed.order.status == "pending_acceptance"
    changed = await run_change(units, change(placed, "2026-06-04 11:00", 5, kake=5))
    assert changed.applied is True
    assert changed.message.startswith("Bestillingen er endret. Den er på kort varsel")
    order = await stored(units, placed.order.id)
    assert (order.status, order.short_notice, order.portions) == ("pending_acceptance", True, 5)
    assert await used(units, THURSDAY) == 5


async def test_the_cafe_is_told_of_a_closure_or_capacity_change_on_a_day_with_orders(
    units: UnitsOfWork[Any],
) -> None:
    await place(units, takeaway("2026-06-04 11:00", kake=2))
    await place(units, takeaway("2026-06-04 12:00", kake=3))
    await place(units, takeaway("2026-06-08 12:00", kake=1))
    cancelled = await place(units, takeaway("2026-06-09 12:00", kake=1))
    cancel = usecases.CancelOrder(cancelled.order.id, usecases.Caller(cafe_staff=True))
    await units.run(lambda uow: usecases.cancel_order(uow, cancel))
    before = len(await outbox(units))

    closure = usecases.AddClosure(
        DEFAULT_HUB, THURSDAY, date(2026, 6, 9), "vannlekkasje", CAFE_ACTOR
    )
    await units.run(lambda uow: usecases.add_closure(uow, closure))
    told = (await outbox(units))[before:]
    # Thursday and Monday have orders; Friday and the weekend none, Tuesday's was cancelled.
    assert [(e["type"], e["subject"]) for e in told] == [
        ("CafeDayAffected", f"{DEFAULT_HUB}:2026-06-04"),
        ("CafeDayAffected", f"{DEFAULT_HUB}:2026-06-08"),
    ]
    thursday = told[0]["data"]
    assert (thursday["day"], thursday["change"], thursday["orders"], thursday["portions"]) == (
        "2026-06-04",
        "closure",
        2,
        5,
    )
    assert thursday["reason"] == "vannlekkasje" and thursday["actor"]["id"] == "token-abc"

    await set_capacity(units, date(2026, 6, 10), 40)  # no orders that day: nobody told
    await set_capacity(units, THURSDAY, RULES.daily_capacity)  # unchanged: nobody told
    await set_capacity(units, THURSDAY, 6)
    last = await outbox(units)
    assert len(last) == before + 3
    assert (last[-1]["data"]["change"], last[-1]["data"]["capacity"]) == ("capacity", 6)
    assert last[-1]["data"]["orders"] == 2


async def test_the_database_holds_at_most_one_waiting_change_per_order(
    units: UnitsOfWork[Any], clock: TestClock
) -> None:
    placed = await place(units, takeaway("2026-06-04 11:00", kake=2))
    clock.set(oslo("2026-06-04", "10:45"))
    asked = await run_change(units, change(placed, "2026-06-04 14:00", kake=3))
    with pytest.raises(IntegrityError):
        async with units.db.transaction() as session:
            session.add(
                OrderChangeRequest(
                    **{
                        c.key: getattr(asked.change, c.key)
                        for c in OrderChangeRequest.__table__.columns
                    }
                    | {"id": "another"}
                )
            )
