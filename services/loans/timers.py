"""The loans service's timers: reminders and escalation (LoanDueSoon, the LoanOverdue levels),
and reservations whose date has come or whose offer lapsed.

Exactly once per loan and level, with any number of replicas and across restarts: each
notice is claimed by inserting its key (loan, renewal, kind, level) into notices_sent with
ON CONFLICT DO NOTHING, in the same transaction as the outbox row that carries it. A second
scanner that reached the same loans claims nothing and says nothing.

The scan reads only loans whose next notice is due (a partial index on next_notice_at), so
its cost grows with what is due, not with every loan ever made; and it reads a batch's
loans, items and borrowers in one query, so its statements grow with batches, not borrowers.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from services.loans import usecases
from services.loans.settings import LoansSettings, config_of
from services.loans.store import Store
from services.loans.usecases import NoticeRules
from shared.anonymise import days, in_batches, retention_loop
from shared.service import Runtime
from shared.unit_of_work import UnitOfWork, UnitsOfWork

log = logging.getLogger("knutepunkt.loans.timers")


@dataclass
class ScanResult:
    notices: int = 0  # events emitted
    loans: int = 0  # loans covered by them
    offers: int = 0  # reservations offered an item


def notice_rules(settings: LoansSettings) -> NoticeRules:
    return NoticeRules(
        due_soon=settings.due_soon,
        steps=settings.steps,
        escalation_role=settings.escalation_role.value,
        batch=settings.scan_batch,
    )


async def scan_notices(units: UnitsOfWork[Store], rules: NoticeRules) -> ScanResult:
    """Every notice due now, one transaction per batch."""
    result = ScanResult()
    while True:
        batch = await units.run(lambda uow: usecases.send_due_notices(uow, rules))
        result.notices += batch.notices
        result.loans += batch.loans
        if batch.read < rules.batch:
            return result


async def scan_reservations(units: UnitsOfWork[Store]) -> int:
    """Offers that lapsed, and reservations whose date has come: offer what is free, one
    transaction per kind."""
    kinds = await units.run(usecases.reservations_to_offer, read_only=True)
    offered = 0
    for cmd in kinds:

        async def offer(uow: UnitOfWork[Store], cmd: usecases.OfferFree = cmd) -> int:
            return await usecases.offer_free_items(uow, cmd)

        offered += await units.run(offer)
    return offered


async def scan_once(runtime: Runtime) -> ScanResult:
    result = await scan_notices(runtime.uow, notice_rules(config_of(runtime)))
    result.offers = await scan_reservations(runtime.uow)
    return result


async def scanner(runtime: Runtime) -> None:
    """The timer (a supervised task): one scan every LOANS_OVERDUE_SCAN_SECONDS."""
    interval = config_of(runtime).overdue_scan_seconds
    while True:
        result = await scan_once(runtime)
        if result.notices or result.offers:
            log.info(
                "scan: %d notices covering %d loans, %d reservations offered",
                result.notices,
                result.loans,
                result.offers,
            )
        await asyncio.sleep(interval)


async def anonymise_expired(runtime: Runtime, batch: int = 200) -> int:
    """Retention (docs/privacy.md): every borrower past LOANS_RETENTION_DAYS, a batch per
    transaction; how many this replica anonymised."""
    cmd = usecases.AnonymiseExpired(days(config_of(runtime).retention_days), batch)
    return await in_batches(runtime, batch, lambda uow: usecases.anonymise_expired(uow, cmd))


async def anonymise_loop(runtime: Runtime) -> None:
    await retention_loop(runtime, config_of(runtime).retention_poll_seconds, anonymise_expired)
