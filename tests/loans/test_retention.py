"""Retention (docs/privacy.md): a borrower LOANS_RETENTION_DAYS after their last return,
with nothing lent or reserved, loses name and contacts once; one inside it, or with an item
out, is untouched; the loans stay for statistics; two replicas anonymise each borrower once
(SQLite and PostgreSQL, on the injected clock)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from services.loans import usecases
from services.loans.app import SPEC
from services.loans.models import Borrower, Loan
from services.loans.store import Store
from shared.anonymise import ANONYMISED
from shared.messaging.redact import Person
from shared.unit_of_work import UnitsOfWork
from tests.loans.test_usecases import DESK, Loans, _check_out, loans, who
from tests.support.units import service_units

__all__ = ["loans"]  # the fixture

RETENTION = usecases.AnonymiseExpired(retention=timedelta(days=90), limit=2)


async def borrowers(loans: Loans) -> dict[str, Borrower]:
    async def read(uow: usecases.Uow) -> dict[str, Borrower]:
        rows = await uow.store.session.scalars(select(Borrower))
        return {b.name if b.name != ANONYMISED else b.id: b for b in rows}

    return await loans.read(read)


async def statistics(loans: Loans) -> Counter[tuple[str, str, bool]]:
    """Loans per item, month and whether returned."""

    async def read(uow: usecases.Uow) -> Counter[tuple[str, str, bool]]:
        rows = await uow.store.session.scalars(select(Loan))
        return Counter(
            (r.item_id, r.started_at.strftime("%Y-%m"), r.returned_at is not None) for r in rows
        )

    return await loans.read(read)


async def give_back(loans: Loans, loan_id: str) -> None:
    cmd = usecases.ReturnLoan(loan_id)
    await loans.run(lambda uow: usecases.return_loan(uow, cmd))


async def anonymise(loans: Loans) -> int:
    done, _ = await loans.run(lambda uow: usecases.anonymise_expired(uow, RETENTION))
    return done


async def test_a_borrower_past_retention_is_anonymised_once(loans: Loans) -> None:
    returned = await _check_out(loans, 1, kind="pc")
    still_out = await _check_out(loans, 2, kind="pc")
    await give_back(loans, returned.loan.id)
    returned_at = loans.clock()
    loans.clock.now = returned_at + timedelta(days=10)
    later = await _check_out(loans, 3, kind="pc")
    await give_back(loans, later.loan.id)
    counts = await statistics(loans)

    loans.clock.now = returned_at + timedelta(days=90) - timedelta(seconds=1)
    assert await anonymise(loans) == 0
    loans.clock.now = returned_at + timedelta(days=90, seconds=1)
    assert await anonymise(loans) == 1
    assert await anonymise(loans) == 0

    rows = await borrowers(loans)
    assert "Låner 1" not in rows
    [gone] = [b for b in rows.values() if b.name == ANONYMISED]
    assert (gone.email, gone.token_hash) == (None, None)
    assert gone.phone.startswith("anon-") and "40000001" not in gone.phone
    assert rows["Låner 2"].phone == "+4740000002"  # a PC still out: never anonymised
    assert rows["Låner 3"].phone == "+4740000003"  # returned ten days later: inside
    assert await statistics(loans) == counts

    # Far later: borrower 3's turn; borrower 2 still has the PC.
    loans.clock.now = returned_at + timedelta(weeks=30, hours=1)  # Tuesday, winter time
    assert await anonymise(loans) == 1
    assert "Låner 2" in await borrowers(loans)
    assert still_out.loan.returned_at is None

    # The same person comes back: a new borrower, as for anyone new.
    again = await _check_out(loans, 1, kind="pc")
    assert again.loan.returned_at is None
    assert (await borrowers(loans))["Låner 1"].phone == "+4740000001"


async def test_an_open_reservation_keeps_the_contact(loans: Loans) -> None:
    lent = await _check_out(loans, 1, kind="pc")
    await give_back(loans, lent.loan.id)
    reserve = usecases.Reserve(hub="stromso", kind="pc", caller=DESK, borrower=who(1))
    await loans.run(lambda uow: usecases.reserve(uow, reserve))
    loans.clock.now = loans.clock() + timedelta(days=365)
    assert await anonymise(loans) == 0


async def test_two_replicas_anonymise_each_borrower_once(loans: Loans, database_url: str) -> None:
    for n in range(1, 5):
        lent = await _check_out(loans, n, kind="pc")
        await give_back(loans, lent.loan.id)
    loans.clock.now = loans.clock() + timedelta(days=91)
    async with service_units(SPEC, database_url, loans.clock) as replica:

        async def run_all(units: UnitsOfWork[Store]) -> int:
            total = 0
            while True:
                done = await units.run(lambda uow: usecases.anonymise_expired(uow, RETENTION))
                total += done
                if done < RETENTION.limit:
                    return total

        first, second = await asyncio.gather(run_all(loans.units), run_all(replica))
        rest = await run_all(loans.units)
    assert first + second + rest == 4
    assert all(b.name == ANONYMISED for b in (await borrowers(loans)).values())


async def test_erasing_a_borrower_with_an_item_out_keeps_the_loan_without_reminders(
    loans: Loans,
) -> None:
    out = await _check_out(loans, 1, kind="pc")
    person = Person.of(phones=["40000001"])
    held, _ = await loans.run(lambda uow: usecases.export_person(uow, person))
    assert [loan["id"] for loan in held["loans"]] == [out.loan.id]
    erased, _ = await loans.run(lambda uow: usecases.erase_person(uow, person))
    assert erased == {"borrowers": 1, "open_loans_kept_without_contact": 1}
    loan = await loans.scalar(select(Loan).where(Loan.id == out.loan.id))
    assert loan.returned_at is None and loan.next_notice_at is None
    assert "Låner 1" not in await borrowers(loans)
    again, _ = await loans.run(lambda uow: usecases.export_person(uow, person))
    assert again == {"borrowers": [], "loans": [], "reservations": []}
