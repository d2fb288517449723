"""The loans rules without HTTP: each use case on a unit of work on a real database (SQLite,
and PostgreSQL with TEST_POSTGRES_URL), asserting the result, what is stored and the
events recorded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select, text

from services.loans import usecases
from services.loans.app import SPEC
from services.loans.models import Item, Loan, LoanPolicy, NoticeSent
from services.loans.settings import LoansSettings
from services.loans.store import Store
from services.loans.timers import notice_rules
from services.loans.usecases import BorrowerDetails, Caller, CheckOut, NoticeRules
from shared import migrations
from shared.db import Database
from shared.errors import Conflict, NotAllowed, NotAuthenticated, Refusal
from shared.events import Envelope
from shared.unit_of_work import UnitOfWork, UnitsOfWork
from tests.loans.support import OPEN_TUESDAY, oslo
from tests.support.clock import TestClock
from tests.support.databases import seeing_statements
from tests.support.units import service_units

T = TypeVar("T")
Uow = UnitOfWork[Store]
RULES: NoticeRules = notice_rules(LoansSettings())
DESK = Caller(staff=True)


class Loans:
    """The service's units of work, and a way to see what a use case recorded."""

    def __init__(self, units: UnitsOfWork[Store], clock: TestClock) -> None:
        self.units = units
        self.clock = clock

    async def run(self, work: Callable[[Uow], Awaitable[T]]) -> tuple[T, list[Envelope]]:
        async def recording(uow: Uow) -> tuple[T, list[Envelope]]:
            result = await work(uow)
            return result, list(uow.recorded)

        return await self.units.run(recording)

    async def read(self, work: Callable[[Uow], Awaitable[T]]) -> T:
        return await self.units.run(work)

    async def scalar(self, query: Any) -> Any:
        async def one(uow: Uow) -> Any:
            return (await uow.store.session.execute(query)).scalar()

        return await self.units.run(one)


@pytest.fixture
async def loans(database_url: str) -> AsyncIterator[Loans]:
    clock = TestClock(OPEN_TUESDAY)
    async with service_units(SPEC, database_url, clock) as units:
        # The seed (policies, four PCs, planter boxes), as the service runs it at start.
        await SPEC.seed(_SeedRuntime(units, clock))  # type: ignore[misc, arg-type]  # a stand-in
        yield Loans(units, clock)


class _SeedRuntime:
    """What seed() reads of a runtime: its clock and database."""

    def __init__(self, units: UnitsOfWork[Store], clock: TestClock) -> None:
        self.db = units.db
        self._clock = clock

    def now(self) -> Any:
        return self._clock()


def who(n: int) -> BorrowerDetails:
    return BorrowerDetails(name=f"Låner {n}", phone=f"4000000{n}")


def types(events: list[Envelope]) -> list[str]:
    return [e.type for e in events]


async def _check_out(loans: Loans, n: int, **kw: Any) -> usecases.LoanView:
    cmd = CheckOut(hub="stromso", borrower=who(n), rules=RULES, **kw)
    view, _ = await loans.run(lambda uow: usecases.check_out(uow, cmd))
    return view


async def test_check_out_by_kind_lends_a_free_item_and_records_loan_started(
    loans: Loans,
) -> None:
    cmd = CheckOut(hub="stromso", borrower=who(1), rules=RULES, kind="pc")
    view, events = await loans.run(lambda uow: usecases.check_out(uow, cmd))
    assert view.item.label == "PC-01" and view.manage_token
    assert view.loan.due_at == oslo(2026, 5, 13, 14, 0)
    assert types(events) == ["LoanStarted"]
    assert events[0].data["item_id"] == view.item.id
    assert events[0].data["borrower"]["phone"] == "+4740000001"
    # Stored: the loan, and the item's row names it (what a concurrent pick sees).
    item = await loans.read(lambda uow: uow.store.item(view.item.id))
    assert item is not None and item.current_loan_id == view.loan.id
    # The next check-out by kind takes another PC; a second PC for the same borrower is
    # over the policy's limit.
    assert (await _check_out(loans, 2, kind="pc")).item.label == "PC-02"
    with pytest.raises(Conflict) as refused:
        await _check_out(loans, 1, kind="pc")
    assert refused.value.code == "borrower_limit"
    # All four PCs out: a 409 that says none is free.
    await _check_out(loans, 3, kind="pc")
    await _check_out(loans, 4, kind="pc")
    with pytest.raises(Conflict) as refused:
        await _check_out(loans, 5, kind="pc")
    assert refused.value.code == "no_item_free"
    assert await loans.scalar(select(func.count()).select_from(Loan)) == 4


