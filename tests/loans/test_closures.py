"""Staff closures of the desk move due dates and held offers as holidays do: on SQLite and
PostgreSQL, through the use cases, and the endpoint's access and refusals over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest

from services.loans import usecases
from services.loans.app import SPEC
from services.loans.models import Loan
from services.loans.usecases import CheckOut
from shared.errors import Refused
from shared.events import Envelope
from tests.loans.support import OPEN_TUESDAY, loans_service, oslo
from tests.loans.test_usecases import DESK, RULES, Loans, _SeedRuntime, types, who
from tests.support.clock import TestClock
from tests.support.units import service_units

WEDNESDAY = date(2026, 5, 13)  # OPEN_TUESDAY is 12 May 2026; the 14th is Ascension Day


@pytest.fixture
async def desk(database_url: str) -> AsyncIterator[Loans]:
    clock = TestClock(OPEN_TUESDAY)
    async with service_units(SPEC, database_url, clock) as units:
        await SPEC.seed(_SeedRuntime(units, clock))  # type: ignore[misc, arg-type]  # a stand-in
        yield Loans(units, clock)


async def close(
    desk: Loans, first: date, last: date
) -> tuple[usecases.ClosureAdded, list[Envelope]]:
    cmd = usecases.AddClosure("stromso", first, last, "personaldag", RULES)
    return await desk.run(lambda uow: usecases.add_closure(uow, cmd))


async def stored_loan(desk: Loans, loan_id: str) -> Loan | None:
    return await desk.read(lambda uow: uow.store.session.get(Loan, loan_id))


async def lend_pc(desk: Loans, n: int) -> usecases.LoanView:
    cmd = CheckOut(hub="stromso", borrower=who(n), rules=RULES, kind="pc")
    view, _ = await desk.run(lambda uow: usecases.check_out(uow, cmd))
    return view


async def test_a_loan_due_on_a_closed_day_is_due_on_the_next_open_day(desk: Loans) -> None:
    before = await lend_pc(desk, 1)
    assert before.loan.due_at == oslo(2026, 5, 13, 14, 0)  # one day: Wednesday
    _, told = await close(desk, WEDNESDAY, WEDNESDAY)
    assert [e.type for e in told] == ["LoanDueMoved"]  # the loan lent before it
    # Lent after the closure: Wednesday closed, Thursday Ascension Day, so Friday.
    after = await lend_pc(desk, 2)
    assert after.loan.due_at == oslo(2026, 5, 15, 14, 0)


async def test_a_new_closure_moves_loans_already_out_and_their_reminders(desk: Loans) -> None:
    renewed = await lend_pc(desk, 1)
    renew = usecases.RenewLoan(renewed.loan.id, DESK, RULES)
    await desk.run(lambda uow: usecases.renew_loan(uow, renew))  # now due Thursday->Friday
    due_on_wednesday = await lend_pc(desk, 2)
    reminder_before = due_on_wednesday.loan.next_notice_at
    added, told = await close(desk, WEDNESDAY, WEDNESDAY)
    assert (added.loans_moved, added.offers_extended) == (1, 0)
    # The borrower is told the new due time, and why.
    (moved_event,) = told
    assert moved_event.type == "LoanDueMoved" and moved_event.subject == due_on_wednesday.loan.id
    assert moved_event.data["due_at"] == "2026-05-15T12:00:00Z"
    assert moved_event.data["previous_due_at"] == "2026-05-13T12:00:00Z"
    assert moved_event.data["reason"] == "personaldag"
    assert moved_event.data["borrower"]["phone"] == "+4740000002"
    moved = await stored_loan(desk, due_on_wednesday.loan.id)
    assert moved is not None and moved.due_at == oslo(2026, 5, 15, 14, 0)
    # The due-soon reminder follows the due time (24 hours before it).
    assert moved.next_notice_at == oslo(2026, 5, 14, 14, 0) != reminder_before
    untouched = await stored_loan(desk, renewed.loan.id)
    assert untouched is not None and untouched.due_at == oslo(2026, 5, 15, 14, 0)
    # Checking out on a closed day is refused with the closure's reason.
    desk.clock.set(oslo(2026, 5, 13, 11, 0))
    with pytest.raises(Refused) as closed:
        await lend_pc(desk, 3)
    assert closed.value.code == "desk_closed" and "personaldag" in closed.value.message


async def test_an_offer_held_until_a_closed_day_is_held_to_the_next_open_day(
    desk: Loans,
) -> None:
    desk.clock.set(oslo(2026, 5, 11, 11, 0))  # Monday: 48 hours end Wednesday 11:00
    add = usecases.AddItem("stromso", "other", "Drill")
    await desk.run(lambda uow: usecases.add_item(uow, add))
    reserve = usecases.Reserve("stromso", "other", DESK, borrower=who(1))
    early, events = await desk.run(lambda uow: usecases.reserve(uow, reserve))
    assert types(events) == ["ReservationReady"]
    assert early.reservation.hold_until == oslo(2026, 5, 13, 11, 0)
    added, told = await close(desk, WEDNESDAY, WEDNESDAY)
    assert (added.offers_extended, told) == (1, [])
    held = await desk.read(lambda uow: uow.store.reservation(early.reservation.id))
    assert held is not None and held.hold_until == oslo(2026, 5, 15, 14, 0)
    # An offer made now that would end on the closed day is held to Friday as well.
    add = usecases.AddItem("stromso", "other", "Sag")
    await desk.run(lambda uow: usecases.add_item(uow, add))
    later = usecases.Reserve("stromso", "other", DESK, borrower=who(2))
    second, _ = await desk.run(lambda uow: usecases.reserve(uow, later))
    assert second.reservation.hold_until == oslo(2026, 5, 15, 14, 0)


async def test_closures_refused_when_past_backwards_or_too_long(desk: Loans) -> None:
    for first, last, code in [
        (date(2026, 5, 1), date(2026, 5, 4), "closure_in_past"),
        (date(2026, 5, 20), date(2026, 5, 19), "closure_ends_before_start"),
        (date(2026, 5, 20), date(2027, 6, 1), "closure_too_long"),
    ]:
        cmd = usecases.AddClosure("stromso", first, last, "x", RULES)
        with pytest.raises(Refused) as refused:
            await desk.run(lambda uow, cmd=cmd: usecases.add_closure(uow, cmd))
        assert refused.value.code == code and refused.value.nb


async def test_staff_close_the_desk_over_http(
    sqlite_database_url: str, redis_url: str, prefix: str
) -> None:
    clock = TestClock(OPEN_TUESDAY)
    async with loans_service(sqlite_database_url, redis_url, prefix, clock) as service:
        c = service.client
        body = {"first_date": "2026-05-13", "last_date": "2026-05-13", "reason": "flytting"}
        assert (await c.post("/closures", json=body)).status_code == 401
        added = await c.post("/closures", json=body, headers={"Authorization": "Bearer td"})
        assert added.status_code == 201, added.text
        assert added.json()["loans_moved"] == 0
        listed = (await c.get("/closures")).json()
        assert [row["reason"] for row in listed] == ["flytting"]
        bad = await c.post(
            "/closures",
            json={**body, "last_date": "2026-05-12", "first_date": "2026-05-14"},
            headers={"Authorization": "Bearer td", "Accept-Language": "nb"},
        )
        assert (bad.status_code, bad.json()["code"]) == (422, "closure_ends_before_start")
