"""What catering does with booking events: a confirmed booking's catering request becomes an
order; a cancelled booking cancels it. Both are idempotent and tolerate a cancel that
arrives before the confirm."""

from __future__ import annotations

import logging

from sqlalchemy import select

from services.catering import ordering
from services.catering.api.common import rules_of
from services.catering.domain import HOLDS_CAPACITY, OrderRefused
from services.catering.models import BookingCancellation, Order
from shared.events import BookingCancelled, BookingConfirmed, Contact
from shared.messaging.consumer import Delivery, Handler
from shared.service import Runtime

log = logging.getLogger("knutepunkt.catering")


def _note(data: BookingConfirmed) -> str:
    assert data.catering is not None
    parts = [f"Booking: {data.resource_name}"]
    if data.title:
        parts.append(data.title)
    if data.organisation_name:
        parts.append(data.organisation_name)
    if data.catering.note:
        parts.append(data.catering.note)
    return " · ".join(parts)[:1000]


def handlers(runtime: Runtime) -> dict[str, Handler]:
    async def on_confirmed(delivery: Delivery) -> None:
        data = delivery.data
        assert isinstance(data, BookingConfirmed)
        if data.catering is None:
            return
        session = delivery.session
        if await session.get(BookingCancellation, data.booking_id) is not None:
            log.info("booking %s was cancelled before its confirm arrived", data.booking_id)
            return
        existing = await session.execute(
            select(Order.id).where(Order.booking_id == data.booking_id)
        )
        if existing.first() is not None:
            return  # the same booking confirmed again (a re-sent event): one order only
        now = runtime.now()
        draft = ordering.Draft(
            hub=data.hub,
            kind="catering",
            pickup_at=data.catering.serve_at,
            lines=[(line.item_id, line.quantity) for line in data.catering.lines],
            # Cut to the columns' sizes: an over-long name must not stall the stream.
            customer=Contact(
                name=data.booker.name[:200],
                email=(data.booker.email or None) and data.booker.email[:254],
                phone=(data.booker.phone or None) and data.booker.phone[:20],
                language=data.booker.language,
            ),
            people=data.catering.people,
            note=_note(data),
            booking_id=data.booking_id,
        )
        try:
            order = await ordering.place(session, draft, now, rules_of(runtime))
        except OrderRefused as refusal:
            # Never dropped silently: kept as a rejected order, and the booker and the
            # café are told why.
            order = await ordering.record_refused(session, draft, now, refusal)
            await delivery.emit(ordering.status_event(order, rejected_by="system"))
            log.info("catering for booking %s refused: %s", data.booking_id, refusal.code)
            return
        await delivery.emit(ordering.placed_event(order))

    async def on_cancelled(delivery: Delivery) -> None:
        data = delivery.data
        assert isinstance(data, BookingCancelled)
        session = delivery.session
        now = runtime.now()
        if await session.get(BookingCancellation, data.booking_id) is None:
            session.add(BookingCancellation(booking_id=data.booking_id, cancelled_at=now))
        order = (
            await session.execute(
                select(Order).where(Order.booking_id == data.booking_id).with_for_update()
            )
        ).scalar_one_or_none()
        if order is None or order.status not in HOLDS_CAPACITY:
            return
        reason = "the room booking was cancelled"
        if data.reason:
            reason += f": {data.reason}"
        await ordering.cancel(session, order, "booking", now, reason[:1000])
        await delivery.emit(ordering.status_event(order))

    return {"BookingConfirmed": on_confirmed, "BookingCancelled": on_cancelled}