async def test_return_damaged_takes_the_item_out_of_service(loans: Loans) -> None:
    add = usecases.AddItem("stromso", "other", "Drill")
    drill, _ = await loans.run(lambda uow: usecases.add_item(uow, add))
    lent = await _check_out(loans, 1, item_id=drill.item.id)
    reserve = usecases.Reserve("stromso", "other", DESK, borrower=who(2))
    waiting, events = await loans.run(lambda uow: usecases.reserve(uow, reserve))
    assert waiting.reservation.status == "waiting" and events == []

    back = usecases.ReturnLoan(lent.loan.id, "damaged", "chuck broken")
    view, events = await loans.run(lambda uow: usecases.return_loan(uow, back))
    assert view.loan.returned_at == loans.clock() and view.loan.condition_in == "damaged"
    # Damaged: out of service, and not offered to the one waiting.
    assert types(events) == ["LoanReturned", "ItemOutOfService"]
    assert events[1].data["reason"] == "returned damaged"
    item = await loans.read(lambda uow: uow.store.item(drill.item.id))
    assert item is not None
    assert (item.condition, item.notes, item.current_loan_id) == ("damaged", "chuck broken", None)
    res = await loans.read(lambda uow: uow.store.reservation(waiting.reservation.id))
    assert res is not None and res.status == "waiting"
    # Repaired: offered to the one waiting (ReservationReady).
    fix = usecases.EditItem(drill.item.id, condition="ok")
    _, events = await loans.run(lambda uow: usecases.edit_item(uow, fix))
    assert types(events) == ["ReservationReady"]
    assert events[0].data["reservation_id"] == str(waiting.reservation.id)


async def test_retiring_is_refused_while_lent_and_withdraws_offers(loans: Loans) -> None:
    add = usecases.AddItem("stromso", "other", "Stige")
    ladder, _ = await loans.run(lambda uow: usecases.add_item(uow, add))
    lent = await _check_out(loans, 1, item_id=ladder.item.id)
    retire = usecases.EditItem(ladder.item.id, retired=True)
    with pytest.raises(Conflict) as refused:
        await loans.run(lambda uow: usecases.edit_item(uow, retire))
    assert refused.value.code == "item_on_loan"
    await loans.run(lambda uow: usecases.return_loan(uow, usecases.ReturnLoan(lent.loan.id)))
    reserve = usecases.Reserve("stromso", "other", DESK, borrower=who(2))
    offered, events = await loans.run(lambda uow: usecases.reserve(uow, reserve))
    assert offered.reservation.status == "offered" and types(events) == ["ReservationReady"]
    view, events = await loans.run(lambda uow: usecases.edit_item(uow, retire))
    assert view.item.retired_at == loans.clock() and view.available is False
    assert types(events) == ["ItemOutOfService"]
    assert events[0].data["reason"] == "retired"
    assert [c["phone"] for c in events[0].data["affected_borrowers"]] == ["+4740000002"]


