"""Reading and locking the loans tables inside a caller's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.loans.domain import UNLENDABLE, Policy, Refusal, blocked_since, normalise_phone
from services.loans.models import Borrower, Item, Loan, LoanPolicy, Reservation
from services.loans.settings import LoansSettings
from shared.calendar import Calendar
from shared.events import Contact
from shared.service import Runtime


def new_id() -> str:
    return str(uuid.uuid4())


def settings_of(runtime: Runtime) -> LoansSettings:
    settings = runtime.state.get("loans_settings")
    if settings is None:
        settings = runtime.state["loans_settings"] = LoansSettings()
    return settings  # type: ignore[no-any-return]


def calendar_of(_hub: str) -> Calendar:
    # Every hub keeps the shared hub hours and Norwegian holidays for now; a hub with its
    # own hours or closures would be looked up here.
    return Calendar()


def is_postgres(session: AsyncSession) -> bool:
    return session.bind.dialect.name == "postgresql"  # type: ignore[union-attr]


def insert_for(session: AsyncSession):  # type: ignore[no-untyped-def]
    """The dialect's INSERT, which has ON CONFLICT DO NOTHING on both backends."""
    return pg_insert if is_postgres(session) else sqlite_insert


def for_update(session: AsyncSession, query: Select, *, skip_locked: bool = False) -> Select:  # type: ignore[type-arg]
    # SQLite's BEGIN IMMEDIATE already makes each write transaction the only one.
    if is_postgres(session):
        return query.with_for_update(skip_locked=skip_locked)
    return query


async def policy_for(session: AsyncSession, hub: str, kind: str) -> Policy:
    row = await session.get(LoanPolicy, (hub, kind))
    if row is None:
        raise Refusal(422, f"no loan policy for {kind} at hub {hub}")
    return Policy(
        kind=row.kind,
        lendable=row.lendable,
        default_days=row.default_days,
        min_days=row.min_days,
        max_days=row.max_days,
        season_end=row.season_end,
        max_renewals=row.max_renewals,
        max_items_per_borrower=row.max_items_per_borrower,
        buffer_minutes=row.buffer_minutes,
        hold_hours=row.hold_hours,
    )


def contact_of(borrower: Borrower) -> Contact:
    return Contact(
        name=borrower.name,
        phone=borrower.phone,
        email=borrower.email,
        language=borrower.language,  # type: ignore[arg-type]
    )


async def borrower_for_update(
    session: AsyncSession,
    now: datetime,
    *,
    name: str,
    phone: str,
    email: str | None,
    language: str,
) -> tuple[Borrower, bool]:
    """The borrower with this phone, created if new, locked for the rest of the transaction
    (their loan count is checked under the lock). Returns (borrower, created)."""
    e164 = normalise_phone(phone)
    insert = insert_for(session)
    created_id = new_id()
    result = await session.execute(
        insert(Borrower)
        .values(
            id=created_id,
            name=name,
            phone=e164,
            email=email,
            language=language,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["phone"])
        .returning(Borrower.id)
    )
    created = result.scalar_one_or_none() is not None
    borrower = (
        await session.execute(
            for_update(session, select(Borrower).where(Borrower.phone == e164)),
            execution_options={"populate_existing": True},
        )
    ).scalar_one()
    if not created:
        # The desk has the newest details; keep them.
        borrower.name = name
        if email:
            borrower.email = email
        borrower.language = language
    return borrower, created


def active_loan_exists(item_id_column):  # type: ignore[no-untyped-def]
    return exists().where(and_(Loan.item_id == item_id_column, Loan.returned_at.is_(None)))


def held_for_other(item_id_column, now: datetime, borrower_id: str | None):  # type: ignore[no-untyped-def]
    """An open offer to someone else holds the item."""
    clause = and_(
        Reservation.offered_item_id == item_id_column,
        Reservation.status == "offered",
        Reservation.hold_until > now,
    )
    if borrower_id is not None:
        clause = and_(clause, Reservation.borrower_id != borrower_id)
    return exists().where(clause)


def lendable_items(hub: str, kind: str) -> Select:  # type: ignore[type-arg]
    return select(Item).where(
        Item.hub == hub,
        Item.kind == kind,
        Item.retired_at.is_(None),
        Item.condition.not_in(UNLENDABLE),
        ~active_loan_exists(Item.id),
    )


async def free_item(
    session: AsyncSession, hub: str, kind: str, now: datetime, borrower_id: str
) -> Item | None:
    """A free item of the kind, locked. On PostgreSQL SKIP LOCKED lets concurrent check-outs
    take different items instead of queueing on the same one."""
    query = (
        lendable_items(hub, kind)
        .where(
            or_(Item.available_from.is_(None), Item.available_from <= now),
            ~held_for_other(Item.id, now, borrower_id),
        )
        .order_by(Item.label)
        .limit(1)
    )
    return (
        await session.execute(for_update(session, query, skip_locked=True))
    ).scalar_one_or_none()


async def active_loans_of(session: AsyncSession, borrower_id: str, kind: str | None = None) -> int:
    query = (
        select(func.count())
        .select_from(Loan)
        .where(Loan.borrower_id == borrower_id, Loan.returned_at.is_(None))
    )
    if kind is not None:
        query = query.join(Item, Item.id == Loan.item_id).where(Item.kind == kind)
    return int((await session.execute(query)).scalar_one())


async def blocking_loan(
    session: AsyncSession, borrower_id: str, now: datetime, steps: tuple[int, ...]
) -> Loan | None:
    """An active loan of the borrower past the last escalation step, if any."""
    loans = (
        (
            await session.execute(
                select(Loan).where(
                    Loan.borrower_id == borrower_id,
                    Loan.returned_at.is_(None),
                    Loan.due_at <= now,
                )
            )
        )
        .scalars()
        .all()
    )
    for loan in loans:
        if blocked_since(loan.due_at, steps) <= now:
            return loan
    return None
