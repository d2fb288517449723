"""Reminders and escalation on a timer: LoanDueSoon and the LoanOverdue levels.

Exactly once per loan and level, with any number of replicas and across restarts: each
notice is claimed by inserting its key (loan, renewal, kind, level) into notices_sent with
ON CONFLICT DO NOTHING, in the same transaction as the outbox row that carries it. A second
scanner that reached the same loans claims nothing and says nothing.

The scan reads only loans whose next notice is due (a partial index on next_notice_at), so
its cost grows with what is due, not with every loan ever made.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.loans import domain
from services.loans.models import Borrower, Item, Loan, NoticeSent, Reservation, messaging
from services.loans.reservations import offer_next
from services.loans.settings import LoansSettings
from services.loans.store import contact_of, for_update, insert_for, settings_of
from shared.db import Database
from shared.events import DueLoan, LoanDueSoon, LoanOverdue
from shared.messaging.outbox import emit
from shared.service import Runtime

log = logging.getLogger("knutepunkt.loans.scanner")


@dataclass
class ScanResult:
    notices: int = 0  # events emitted
    loans: int = 0  # loans covered by them
    offers: int = 0  # reservations offered an item


def due_loans_query(now: datetime, limit: int):  # type: ignore[no-untyped-def]
    return (
        select(Loan)
        .where(Loan.next_notice_at.is_not(None), Loan.next_notice_at <= now)
        .order_by(Loan.next_notice_at)
        .limit(limit)
    )


async def scan_notices(db: Database, settings: LoansSettings, now: datetime) -> ScanResult:
    result = ScanResult()
    while True:
        async with db.transaction() as session:
            batch, notices, covered = await _scan_batch(session, settings, now)
        result.notices += notices
        result.loans += covered
        if batch < settings.scan_batch:
            return result


async def _scan_batch(
    session: AsyncSession, settings: LoansSettings, now: datetime
) -> tuple[int, int, int]:
    loans = (
        (
            await session.execute(
                # Another replica's scan holds its rows; skip them rather than queue.
                for_update(session, due_loans_query(now, settings.scan_batch), skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    if not loans:
        return 0, 0, 0
    wanted: dict[str, domain.Notice] = {}
    for loan in loans:
        schedule = domain.notice_schedule(
            loan.started_at, loan.due_at, settings.due_soon, settings.steps
        )
        notice, following = domain.notice_now(schedule, now)
        loan.next_notice_at = following
        if loan.returned_at is None and notice is not None:
            wanted[loan.id] = notice
    if not wanted:
        return len(loans), 0, 0
    by_id = {loan.id: loan for loan in loans}
    insert = insert_for(session)
    claimed_rows = await session.execute(
        insert(NoticeSent)
        .values(
            [
                {
                    "loan_id": loan_id,
                    "renewal": by_id[loan_id].renewals,
                    "kind": notice.kind,
                    "level": notice.level,
                    "borrower_id": by_id[loan_id].borrower_id,
                    "sent_at": now,
                }
                for loan_id, notice in wanted.items()
            ]
        )
        .on_conflict_do_nothing(index_elements=["loan_id", "renewal", "kind", "level"])
        .returning(NoticeSent.loan_id)
    )
    claimed = [by_id[row[0]] for row in claimed_rows]
    # One message per borrower and notice, covering all their loans that reached it.
    groups: dict[tuple[str, str, int], list[Loan]] = defaultdict(list)
    for loan in claimed:
        notice = wanted[loan.id]
        groups[(loan.borrower_id, notice.kind, notice.level)].append(loan)
    for (borrower_id, kind, level), group in sorted(groups.items()):
        await _emit_notice(session, settings, now, borrower_id, kind, level, group)
    return len(loans), len(groups), len(claimed)


async def _emit_notice(
    session: AsyncSession,
    settings: LoansSettings,
    now: datetime,
    borrower_id: str,
    kind: str,
    level: int,
    loans: list[Loan],
) -> None:
    borrower = await session.get(Borrower, borrower_id)
    assert borrower is not None
    items = {
        item.id: item
        for item in (
            await session.execute(select(Item).where(Item.id.in_([ln.item_id for ln in loans])))
        ).scalars()
    }
    listed = [
        DueLoan(
            loan_id=loan.id,
            item_label=items[loan.item_id].label,
            item_kind=items[loan.item_id].kind,  # type: ignore[arg-type]
            due_at=loan.due_at,
            days_overdue=domain.days_overdue(loan.due_at, now),
        )
        for loan in sorted(loans, key=lambda ln: (ln.due_at, ln.id))
    ]
    hub = loans[0].hub
    if kind == domain.DUE_SOON:
        event = await emit(
            session,
            messaging,
            LoanDueSoon(
                hub=hub, borrower_id=borrower.id, borrower=contact_of(borrower), loans=listed
            ),
        )
    else:
        last = level >= len(settings.steps)
        event = await emit(
            session,
            messaging,
            LoanOverdue(
                hub=hub,
                borrower_id=borrower.id,
                borrower=contact_of(borrower),
                level=level,
                days_overdue=max(d.days_overdue for d in listed),
                loans=listed,
                blocked=last,
                escalate_to_role=settings.escalation_role if last else None,
            ),
        )
    await session.execute(
        update(NoticeSent)
        .where(
            NoticeSent.loan_id.in_([ln.id for ln in loans]),
            NoticeSent.kind == kind,
            NoticeSent.level == level,
            NoticeSent.event_id.is_(None),
        )
        .values(event_id=event.id)
    )


async def scan_reservations(db: Database, now: datetime) -> int:
    """Offers that lapsed, and reservations whose date has come: offer what is free."""
    async with db.read() as session:
        kinds = (
            await session.execute(
                select(Reservation.hub, Reservation.kind)
                .where(
                    ((Reservation.status == "waiting") & (Reservation.wanted_from <= now))
                    | ((Reservation.status == "offered") & (Reservation.hold_until <= now))
                )
                .distinct()
            )
        ).all()
    offered = 0
    for hub, kind in kinds:
        async with db.transaction() as session:
            offered += await offer_next(session, hub, kind, now)
    return offered


async def scan_once(runtime: Runtime, now: datetime | None = None) -> ScanResult:
    now = now or runtime.now()
    result = await scan_notices(runtime.db, settings_of(runtime), now)
    result.offers = await scan_reservations(runtime.db, now)
    return result


async def scanner(runtime: Runtime) -> None:
    """The timer (a supervised task): one scan every OVERDUE_SCAN_SECONDS."""
    interval = settings_of(runtime).overdue_scan_seconds
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