async def test_renewal_limits(loans: Loans) -> None:
    lent = await _check_out(loans, 1, kind="pc")
    token = lent.manage_token
    renew = usecases.RenewLoan(lent.loan.id, Caller(staff=False, token=token), RULES)
    view, events = await loans.run(lambda uow: usecases.renew_loan(uow, renew))
    # One day more: Thursday 14 May is Ascension Day, so due Friday at closing.
    assert view.loan.due_at == oslo(2026, 5, 15, 14, 0) and view.loan.renewals == 1
    assert types(events) == ["LoanRenewed"] and events[0].data["renewals"] == 1
    # Someone waits for a PC: no renewal.
    await _check_out(loans, 2, kind="pc")
    await _check_out(loans, 3, kind="pc")
    await _check_out(loans, 4, kind="pc")
    reserve = usecases.Reserve("stromso", "pc", DESK, borrower=who(5))
    queued, _ = await loans.run(lambda uow: usecases.reserve(uow, reserve))
    with pytest.raises(Conflict) as refused:
        await loans.run(lambda uow: usecases.renew_loan(uow, renew))
    assert refused.value.code == "someone_waiting"
    cancel = usecases.CancelReservation(queued.reservation.id, DESK)
    await loans.run(lambda uow: usecases.cancel_reservation(uow, cancel))
    # Three days in all for a PC.
    with pytest.raises(Conflict) as refused:
        await loans.run(lambda uow: usecases.renew_loan(uow, renew))
    assert refused.value.code == "renewal_too_long"
    loan = await loans.read(lambda uow: uow.store.loan_row(lent.loan.id))
    assert loan is not None and loan[0].renewals == 1


async def test_another_borrowers_loan_is_not_allowed(loans: Loans) -> None:
    mine = await _check_out(loans, 1, kind="pc")
    theirs = await _check_out(loans, 2, kind="pc")
    own = Caller(staff=False, token=mine.manage_token)
    for caller, kind in (
        (own, NotAllowed),
        (Caller(staff=False), NotAuthenticated),
        (Caller(staff=False, token="not-a-token"), NotAuthenticated),
    ):
        get = usecases.GetLoan(theirs.loan.id, caller, RULES.steps)
        with pytest.raises(Refusal) as refused:
            await loans.run(lambda uow, get=get: usecases.get_loan(uow, get))
        assert type(refused.value) is kind
        renew = usecases.RenewLoan(theirs.loan.id, caller, RULES)
        with pytest.raises(kind):
            await loans.run(lambda uow, renew=renew: usecases.renew_loan(uow, renew))
    view, _ = await loans.run(
        lambda uow: usecases.get_loan(uow, usecases.GetLoan(mine.loan.id, own, RULES.steps))
    )
    assert view.loan.id == mine.loan.id


async def test_a_reservation_is_offered_now_or_when_its_date_comes(loans: Loans) -> None:
    for label in ("Sag", "Hammer"):
        add = usecases.AddItem("stromso", "other", label)
        await loans.run(lambda uow, add=add: usecases.add_item(uow, add))
    now = loans.clock()
    reserve = usecases.Reserve("stromso", "other", DESK, borrower=who(1))
    view, events = await loans.run(lambda uow: usecases.reserve(uow, reserve))
    assert view.reservation.status == "offered" and view.manage_token
    assert types(events) == ["ReservationReady"]
    # 48 hours would end on Ascension Day (Thursday 14 May), when the desk is closed: the
    # offer is held until closing time of the next open day.
    assert view.reservation.hold_until == oslo(2026, 5, 15, 14, 0)
    assert events[0].data["item_label"] == "Hammer"  # the first by label
    # From tomorrow: waiting until then (the first offer is still held), offered when
    # the date comes.
    later = usecases.Reserve(
        "stromso", "other", DESK, wanted_from=now + timedelta(days=1), borrower=who(2)
    )
    view, events = await loans.run(lambda uow: usecases.reserve(uow, later))
    assert view.reservation.status == "waiting" and events == []
    assert await loans.read(usecases.reservations_to_offer) == []
    loans.clock.advance(days=1)
    due = await loans.read(usecases.reservations_to_offer)
    assert due == [usecases.OfferFree("stromso", "other")]
    offered, events = await loans.run(lambda uow: usecases.offer_free_items(uow, due[0]))
    assert offered == 1 and types(events) == ["ReservationReady"]
    assert events[0].data["item_label"] == "Sag"
    stored = await loans.read(lambda uow: uow.store.reservation(view.reservation.id))
    assert stored is not None and stored.status == "offered"
    assert stored.hold_until == loans.clock() + timedelta(hours=48)


