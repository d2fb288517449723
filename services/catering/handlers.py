"""What catering does with booking events: a confirmed booking's catering request becomes an
order; a cancelled booking cancels it. Both are idempotent and tolerate a cancel that
arrives before the confirm (the rules are in usecases.py; these only build the command)."""

from __future__ import annotations

from services.catering import usecases
from services.catering.settings import catering_settings
from shared.events import BookingCancelled, BookingConfirmed, Contact
from shared.messaging.consumer import Delivery, Handler
from shared.service import Runtime


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
        cmd = usecases.PlaceBookingOrder(
            booking_id=data.booking_id,
            hub=data.hub,
            serve_at=data.catering.serve_at,
            lines=[(line.item_id, line.quantity) for line in data.catering.lines],
            # Cut to the columns' sizes: an over-long name must not stall the stream.
            booker=Contact(
                name=data.booker.name[:200],
                email=(data.booker.email or None) and data.booker.email[:254],
                phone=(data.booker.phone or None) and data.booker.phone[:20],
                language=data.booker.language,
            ),
            people=data.catering.people,
            note=_note(data),
        )
        rules = catering_settings(runtime).rules()
        await usecases.place_booking_order(delivery.uow, cmd, rules=rules)

    async def on_cancelled(delivery: Delivery) -> None:
        data = delivery.data
        assert isinstance(data, BookingCancelled)
        cmd = usecases.CancelBookingOrder(booking_id=data.booking_id, reason=data.reason)
        await usecases.cancel_booking_order(delivery.uow, cmd)

    return {"BookingConfirmed": on_confirmed, "BookingCancelled": on_cancelled}
