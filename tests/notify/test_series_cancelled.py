"""A series cancelled in one request, through notify's fan-out use case on SQLite and
PostgreSQL: its booker is told once (not once per occurrence), and a booking cancelled on
its own still tells its booker."""

from __future__ import annotations

from datetime import timedelta

from services.notify import usecases
from services.notify.routing import FanoutRules
from shared.events import CancelledOccurrence, Contact
from tests.notify.samples import WHEN, sample
from tests.notify.test_usecases import NOON, Units, deliveries, fan_out, notify_units, rules

__all__ = ["rules"]  # the module's fixture, shared

BOOKER = Contact(name="Kari Nordmann", email="kari@example.org", phone="+47 000 00 010")


async def to(units: Units, recipient: str) -> list[tuple[str, str]]:
    query = usecases.NotificationQuery(recipient=recipient)
    rows = await units.run(lambda uow: usecases.list_notifications(uow, query))
    return sorted((r.event_type, r.channel) for r in rows)


async def test_a_cancelled_series_reaches_its_booker_once(
    database_url: str, rules: FanoutRules
) -> None:
    starts = [WHEN + timedelta(days=7 * i) for i in range(3)]
    async with notify_units(database_url, NOON) as (units, _clock):
        for i, start in enumerate(starts):
            occurrence = sample(
                "BookingCancelled",
                booking_id=f"b{i}",
                booker=BOOKER,
                start=start,
                end=start + timedelta(hours=2),
                cancelled_by="owner",
                participants=[],
                series_cancellation=True,
            )
            assert await deliveries(units, await fan_out(units, rules, occurrence)) == []
        whole = sample(
            "SeriesCancelled",
            booker=BOOKER,
            cancelled_by="owner",
            participants=[],
            occurrences=[
                CancelledOccurrence(booking_id=f"b{i}", start=s, end=s + timedelta(hours=2))
                for i, s in enumerate(starts)
            ],
        )
        event_id = await fan_out(units, rules, whole)
        assert await to(units, "kari@example.org") == [("SeriesCancelled", "email")]
        assert await to(units, "+4700000010") == [("SeriesCancelled", "sms")]
        staff = [r for r in await deliveries(units, event_id) if r.recipient_kind == "staff"]
        assert [(r.channel, r.template) for r in staff] == [("email", "series_cancelled_staff")]
        (email,) = [r for r in await deliveries(units, event_id) if r.recipient == BOOKER.email]
        for day in ("5. mai", "12. mai", "19. mai"):
            assert day in email.body_text

        # One booking cancelled on its own still tells its booker, as before.
        single = sample(
            "BookingCancelled",
            booker=BOOKER,
            cancelled_by="owner",
            participants=[],
            series_cancellation=False,
        )
        await fan_out(units, rules, single)
        assert await to(units, "kari@example.org") == [
            ("BookingCancelled", "email"),
            ("SeriesCancelled", "email"),
        ]