async def test_overdue_escalation_once_per_level_then_blocked(loans: Loans) -> None:
    lent = await _check_out(loans, 1, kind="pc")  # due Wednesday 13 May 14:00

    async def scan() -> tuple[usecases.NoticeBatch, list[Envelope]]:
        return await loans.run(lambda uow: usecases.send_due_notices(uow, RULES))

    seen: list[tuple[str, int | None]] = []
    for at in (
        oslo(2026, 5, 13, 9, 0),
        oslo(2026, 5, 13, 14, 0),
        oslo(2026, 5, 16, 14, 0),
        oslo(2026, 5, 20, 14, 0),
    ):
        loans.clock.set(at)
        batch, events = await scan()
        assert (batch.notices, batch.loans) == (1, 1)
        seen += [(e.type, e.data.get("level")) for e in events]
        last = events[-1].data
        again, events = await scan()  # nothing twice
        assert again.notices == 0 and events == []
    assert seen == [
        ("LoanDueSoon", None),
        ("LoanOverdue", 1),
        ("LoanOverdue", 2),
        ("LoanOverdue", 3),
    ]
    assert last["blocked"] is True and last["escalate_to_role"] == "desk"
    assert last["days_overdue"] == 7 and last["loans"][0]["loan_id"] == lent.loan.id
    keys = await loans.scalar(select(func.count()).select_from(NoticeSent))
    assert keys == 4
    unnamed = select(func.count()).select_from(NoticeSent).where(NoticeSent.event_id.is_(None))
    assert await loans.scalar(unnamed) == 0
    loan = await loans.read(lambda uow: uow.store.loan_row(lent.loan.id))
    assert loan is not None and loan[0].next_notice_at is None
    # Past the last step: blocked (the desk is open again on Thursday).
    loans.clock.set(oslo(2026, 5, 21, 10, 30))
    with pytest.raises(Conflict) as refused:
        await _check_out(loans, 1, kind="planter_box")
    assert refused.value.code == "borrower_blocked"


async def test_the_desk_sees_the_level_the_reminders_have_reached(loans: Loans) -> None:
    """A loan's escalation level follows the same steps as the LoanOverdue reminders
    (0, 3, 7 days: levels 1, 2, 3), read without the scan having run."""
    lent = await _check_out(loans, 1, kind="pc")  # due Wednesday 13 May 14:00
    assert (lent.escalation_level, lent.escalation_last) == (0, False)
    listing = usecases.ListLoans(DESK, RULES.steps, status="overdue")
    for at, level in (
        (oslo(2026, 5, 13, 13, 59), None),  # not overdue yet: not in the list
        (oslo(2026, 5, 13, 14, 0), 1),
        (oslo(2026, 5, 16, 13, 59), 1),
        (oslo(2026, 5, 16, 14, 0), 2),
        (oslo(2026, 5, 20, 14, 0), 3),
    ):
        loans.clock.set(at)
        overdue = await loans.read(lambda uow: usecases.list_loans(uow, listing))
        assert [v.escalation_level for v in overdue] == ([] if level is None else [level]), at
        get = usecases.GetLoan(lent.loan.id, DESK, RULES.steps)
        one = await loans.read(lambda uow, get=get: usecases.get_loan(uow, get))
        assert one.escalation_level == (level or 0)
        assert one.escalation_last is (level == 3)  # the borrower is blocked from here


async def test_the_waiting_lists_in_the_order_items_are_offered(loans: Loans) -> None:
    """Per kind: the one offered an item first, then the waiting by when they came, and
    those wanting it from a later date after them."""
    add = usecases.AddItem("stromso", "other", "Sag")
    await loans.run(lambda uow: usecases.add_item(uow, add))
    now = loans.clock()
    for n, kind, wanted in (
        (1, "other", None),  # takes the saw at once
        (2, "other", now + timedelta(days=2)),  # came first of the rest, but from Thursday
        (3, "other", None),
        (4, "pc", None),  # a PC is free: offered at once
        (5, "other", None),
    ):
        cmd = usecases.Reserve("stromso", kind, DESK, wanted_from=wanted, borrower=who(n))
        await loans.run(lambda uow, cmd=cmd: usecases.reserve(uow, cmd))
    lines = await loans.read(
        lambda uow: usecases.waiting_lists(uow, usecases.WaitingLists("stromso"))
    )
    assert list(lines) == ["pc", "other"]
    shown = {
        kind: [(e.place, e.borrower.name, e.reservation.status) for e in entries]
        for kind, entries in lines.items()
    }
    assert shown["other"] == [
        (None, "Låner 1", "offered"),
        (1, "Låner 3", "waiting"),
        (2, "Låner 5", "waiting"),
        (3, "Låner 2", "waiting"),
    ]
    assert shown["pc"] == [(None, "Låner 4", "offered")]
    assert lines["other"][0].offered_item is not None
    assert lines["other"][0].offered_item.label == "Sag"
    other_hub = await loans.read(
        lambda uow: usecases.waiting_lists(uow, usecases.WaitingLists("another"))
    )
    assert other_hub == {}


