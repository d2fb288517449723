"""A room booking's catering request through real Redis: BookingConfirmed places one order
however often it arrives, BookingCancelled cancels it, and a cancel that overtakes the
confirm leaves no orphan order."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy import select

from services.catering.models import DayCapacity, Order
from shared.events import (
    BookingCancelled,
    BookingConfirmed,
    CancelledOccurrence,
    CateringLine,
    CateringRequest,
    Contact,
    Envelope,
    SeriesCancelled,
    encode_entry,
    new_event,
)
from tests.catering.support import CAFE, Clock, cafe_service, events, oslo
from tests.support.apps import RunningService
from tests.support.streams import group_caught_up
from tests.support.waiting import wait_for

BOOKINGS = "booking.events"
BOOKER = Contact(name="Strømsø Sjakklubb", email="leder@example.org", phone="+4700000000")


def booking_facts(booking_id: str, serve_at: datetime) -> dict[str, object]:
    return {
        "booking_id": booking_id,
        "hub": "stromso",
        "resource_id": "moterom-1",
        "resource_name": "Møterom 1",
        "start": serve_at,
        "end": serve_at + timedelta(hours=2),
        "booker_type": "organisation",
        "booker": BOOKER,
        "organisation_name": "Strømsø Sjakklubb",
        "title": "Styremøte",
    }


def confirmed(booking_id: str, serve_at: datetime, *lines: tuple[str, int]) -> Envelope:
    request = CateringRequest(
        lines=[CateringLine(item_id=i, quantity=q) for i, q in lines],
        people=12,
        serve_at=serve_at,
        note="Ett glutenfritt alternativ",
    )
    return new_event(
        BookingConfirmed(**booking_facts(booking_id, serve_at), catering=request, attendees=12)  # type: ignore[arg-type]
    )


def cancelled(booking_id: str, serve_at: datetime) -> Envelope:
    return new_event(
        BookingCancelled(
            **booking_facts(booking_id, serve_at),  # type: ignore[arg-type]
            cancelled_by="owner",
            had_catering=True,
        )
    )


async def publish(redis: Redis, prefix: str, envelope: Envelope) -> None:
    await redis.xadd(prefix + BOOKINGS, encode_entry(envelope))  # type: ignore[arg-type]


async def all_handled(redis: Redis, prefix: str) -> bool:
    """The catering group has read and acked everything on the booking stream."""
    return await group_caught_up(redis, prefix + BOOKINGS, "catering")


async def orders_of(cafe: RunningService, booking_id: str) -> list[Order]:
    async with cafe.runtime.db.read() as session:
        return list(
            (await session.execute(select(Order).where(Order.booking_id == booking_id)))
            .scalars()
            .all()
        )


async def catering_events(redis: Redis, prefix: str, booking_id: str) -> list[dict]:
    return [e for e in await events(redis, prefix) if e["data"].get("booking_id") == booking_id]


async def test_confirmed_twice_places_one_order_and_cancel_cancels_it(
    database_url: str, redis_url: str, prefix: str, redis: Redis
) -> None:
    clock = Clock(oslo("2026-06-01", "09:00"))
    serve_at = oslo("2026-06-04", "11:00")
    async with cafe_service(database_url, redis_url, prefix, clock) as cafe:
        event = confirmed("b-1", serve_at, ("kaffe-te", 12), ("lunsj-baguette", 12))
        # The same entry delivered twice, and the same booking confirmed again under a new
        # event id (a producer retry): still one order.
        await publish(redis, prefix, event)
        await publish(redis, prefix, event)
        await publish(
            redis, prefix, confirmed("b-1", serve_at, ("kaffe-te", 12), ("lunsj-baguette", 12))
        )
        await wait_for(lambda: all_handled(redis, prefix), message="confirms handled")
        await wait_for(
            lambda: catering_events(redis, prefix, "b-1"), message="OrderPlaced published"
        )
        orders = await orders_of(cafe, "b-1")
        assert len(orders) == 1
        order = orders[0]
        assert order.status == "placed" and order.kind == "catering" and order.people == 12
        assert order.total_ore == 12 * 3500 + 12 * 8900
        published = await catering_events(redis, prefix, "b-1")
        assert [e["type"] for e in published] == ["OrderPlaced"]
        data = published[0]["data"]
        assert data["customer"]["name"] == "Strømsø Sjakklubb"
        assert data["customer"]["phone"] == "+4700000000"
        assert data["booking_id"] == "b-1" and data["short_notice"] is False
        assert "Møterom 1" in data["note"] and "glutenfritt" in data["note"]
        assert published[0]["correlationid"] == event.correlationid

        await publish(redis, prefix, cancelled("b-1", serve_at))

        async def two() -> list[dict]:
            found = await catering_events(redis, prefix, "b-1")
            return found if len(found) == 2 else []

        found = await wait_for(two, message="OrderCancelled published")
        assert found[1]["type"] == "OrderCancelled"
        assert found[1]["data"]["cancelled_by"] == "booking"
        (order,) = await orders_of(cafe, "b-1")
        assert order.status == "cancelled"
        async with cafe.runtime.db.read() as session:
            used = (
                await session.execute(
                    select(DayCapacity.used).where(DayCapacity.day == date(2026, 6, 4))
                )
            ).scalar_one()
        assert used == 0
        # A late duplicate of the confirm changes nothing.
        await publish(redis, prefix, event)
        await wait_for(lambda: all_handled(redis, prefix), message="late duplicate handled")
        assert len(await catering_events(redis, prefix, "b-1")) == 2


async def test_cancel_before_confirm_leaves_no_orphan_order(
    database_url: str, redis_url: str, prefix: str, redis: Redis
) -> None:
    clock = Clock(oslo("2026-06-01", "09:00"))
    serve_at = oslo("2026-06-04", "11:00")
    async with cafe_service(database_url, redis_url, prefix, clock) as cafe:
        await publish(redis, prefix, cancelled("b-2", serve_at))
        await publish(redis, prefix, confirmed("b-2", serve_at, ("kaffe-te", 12)))
        # A booking handled normally afterwards shows the consumer got past both.
        await publish(redis, prefix, confirmed("b-3", serve_at, ("kake", 12)))
        await wait_for(lambda: catering_events(redis, prefix, "b-3"), message="b-3 placed")
        await wait_for(lambda: all_handled(redis, prefix), message="all handled")
        assert await orders_of(cafe, "b-2") == []
        assert await catering_events(redis, prefix, "b-2") == []


async def test_requests_that_cannot_be_met_are_rejected_with_the_reason(
    sqlite_database_url: str, redis_url: str, prefix: str, redis: Redis
) -> None:
    clock = Clock(oslo("2026-06-01", "09:00"))
    async with cafe_service(sqlite_database_url, redis_url, prefix, clock) as cafe:
        evening = oslo("2026-06-04", "18:00")
        await publish(redis, prefix, confirmed("late", evening, ("kaffe-te", 12)))
        soon = oslo("2026-06-02", "11:00")
        await publish(redis, prefix, confirmed("unknown", soon, ("pizza", 3)))
        await publish(redis, prefix, confirmed("short", soon, ("kaffe-te", 12)))

        async def three() -> list[dict]:
            found = await events(redis, prefix)
            return found if len(found) == 3 else []

        found = {e["data"]["booking_id"]: e for e in await wait_for(three, message="3 events")}
        assert found["late"]["type"] == "OrderRejected"
        assert found["late"]["data"]["rejected_by"] == "system"
        assert "closed" in found["late"]["data"]["reason"]
        assert found["unknown"]["type"] == "OrderRejected"
        assert "pizza" in found["unknown"]["data"]["reason"]
        # Inside the two-day window: a short-notice request for the café to decide.
        assert found["short"]["type"] == "OrderPlaced"
        assert found["short"]["data"]["status"] == "pending_acceptance"
        assert found["short"]["data"]["short_notice"] is True
        listed = await cafe.client.get("/orders", params={"status": "rejected"}, headers=CAFE)
        assert {o["booking_id"] for o in listed.json()} == {"late", "unknown"}


async def test_a_cancelled_series_cancels_each_occurrences_order(
    database_url: str, redis_url: str, prefix: str, redis: Redis
) -> None:
    clock = Clock(oslo("2026-06-01", "09:00"))
    days = [oslo("2026-06-04", "11:00"), oslo("2026-06-11", "11:00")]
    async with cafe_service(database_url, redis_url, prefix, clock) as cafe:
        for i, serve_at in enumerate(days):
            await publish(redis, prefix, confirmed(f"s-{i}", serve_at, ("kaffe-te", 12)))
        for i, serve_at in enumerate(days):
            marked = cancelled(f"s-{i}", serve_at)
            marked.data["series_cancellation"] = True
            await publish(redis, prefix, marked)
        # The one message for the booker: catering has no handler for it and lets it by.
        series = SeriesCancelled(
            series_id="series-1",
            hub="stromso",
            resource_id="moterom-1",
            resource_name="Møterom 1",
            booker_type="organisation",
            booker=BOOKER,
            cancelled_by="owner",
            occurrences=[
                CancelledOccurrence(
                    booking_id=f"s-{i}", start=d, end=d + timedelta(hours=2), had_catering=True
                )
                for i, d in enumerate(days)
            ],
        )
        await publish(redis, prefix, new_event(series))
        await wait_for(lambda: all_handled(redis, prefix), message="all handled")

        async def both_cancelled() -> bool:
            orders = [o for i in range(2) for o in await orders_of(cafe, f"s-{i}")]
            return len(orders) == 2 and all(o.status == "cancelled" for o in orders)

        await wait_for(both_cancelled, message="both orders cancelled")
        assert await redis.xlen(prefix + BOOKINGS + ".dlq") == 0
