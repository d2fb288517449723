"""The café's main rules through its use cases, without HTTP, on SQLite and PostgreSQL: what
each returns, what it stored, and which events it recorded in the outbox."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from services.catering import usecases
from services.catering.app import SPEC
from services.catering.domain import OrderRefused, TransitionRefused
from services.catering.handlers import handlers
from services.catering.models import DayCapacity, Order, OrderLineRow
from services.catering.seed import seed_menu
from services.catering.settings import CateringSettings
from shared.errors import Conflict, NotAllowed
from shared.events import (
    BookingCancelled,
    BookingConfirmed,
    CateringLine,
    CateringRequest,
    Contact,
    EventData,
    new_event,
)
from shared.hubs import DEFAULT_HUB
from shared.messaging.consumer import Delivery
from shared.unit_of_work import UnitsOfWork
from tests.catering.support import oslo
from tests.support.clock import TestClock
from tests.support.units import service_units

RULES = CateringSettings().rules()
THURSDAY = date(2026, 6, 4)
KARI = Contact(name="Kari Nordmann", email="kari@example.org", language="nb")


@pytest.fixture
def clock() -> TestClock:
    return TestClock(oslo("2026-06-01", "09:00"))  # a Monday


@pytest.fixture
async def units(database_url: str, clock: TestClock) -> AsyncIterator[UnitsOfWork[Any]]:
    async with service_units(SPEC, database_url, clock) as units:
        await seed_menu(units.db, clock())
        yield units


def command(
    kind: str, at: str, people: int | None, reply: str, lines: dict[str, int]
) -> usecases.PlaceOrder:
    d, t = at.split()
    return usecases.PlaceOrder(
        hub=DEFAULT_HUB,
        kind=kind,  # type: ignore[arg-type]
        pickup_at=oslo(d, t),
        lines=[(k.replace("_", "-"), v) for k, v in lines.items()],
        customer=KARI,
        people=people,
        reply_language=reply,  # type: ignore[arg-type]
    )


def takeaway(at: str, **lines: int) -> usecases.PlaceOrder:
    return command("takeaway", at, None, "en", lines)


def catering(at: str, people: int, reply: str = "en", **lines: int) -> usecases.PlaceOrder:
    return command("catering", at, people, reply, lines)


async def place(units: UnitsOfWork[Any], cmd: usecases.PlaceOrder) -> usecases.PlacedOrder:
    return await units.run(lambda uow: usecases.place_order(uow, cmd, rules=RULES))


async def outbox(units: UnitsOfWork[Any]) -> list[dict[str, Any]]:
    """The envelopes recorded so far, oldest first."""
    table = SPEC.tables.outbox
    async with units.db.read() as session:
        rows = await session.execute(select(table.c.payload).order_by(table.c.id))
        return [json.loads(payload) for (payload,) in rows]


async def stored(units: UnitsOfWork[Any], order_id: str) -> Order:
    async with units.db.read() as session:
        order = await session.get(Order, order_id)
    assert order is not None
    return order


async def used(units: UnitsOfWork[Any], day: date) -> int | None:
    async with units.db.read() as session:
        return (
            await session.execute(select(DayCapacity.used).where(DayCapacity.day == day))
        ).scalar_one_or_none()


async def order_count(units: UnitsOfWork[Any]) -> int:
    async with units.db.read() as session:
        return (await session.execute(select(func.count()).select_from(Order))).scalar_one()


CAFE = usecases.Caller(cafe_staff=True)


async def test_takeaway_inside_cafe_hours_is_placed_and_outside_refused(
    units: UnitsOfWork[Any], clock: TestClock
) -> None:
    placed = await place(units, takeaway("2026-06-01 11:00", kake=2, kanelbolle=1))
    order = placed.order
    assert (order.status, order.short_notice, order.portions) == ("placed", False, 3)
    assert order.total_ore == 2 * 4500 + 3900
    assert order.cancel_cutoff_at == oslo("2026-06-01", "10:30")  # 30 minutes' lead
    assert placed.message.startswith("Order received")
    assert placed.manage_token and (await stored(units, order.id)).manage_token_hash
    assert (await stored(units, order.id)).manage_token_hash != placed.manage_token
    assert await used(units, date(2026, 6, 1)) == 3
    (event,) = await outbox(units)
    assert event["type"] == "OrderPlaced" and event["subject"] == order.id
    assert event["data"]["total_ore"] == 12900 and event["data"]["status"] == "placed"

    for at, code in [
        ("2026-06-01 16:00", "outside_hours"),  # after 15:00
        ("2026-06-06 11:00", "outside_hours"),  # a Saturday
        ("2026-06-01 09:20", "outside_hours"),  # before 10:00
        ("2026-05-29 11:00", "past"),
    ]:
        with pytest.raises(OrderRefused) as refused:
            await place(units, takeaway(at, kake=1))
        assert refused.value.code == code, at
        assert refused.value.nb  # every refusal has its Bokmål text
    clock.set(oslo("2026-06-01", "10:00"))
    with pytest.raises(OrderRefused) as too_soon:
        await place(units, takeaway("2026-06-01 10:20", kake=1))
    assert too_soon.value.code == "too_soon"
    assert too_soon.value.details == {"earliest_pickup_at": oslo("2026-06-01", "10:30").isoformat()}
    assert await order_count(units) == 1
    assert len(await outbox(units)) == 1


async def test_catering_lead_time_is_two_working_days_and_later_is_short_notice(
    units: UnitsOfWork[Any], clock: TestClock
) -> None:
    closure = usecases.AddClosure(DEFAULT_HUB, date(2026, 6, 3), date(2026, 6, 3), "kurs")
    await units.run(lambda uow: usecases.add_closure(uow, closure))
    # Thursday: Wednesday is closed, so the two working days are Tuesday and Monday.
    thursday = await place(units, catering("2026-06-04 11:00", 8, kaffe_te=8))
    assert thursday.order.order_by == oslo("2026-06-01", "12:00")
    assert (thursday.order.status, thursday.order.short_notice) == ("placed", False)

    days = await units.run(
        lambda uow: usecases.availability(
            uow, usecases.AvailabilityQuery(DEFAULT_HUB, days=4), rules=RULES
        )
    )
    by_day = {d.day: d for d in days}
    assert by_day[THURSDAY].catering_order_by == oslo("2026-06-01", "12:00")
    assert by_day[date(2026, 6, 3)].open is False
    assert "kurs" in (by_day[date(2026, 6, 3)].closed_reason or "")
    assert by_day[THURSDAY].remaining_portions == RULES.daily_capacity - 8

    clock.set(oslo("2026-06-01", "12:00"))  # the cut-off itself: from now on, short notice
    late = await place(units, catering("2026-06-04 11:30", 4, reply="nb", kake=4))
    assert (late.order.status, late.order.short_notice) == ("pending_acceptance", True)
    assert late.message.startswith("Kort varsel: bestillingen kom etter fristen (01.06.2026")
    friday = await place(units, catering("2026-06-05 11:00", 4, kake=4))
    assert friday.order.order_by == oslo("2026-06-02", "12:00")  # Thursday, Tuesday
    assert friday.order.short_notice is False

    placed = [e["data"] for e in await outbox(units)]
    assert [(d["status"], d["short_notice"]) for d in placed] == [
        ("placed", False),
        ("pending_acceptance", True),
        ("placed", False),
    ]
    assert (await stored(units, late.order.id)).status == "pending_acceptance"


async def test_a_full_day_is_refused_with_the_next_day_with_room(
    units: UnitsOfWork[Any],
) -> None:
    default = RULES.daily_capacity
    for day, portions in ((THURSDAY, 5), (date(2026, 6, 5), 1)):
        cmd = usecases.SetCapacity(DEFAULT_HUB, day, portions)
        await units.run(
            lambda uow, cmd=cmd: usecases.set_capacity(uow, cmd, daily_capacity=default)
        )
    await place(units, takeaway("2026-06-04 11:00", kake=4))
    with pytest.raises(OrderRefused) as refused:
        await place(units, takeaway("2026-06-04 12:00", kake=2))
    assert refused.value.code == "capacity_full"
    # Friday has room for 1 only and the weekend is closed: Monday is offered.
    assert refused.value.details == {"remaining": 1, "next_available_date": "2026-06-08"}
    assert "full" in refused.value.message and "fullbooket" in (refused.value.nb or "")
    assert await used(units, THURSDAY) == 4
    assert await order_count(units) == 1
    assert [e["type"] for e in await outbox(units)] == ["OrderPlaced"]

    lower = usecases.SetCapacity(DEFAULT_HUB, THURSDAY, 3)
    with pytest.raises(Conflict) as below:
        await units.run(lambda uow: usecases.set_capacity(uow, lower, daily_capacity=default))
    assert below.value.code == "below_used" and below.value.details == {"used": 4}


async def test_the_status_lifecycle_and_who_may_cancel(
    units: UnitsOfWork[Any], clock: TestClock
) -> None:
    first_placed = await place(units, catering("2026-06-04 11:00", 10, kaffe_te=10))
    first = first_placed.order
    second = await place(units, takeaway("2026-06-04 12:00", kake=3))
    third = (await place(units, takeaway("2026-06-04 13:00", kake=2))).order

    async def step(order: Order, action: str, reason: str | None = None) -> Order:
        cmd = usecases.AdvanceOrder(order.id, action, reason)  # type: ignore[arg-type]
        return await units.run(lambda uow: usecases.advance_order(uow, cmd))

    accepted = await step(first, "accept")
    assert accepted.status == "accepted" and accepted.accepted_at == clock()
    rejected = await step(third, "reject", "tomt for kake")
    assert (rejected.status, rejected.reason) == ("rejected", "tomt for kake")
    assert await used(units, THURSDAY) == 13  # the rejected order gave its portions back
    with pytest.raises(TransitionRefused) as wrong:
        await step(third, "accept")
    assert wrong.value.code == "wrong_status" and wrong.value.details["order_status"] == "rejected"
    with pytest.raises(TransitionRefused):
        await step(second.order, "ready")  # not accepted yet

    await step(second.order, "accept")
    clock.set(oslo("2026-06-04", "10:30"))
    await step(second.order, "ready")
    picked = await step(second.order, "picked_up")
    assert picked.status == "picked_up" and picked.picked_up_at == clock()

    # Past the cut-off the customer cannot cancel with the token; the café can.
    holder = usecases.Caller(cafe_staff=False, token=first_placed.manage_token)
    mine = usecases.CancelOrder(first.id, holder)
    with pytest.raises(TransitionRefused) as late:
        await units.run(lambda uow: usecases.cancel_order(uow, mine))
    assert late.value.code == "cancel_cutoff_passed"
    stranger = usecases.Caller(cafe_staff=False, token=second.manage_token)
    with pytest.raises(NotAllowed) as other:
        await units.run(
            lambda uow: usecases.cancel_order(uow, usecases.CancelOrder(first.id, stranger))
        )
    assert other.value.code == "wrong_manage_token"
    by_cafe = usecases.CancelOrder(first.id, CAFE, "sykdom")
    cancelled = await units.run(lambda uow: usecases.cancel_order(uow, by_cafe))
    assert (cancelled.status, cancelled.cancelled_by) == ("cancelled", "cafe")
    assert await used(units, THURSDAY) == 3

    stored_first = await stored(units, first.id)
    assert (stored_first.status, stored_first.reason) == ("cancelled", "sykdom")
    events = await outbox(units)
    assert [e["type"] for e in events] == [
        "OrderPlaced",
        "OrderPlaced",
        "OrderPlaced",
        "OrderAccepted",
        "OrderRejected",
        "OrderAccepted",
        "OrderReady",
        "OrderPickedUp",
        "OrderCancelled",
    ]
    assert events[4]["data"]["rejected_by"] == "cafe"
    assert events[-1]["data"]["cancelled_by"] == "cafe"


async def test_the_customer_cancels_with_the_token_until_the_cutoff(
    units: UnitsOfWork[Any], clock: TestClock
) -> None:
    placed = await place(units, catering("2026-06-05 11:00", 2, kake=2))
    holder = usecases.Caller(cafe_staff=False, token=placed.manage_token)
    seen = await units.run(
        lambda uow: usecases.get_order(uow, usecases.SeeOrder(placed.order.id, holder))
    )
    assert seen.id == placed.order.id
    clock.set(placed.order.cancel_cutoff_at)
    cmd = usecases.CancelOrder(placed.order.id, holder)
    with pytest.raises(TransitionRefused) as late:
        await units.run(lambda uow: usecases.cancel_order(uow, cmd))
    assert late.value.code == "cancel_cutoff_passed" and "cut-off" in late.value.message
    clock.set(placed.order.cancel_cutoff_at - timedelta(seconds=1))
    cancelled = await units.run(lambda uow: usecases.cancel_order(uow, cmd))
    assert cancelled.cancelled_by == "customer"
    assert await used(units, date(2026, 6, 5)) == 0
    assert [e["type"] for e in await outbox(units)] == ["OrderPlaced", "OrderCancelled"]


def confirmed(booking_id: str, at: str, *lines: tuple[str, int]) -> BookingConfirmed:
    d, t = at.split()
    serve_at = oslo(d, t)
    return BookingConfirmed(
        booking_id=booking_id,
        hub=DEFAULT_HUB,
        resource_id="moterom-1",
        resource_name="Møterom 1",
        start=serve_at,
        end=serve_at + timedelta(hours=2),
        booker_type="organisation",
        booker=Contact(name="Strømsø Sjakklubb", email="leder@example.org", language="en"),
        organisation_name="Strømsø Sjakklubb",
        title="Styremøte",
        attendees=12,
        catering=CateringRequest(
            lines=[CateringLine(item_id=i, quantity=q) for i, q in lines],
            people=12,
            serve_at=serve_at,
        ),
    )


def booking_cancelled(confirm: BookingConfirmed) -> BookingCancelled:
    facts = confirm.model_dump(exclude={"catering", "attendees", "auto_approved"})
    return BookingCancelled.model_validate(
        {**facts, "cancelled_by": "owner", "had_catering": True, "reason": "flyttet"}
    )


async def deliver(units: UnitsOfWork[Any], data: EventData) -> str:
    """Hand one event to catering's handler as the consumer does: a unit of work bound to
    the inbox transaction, its recorded events flushed into it. Returns its correlation."""
    handle = handlers(SimpleNamespace(config=CateringSettings()))  # type: ignore[arg-type]
    envelope = new_event(data)
    async with units.db.transaction() as session:
        uow = units.bound(session, correlation=envelope.correlationid)
        await handle[envelope.type](Delivery(uow, envelope, data))
        await uow.flush()
    return envelope.correlationid


async def test_a_booking_places_its_order_once_and_its_cancel_cancels_it(
    units: UnitsOfWork[Any],
) -> None:
    confirm = confirmed("b-1", "2026-06-04 11:00", ("kaffe-te", 12), ("lunsj-baguette", 12))
    correlation = await deliver(units, confirm)
    await deliver(units, confirm)  # re-sent under a new event id: still one order
    async with units.db.read() as session:
        (order,) = (await session.execute(select(Order))).scalars().all()
    assert (order.booking_id, order.status, order.people) == ("b-1", "placed", 12)
    assert order.customer_language == "en" and order.manage_token_hash is None
    assert order.note == "Booking: Møterom 1 · Styremøte · Strømsø Sjakklubb"
    assert await used(units, THURSDAY) == 24
    (placed,) = await outbox(units)
    assert placed["type"] == "OrderPlaced" and placed["correlationid"] == correlation

    cancel_correlation = await deliver(units, booking_cancelled(confirm))
    assert (await stored(units, order.id)).status == "cancelled"
    assert (await stored(units, order.id)).reason == "the room booking was cancelled: flyttet"
    assert await used(units, THURSDAY) == 0
    cancelled = (await outbox(units))[-1]
    assert cancelled["type"] == "OrderCancelled"
    assert cancelled["data"]["cancelled_by"] == "booking"
    assert cancelled["correlationid"] == cancel_correlation
    await deliver(units, confirm)  # a late duplicate of the confirm changes nothing
    assert len(await outbox(units)) == 2

    # A cancel that overtakes its confirm: no orphan order, no event.
    early = confirmed("b-2", "2026-06-04 12:00", ("kake", 3))
    await deliver(units, booking_cancelled(early))
    await deliver(units, early)
    assert await order_count(units) == 1
    assert len(await outbox(units)) == 2


async def test_a_booking_request_that_cannot_be_met_is_kept_as_rejected(
    units: UnitsOfWork[Any],
) -> None:
    await deliver(units, confirmed("late", "2026-06-04 18:00", ("kaffe-te", 12)))
    async with units.db.read() as session:
        (order,) = (await session.execute(select(Order))).scalars().all()
    assert (order.status, order.booking_id) == ("rejected", "late")
    assert "closed" in (order.reason or "") and order.rejected_at is not None
    assert await used(units, THURSDAY) in (None, 0)  # nothing held
    (event,) = await outbox(units)
    assert event["type"] == "OrderRejected"
    assert event["data"]["rejected_by"] == "system" and "closed" in event["data"]["reason"]


async def test_the_prep_list_counts_what_the_cafe_said_yes_to(units: UnitsOfWork[Any]) -> None:
    first = (await place(units, catering("2026-06-04 11:00", 10, kaffe_te=10))).order
    second = (await place(units, takeaway("2026-06-04 12:00", kake=3))).order
    waiting = (await place(units, takeaway("2026-06-04 13:00", kake=2))).order
    gone = (await place(units, takeaway("2026-06-04 14:00", kake=5))).order
    await place(units, takeaway("2026-06-05 11:00", kake=7))  # another day
    for order_id, action in ((first.id, "accept"), (second.id, "accept"), (gone.id, "reject")):
        cmd = usecases.AdvanceOrder(order_id, action, "nei")  # type: ignore[arg-type]
        await units.run(lambda uow, cmd=cmd: usecases.advance_order(uow, cmd))

    query = usecases.PrepListQuery(DEFAULT_HUB, THURSDAY)
    day = await units.run(
        lambda uow: usecases.prep_list(uow, query, daily_capacity=RULES.daily_capacity)
    )
    assert {i.item_id: i.quantity for i in day.prep.items} == {"kaffe-te": 10, "kake": 3}
    assert next(i for i in day.prep.items if i.item_id == "kake").allergens == (
        "gluten",
        "eggs",
        "milk",
        "nuts",
    )
    assert day.prep.people == 10
    assert [o.id for o in day.prep.pickups] == [first.id, second.id]
    assert [o.id for o in day.prep.awaiting_decision] == [waiting.id]
    assert (day.load.capacity, day.load.used) == (RULES.daily_capacity, 15)


async def test_a_booking_request_for_a_full_day_is_kept_as_rejected_alone(
    units: UnitsOfWork[Any],
) -> None:
    """The day's room is found short after the order's rows are written: the rejected
    order takes their place, rather than meeting them (one order a booking) and failing."""
    cmd = usecases.SetCapacity(DEFAULT_HUB, THURSDAY, 5)
    await units.run(
        lambda uow: usecases.set_capacity(uow, cmd, daily_capacity=RULES.daily_capacity)
    )
    await deliver(units, confirmed("full", "2026-06-04 11:00", ("kaffe-te", 12)))
    async with units.db.read() as session:
        (order,) = (await session.execute(select(Order))).scalars().all()
    assert (order.status, order.booking_id) == ("rejected", "full")
    async with units.db.read() as session:  # the refused order's lines went with it
        assert (await session.execute(select(func.count(OrderLineRow.id)))).scalar_one() == 0
    assert await used(units, THURSDAY) == 0  # nothing held
    (event,) = await outbox(units)
    assert event["type"] == "OrderRejected" and "full" in event["data"]["reason"]