async def test_the_scan_reads_per_batch_not_per_borrower(loans: Loans) -> None:
    """The overdue scan's statements do not grow with the borrowers it tells."""
    for n in range(30):
        add = usecases.AddItem("stromso", "other", f"Ting {n:02d}")
        await loans.run(lambda uow, add=add: usecases.add_item(uow, add))
    for n in range(30):
        body = BorrowerDetails(name=f"Låner {n}", phone=f"4100{n:04d}")
        cmd = CheckOut(hub="stromso", borrower=body, rules=RULES, kind="other", days=1)
        await loans.run(lambda uow, cmd=cmd: usecases.check_out(uow, cmd))
    loans.clock.set(oslo(2026, 5, 13, 15, 0))
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        statements.append(sql)

    with seeing_statements(loans.units.db, count):
        batch, events = await loans.run(lambda uow: usecases.send_due_notices(uow, RULES))
    assert (batch.notices, batch.loans) == (30, 30)
    assert len({e.data["borrower_id"] for e in events}) == 30
    # Read the batch, claim, move the next notice, name the events, write the outbox
    # (and BEGIN/COMMIT): a handful, where it was four per borrower (124 here).
    assert 0 < len(statements) <= 8, statements


async def test_seeding_replicas_at_once_adds_each_row_once(loans: Loans) -> None:
    """Replicas starting together seed at the same time: one INSERT ... ON CONFLICT DO
    NOTHING per table, never a unique violation at start."""
    runtime = _SeedRuntime(loans.units, loans.clock)
    await asyncio.gather(*(SPEC.seed(runtime) for _ in range(4)))  # type: ignore[misc, arg-type]
    assert await loans.scalar(select(func.count()).select_from(Item)) == 10
    assert await loans.scalar(select(func.count()).select_from(LoanPolicy)) == 4


async def test_migration_names_the_active_loan_on_existing_items(database_url: str) -> None:
    """Revision 0003 fills items.current_loan_id from the loans made before it."""
    db = Database(database_url)
    try:
        await migrations.upgrade("loans", db, revision="0002")
        at = OPEN_TUESDAY
        async with db.transaction() as session:
            for item_id in ("i1", "i2"):
                await session.execute(
                    text(
                        "INSERT INTO items (id, hub, kind, label, condition, created_at)"
                        " VALUES (:id, 'stromso', 'pc', :id, 'ok', :at)"
                    ),
                    {"id": item_id, "at": at.replace(tzinfo=None)},
                )
            await session.execute(
                text(
                    "INSERT INTO borrowers (id, name, phone, language, created_at)"
                    " VALUES ('b1', 'B', '+4740000001', 'nb', :at)"
                ),
                {"at": at.replace(tzinfo=None)},
            )
            for loan_id, item_id, returned in (("l1", "i1", None), ("l0", "i2", at)):
                await session.execute(
                    text(
                        "INSERT INTO loans (id, hub, item_id, borrower_id, started_at, due_at,"
                        " returned_at, renewals, condition_out, backfilled)"
                        " VALUES (:id, 'stromso', :item, 'b1', :at, :at, :back, 0, 'ok', false)"
                    ),
                    {
                        "id": loan_id,
                        "item": item_id,
                        "at": at.replace(tzinfo=None),
                        "back": returned.replace(tzinfo=None) if returned else None,
                    },
                )
        await migrations.upgrade("loans", db)
        async with db.read() as session:
            rows = await session.execute(text("SELECT id, current_loan_id FROM items ORDER BY id"))
            assert rows.all() == [("i1", "l1"), ("i2", None)]
    finally:
        await db.dispose()
