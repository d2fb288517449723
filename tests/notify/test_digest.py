"""The staff's daily digest: kept from consumed events, made once per role and open day at
its set Oslo time, with the items in it; on a real SQLite and PostgreSQL, with the
injected clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select

from services.notify import digest, usecases
from services.notify.app import SPEC
from services.notify.domain import Preference
from services.notify.models import DeliveryRow, DigestItemRow
from services.notify.routing import FanoutRules
from services.notify.settings import NotifySettings, load_rules
from services.notify.store import Store
from shared.calendar import Calendar, at_local
from shared.events import Contact, EventData, OrderLine, new_event
from shared.unit_of_work import UnitsOfWork
from tests.notify.conftest import Factory
from tests.notify.samples import sample
from tests.support.clock import TestClock
from tests.support.databases import seeing_statements
from tests.support.units import service_units
from tests.support.waiting import wait_for

TUESDAY = date(2026, 5, 5)
ASCENSION = date(2026, 5, 14)  # Kristi himmelfartsdag, a Thursday: closed
SATURDAY = date(2026, 5, 9)
PLANS = NotifySettings().digest_plans()  # desk 08:00, café 07:30, booking officers 08:00
BORROWER = Contact(name="Kari Nordmann", email="kari@example.org", phone="+47 000 00 010")

Units = UnitsOfWork[Store]


def oslo(day: date, hh: int, mm: int = 0) -> datetime:
    return at_local(day, time(hh, mm))


@pytest.fixture(scope="module")
def rules() -> FanoutRules:
    return load_rules(NotifySettings(), None, b"test-key")


@contextlib.asynccontextmanager
async def notify_units(
    database_url: str, start: datetime
) -> AsyncIterator[tuple[Units, TestClock]]:
    clock = TestClock(start)
    async with service_units(SPEC, database_url, clock) as units:
        yield units, clock


async def consume(units: Units, data: EventData, at: datetime) -> None:
    envelope = new_event(data, time=at)
    command = usecases.FanOut(envelope, data)
    await units.run(lambda uow: usecases.keep_digest_states([(uow, command)]))


async def make(units: Units, rules: FanoutRules, **kw: Any) -> list[tuple[str, str, int]]:
    command = usecases.MakeDigests(PLANS, **kw)
    return await units.run(lambda uow: usecases.make_digests(uow, command, rules=rules))


async def digests(units: Units, role: str, day: date) -> list[DeliveryRow]:
    query = usecases.NotificationQuery(event_id=digest.digest_event_id(role, day))  # type: ignore[arg-type]
    return await units.run(lambda uow: usecases.list_notifications(uow, query))


def loan(loan_id: str, label: str, due: datetime, event: str = "LoanStarted") -> EventData:
    return sample(event, loan_id=loan_id, item_label=label, due_at=due, borrower=BORROWER)


async def test_the_desk_digest_goes_once_at_its_time_on_an_open_day_with_the_loans(
    database_url: str, rules: FanoutRules
) -> None:
    async with notify_units(database_url, oslo(TUESDAY, 7)) as (units, clock):
        await consume(units, loan("l1", "PC 7", oslo(TUESDAY, 14)), oslo(TUESDAY, 6))
        await consume(units, loan("l2", "Pallekarm 3", oslo(TUESDAY - timedelta(days=3), 14)),
                      oslo(TUESDAY, 6))  # fmt: skip
        await consume(units, loan("l3", "PC 9", oslo(TUESDAY, 12)), oslo(TUESDAY, 6))
        returned = sample("LoanReturned", loan_id="l3", borrower=BORROWER)
        await consume(units, returned, oslo(TUESDAY, 6, 30))
        await consume(units, loan("l4", "PC 2", oslo(TUESDAY + timedelta(days=2), 14)),
                      oslo(TUESDAY, 6))  # fmt: skip

        clock.set(oslo(TUESDAY, 7, 59))
        assert [m for m in await make(units, rules) if m[0] == "desk"] == []
        clock.set(oslo(TUESDAY, 8, 0))
        assert ("desk", "2026-05-05", 1) in await make(units, rules)
        [email] = await digests(units, "desk", TUESDAY)
        assert email.recipient == "innbyggertorg@example.org" and email.channel == "email"
        assert email.recipient_role == "desk" and email.status == "queued"
        assert "1 skal leveres, 1 på overtid" in (email.subject or "")
        body = email.body_text
        assert "PC 7, innen kl. 14:00" in body and "Pallekarm 3, skulle vært levert" in body
        assert "PC 9" not in body and "PC 2" not in body  # returned; due later
        assert "Kari" not in body and "kari@" not in body  # no borrower in the digest
        assert email.body_html and "PC 7" in email.body_html

        # Later the same day, and a second replica: nothing more.
        clock.set(oslo(TUESDAY, 9))
        assert [m for m in await make(units, rules) if m[0] == "desk"] == [
            ("desk", "2026-05-05", 0)  # due, made already: no email
        ]
        assert len(await digests(units, "desk", TUESDAY)) == 1


async def test_two_replicas_at_the_same_moment_make_it_once(
    database_url: str, rules: FanoutRules
) -> None:
    async with notify_units(database_url, oslo(TUESDAY, 6)) as (units, clock):
        await consume(units, loan("l1", "PC 7", oslo(TUESDAY, 14)), oslo(TUESDAY, 6))
        clock.set(oslo(TUESDAY, 8, 0))
        first, second = await asyncio.gather(make(units, rules), make(units, rules))
        made = [m for m in first + second if m[0] == "desk" and m[2]]
        assert made == [("desk", "2026-05-05", 1)]
        assert len(await digests(units, "desk", TUESDAY)) == 1


async def test_no_digest_on_a_holiday_or_a_weekend(database_url: str, rules: FanoutRules) -> None:
    async with notify_units(database_url, oslo(ASCENSION, 6)) as (units, clock):
        await consume(units, loan("l1", "PC 7", oslo(ASCENSION, 14)), oslo(ASCENSION, 6))
        for day in (ASCENSION, SATURDAY):
            clock.set(oslo(day, 12))
            assert await make(units, rules) == []
            assert await digests(units, "desk", day) == []
        # The next open day it goes, listing the loan as overdue.
        clock.set(oslo(ASCENSION + timedelta(days=1), 8))
        assert ("desk", "2026-05-15", 1) in await make(units, rules)
        [email] = await digests(units, "desk", ASCENSION + timedelta(days=1))
        assert "PC 7, skulle vært levert" in email.body_text


async def test_the_cafe_digest_lists_todays_orders_and_short_notice_ones_waiting(
    database_url: str, rules: FanoutRules
) -> None:
    lines = [OrderLine(item_id="k", name="Kaffe", quantity=12, unit_price_ore=2500)]
    async with notify_units(database_url, oslo(TUESDAY, 6)) as (units, clock):
        today = sample("OrderPlaced", order_id="o1", pickup_at=oslo(TUESDAY, 11), lines=lines,
                       people=12, short_notice=False, status="placed")  # fmt: skip
        waiting = sample("OrderPlaced", order_id="o2", pickup_at=oslo(TUESDAY, 23),
                         short_notice=True, status="pending_acceptance")  # fmt: skip
        accepted = sample("OrderPlaced", order_id="o3", pickup_at=oslo(TUESDAY, 22),
                          short_notice=True, status="pending_acceptance")  # fmt: skip
        cancelled = sample("OrderPlaced", order_id="o4", pickup_at=oslo(TUESDAY, 12),
                           short_notice=False, status="placed")  # fmt: skip
        for data in (today, waiting, accepted, cancelled):
            await consume(units, data, oslo(TUESDAY, 6))
        await consume(units, sample("OrderAccepted", order_id="o3"), oslo(TUESDAY, 6, 5))
        await consume(units, sample("OrderCancelled", order_id="o4"), oslo(TUESDAY, 6, 5))
        clock.set(oslo(TUESDAY, 7, 30))
        assert ("cafe", "2026-05-05", 1) in await make(units, rules)
        [email] = await digests(units, "cafe", TUESDAY)
        body = email.body_text
        assert "kl. 11:00 (12 pers.): 12 × Kaffe" in body
        assert "kl. 22:00" in body and "kl. 12:00" not in body  # cancelled is gone
        waiting_part = body.split("venter på svar fra dere:")[1]
        assert "23:00" in waiting_part and "22:00" not in waiting_part  # o3 was accepted


async def test_the_booking_digest_lists_todays_bookings_and_waiting_requests(
    database_url: str, rules: FanoutRules
) -> None:
    async with notify_units(database_url, oslo(TUESDAY, 6)) as (units, clock):
        confirmed = sample("BookingConfirmed", booking_id="b1", resource_name="Møterom 1",
                           start=oslo(TUESDAY, 10), end=oslo(TUESDAY, 12),
                           organisation_name="Strømsø Vel", booker=BORROWER)  # fmt: skip
        requested = sample("BookingRequested", booking_id="b2", resource_name="Gymsalen",
                           start=oslo(TUESDAY + timedelta(days=7), 17),
                           end=oslo(TUESDAY + timedelta(days=7), 19),
                           organisation_name=None, booker=BORROWER)  # fmt: skip
        rejected = sample("BookingRequested", booking_id="b3", resource_name="Møterom 2",
                          start=oslo(TUESDAY + timedelta(days=1), 10),
                          end=oslo(TUESDAY + timedelta(days=1), 11))  # fmt: skip
        for data in (confirmed, requested, rejected):
            await consume(units, data, oslo(TUESDAY, 6))
        await consume(units, sample("BookingRejected", booking_id="b3"), oslo(TUESDAY, 6, 1))
        clock.set(oslo(TUESDAY, 8))
        assert ("booking", "2026-05-05", 1) in await make(units, rules)
        [email] = await digests(units, "booking", TUESDAY)
        body = email.body_text
        assert "kl. 10:00–12:00: Møterom 1 – Strømsø Vel" in body
        assert "Gymsalen" in body and "Møterom 2" not in body
        assert "Kari" not in body  # a private booker is not named


async def test_an_older_event_arriving_late_does_not_reopen_an_item(
    database_url: str, rules: FanoutRules
) -> None:
    async with notify_units(database_url, oslo(TUESDAY, 6)) as (units, clock):
        returned = sample("LoanReturned", loan_id="l1", borrower=BORROWER)
        await consume(units, returned, oslo(TUESDAY, 7))
        await consume(units, loan("l1", "PC 7", oslo(TUESDAY, 14)), oslo(TUESDAY, 6))
        clock.set(oslo(TUESDAY, 8))
        made = [m for m in await make(units, rules) if m[0] == "desk"]
        assert made == [("desk", "2026-05-05", 0)]  # made, empty: no email
        assert await digests(units, "desk", TUESDAY) == []


async def test_a_batch_of_events_leaves_the_state_one_at_a_time_would_in_a_statement_per_run(
    database_url: str,
) -> None:
    """A consumer's batch writes its digest changes together: each run of one shape in one
    statement, a key seen again starting the next, and the rows as if one at a time."""
    lines = [OrderLine(item_id="k", name="Kaffe", quantity=12, unit_price_ore=2500)]
    placed = [
        sample("OrderPlaced", order_id=f"o{n}", pickup_at=oslo(TUESDAY, 10 + n), lines=lines,
               people=n, short_notice=True, status="pending_acceptance")
        for n in (1, 2, 3)
    ]  # fmt: skip
    events = [
        (placed[0], oslo(TUESDAY, 6)),
        (placed[1], oslo(TUESDAY, 6)),
        (sample("OrderAccepted", order_id="o1"), oslo(TUESDAY, 6, 5)),
        (sample("OrderAccepted", order_id="o2"), oslo(TUESDAY, 6, 5)),
        (sample("OrderCancelled", order_id="o2"), oslo(TUESDAY, 6, 6)),
        (placed[2], oslo(TUESDAY, 6)),
        (sample("OrderCancelled", order_id="o3"), oslo(TUESDAY, 6, 7)),
        (placed[2], oslo(TUESDAY, 6)),  # late and older: o3 stays closed
        (loan("l1", "PC 7", oslo(TUESDAY, 14)), oslo(TUESDAY, 6)),
    ]
    commands = [usecases.FanOut(new_event(data, time=at), data) for data, at in events]

    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "digest_items" in statement:
            statements.append(statement)

    async with notify_units(database_url, oslo(TUESDAY, 7)) as (units, _clock):
        for command in commands:
            await units.run(lambda uow, c=command: usecases.keep_digest_states([(uow, c)]))
        one_at_a_time = await units.run(_digest_rows)
        await units.run(lambda uow: uow.store.session.execute(delete(DigestItemRow)))
        with seeing_statements(units.db, seen):
            await units.run(lambda uow: usecases.keep_digest_states([(uow, c) for c in commands]))
        together = await units.run(_digest_rows)
    assert together == one_at_a_time
    assert {row[0]: row[1] for row in together} == {
        "order:o1": True, "order:o2": False, "order:o3": False, "loan:l1": True
    }  # fmt: skip
    # Placed ×2 | accepted ×2 | cancelled | placed | cancelled | placed (o3 again) and the
    # loan, both whole items: the same shape.
    assert len(statements) == 6


async def _digest_rows(uow: Any) -> list[tuple[Any, ...]]:
    query = select(DigestItemRow.key, DigestItemRow.open, DigestItemRow.short_notice,
                   DigestItemRow.at, DigestItemRow.label, DigestItemRow.event_time)  # fmt: skip
    rows = await uow.store.session.execute(query.order_by(DigestItemRow.key))
    return [tuple(row) for row in rows]


async def test_staff_who_opted_out_of_email_get_none(database_url: str, rules: FanoutRules) -> None:
    async with notify_units(database_url, oslo(TUESDAY, 6)) as (units, clock):
        await consume(units, loan("l1", "PC 7", oslo(TUESDAY, 14)), oslo(TUESDAY, 6))
        opt_out = usecases.SetPreferences(
            "innbyggertorg@example.org", usecases.Manager(staff=True), Preference(email=False)
        )
        await units.run(lambda uow: usecases.set_preferences(uow, opt_out, key=b"k"))
        clock.set(oslo(TUESDAY, 8))
        await make(units, rules)
        assert await digests(units, "desk", TUESDAY) == []


def test_a_role_turned_off_or_before_its_time_is_not_due() -> None:
    calendar = Calendar()
    on = digest.DigestPlan("desk", True, time(8))
    assert digest.due_day(on, oslo(TUESDAY, 8), calendar) == TUESDAY
    assert digest.due_day(on, oslo(TUESDAY, 7, 59), calendar) is None
    assert digest.due_day(digest.DigestPlan("desk", False, time(8)), oslo(TUESDAY, 9),
                          calendar) is None  # fmt: skip
    # Summer time: 08:00 in Oslo is 06:00 UTC.
    assert digest.due_day(on, datetime(2026, 5, 5, 6, 0, tzinfo=UTC), calendar) == TUESDAY


def test_the_settings_name_a_time_and_on_off_per_role() -> None:
    settings = NotifySettings(digest_cafe_at="06:45", digest_booking_enabled=False)
    plans = {plan.role: plan for plan in settings.digest_plans()}
    assert plans["cafe"].at == time(6, 45) and plans["cafe"].enabled
    assert not plans["booking"].enabled
    with pytest.raises(ValueError):
        NotifySettings(digest_desk_at="kl. 8")


async def test_through_the_service_the_digest_email_arrives_once(hub: Factory) -> None:
    # The service's own timer and consumer, the injected clock, the real mail catcher.
    enabled = {f"digest_{role}_enabled": True for role in ("desk", "cafe", "booking")}
    async with hub(start=oslo(TUESDAY, 7), digest_poll_seconds=0.1, **enabled) as h:
        started = sample("LoanStarted", loan_id="l1", item_label="PC 7", borrower=BORROWER,
                         due_at=oslo(TUESDAY, 14), backfilled=False)  # fmt: skip
        event_id = await h.publish(started)
        # Consumed: the borrower's email is planned in the transaction that keeps the state.
        await wait_for(lambda: h.notifications(event_id=event_id), timeout=15)
        h.clock.set(oslo(TUESDAY, 8))
        mail = await h.mail.wait_for(lambda m: m.subject.startswith("Utlån i dag"), timeout=15)
        assert "PC 7, innen kl. 14:00" in mail.text
        rows = await h.notifications(event_id=digest.digest_event_id("desk", TUESDAY))
        assert len(rows) == 1


@pytest.mark.parametrize("language", ["nb", "en"])
def test_each_digest_reads_in_both_languages(rules: FanoutRules, language: str) -> None:
    entry = usecases.DigestEntry(at=oslo(TUESDAY, 11), label="12", detail="12 × Kaffe")
    view = usecases.DigestView(
        hub="stromso", day=oslo(TUESDAY, 0), due_today=[entry], overdue=[entry], prep=[entry],
        short_notice=[entry], bookings=[entry], requests=[entry],
    )  # fmt: skip
    people = {"nb": "(12 pers.)", "en": "(for 12)"}[language]
    for role in digest.DIGEST_ROLES:
        rendered = rules.renderer.render(
            f"digest_{role}", "email", view, language=language, name="Kari"
        )
        assert rendered.subject and "5" in rendered.subject and "11:00" in rendered.text
        if role == "cafe":
            assert people in rendered.text
