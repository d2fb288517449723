"""Loans: check-out (and backfill), return, renewal, and who sees which loans."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.loans.api.common import Caller, caller, desk_only, runtime_of, transaction
from services.loans.api.schemas import LoanIn, LoanOut, LoanStatus, ReturnIn, TokenOut, id_path
from services.loans.lending import (
    BorrowerDetails,
    CheckOutRequest,
    check_out,
    renew,
    return_loan,
)
from services.loans.models import Borrower, Item, Loan
from services.loans.store import settings_of
from shared.auth import hash_token, new_token
from shared.service import ApiError

router = APIRouter(tags=["loans"])


def status_of(loan: Loan, now: datetime) -> Literal["active", "overdue", "returned"]:
    if loan.returned_at is not None:
        return "returned"
    return "overdue" if loan.due_at <= now else "active"


def loan_out(
    loan: Loan, item: Item, borrower: Borrower, now: datetime, token: str | None = None
) -> LoanOut:
    return LoanOut(
        id=loan.id,
        hub=loan.hub,
        item_id=item.id,
        item_label=item.label,
        item_kind=item.kind,  # type: ignore[arg-type]
        borrower_id=borrower.id,
        borrower_name=borrower.name,
        started_at=loan.started_at,
        due_at=loan.due_at,
        returned_at=loan.returned_at,
        status=status_of(loan, now),
        renewals=loan.renewals,
        condition_out=loan.condition_out,
        condition_in=loan.condition_in,
        backfilled=loan.backfilled,
        manage_token=token,
    )


@router.post(
    "/loans",
    status_code=201,
    response_model=LoanOut,
    dependencies=[Depends(desk_only)],
    responses={409: {"description": "nothing free, item taken, or borrower blocked"}},
)
async def create_loan(request: Request, body: LoanIn) -> LoanOut:
    """Check out an item (or any free item of a kind) to a borrower; with `started_at`,
    register a loan from paper records (backfill)."""
    runtime = runtime_of(request)
    now = runtime.now()
    async with transaction(runtime) as session:
        done = await check_out(
            session,
            CheckOutRequest(
                hub=body.hub,
                borrower=BorrowerDetails(**body.borrower.model_dump()),
                item_id=body.item_id,
                kind=body.kind,
                days=body.days,
                due_date=body.due_date,
                condition=body.condition,
                started_at=body.started_at,
            ),
            now,
            settings_of(runtime),
        )
        return loan_out(done.loan, done.item, done.borrower, now, done.manage_token)


@router.post("/loans/{loan_id}/return", response_model=LoanOut, dependencies=[Depends(desk_only)])
async def return_item(
    request: Request, loan_id: str = id_path(), body: ReturnIn | None = None
) -> LoanOut:
    runtime = runtime_of(request)
    now = runtime.now()
    body = body or ReturnIn()
    async with transaction(runtime) as session:
        loan, item, borrower = await return_loan(session, loan_id, body.condition, body.notes, now)
        return loan_out(loan, item, borrower, now)


async def _owned(session: AsyncSession, who: Caller, loan_id: str) -> None:
    if who.staff is not None:
        return
    borrower = await who.require_borrower(session)
    loan = await session.get(Loan, loan_id)
    if loan is None or loan.borrower_id != borrower.id:
        raise ApiError(404, f"no loan {loan_id} of this borrower")


@router.post("/loans/{loan_id}/renew", response_model=LoanOut)
async def renew_loan(
    request: Request, loan_id: str = id_path(), who: Caller = Depends(caller)
) -> LoanOut:
    """Desk staff, or the borrower with their X-Manage-Token. Refused when someone waits."""
    runtime = runtime_of(request)
    now = runtime.now()
    async with transaction(runtime) as session:
        await _owned(session, who, loan_id)
        loan, item, borrower = await renew(session, loan_id, now, settings_of(runtime))
        return loan_out(loan, item, borrower, now)


@router.get("/loans", response_model=list[LoanOut])
async def list_loans(
    request: Request,
    who: Caller = Depends(caller),
    status: LoanStatus | None = None,
    borrower: str | None = Query(default=None, max_length=36, description="a borrower id"),
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=1_000_000),
) -> list[LoanOut]:
    """Desk staff see every loan; a borrower (X-Manage-Token) sees their own."""
    runtime = runtime_of(request)
    now = runtime.now()
    async with runtime.db.read() as session:
        query = (
            select(Loan, Item, Borrower)
            .join(Item, Item.id == Loan.item_id)
            .join(Borrower, Borrower.id == Loan.borrower_id)
            .order_by(Loan.started_at.desc(), Loan.id)
            .limit(limit)
            .offset(offset)
        )
        if who.staff is None:
            own = await who.require_borrower(session)
            query = query.where(Loan.borrower_id == own.id)
        if borrower is not None:
            query = query.where(Loan.borrower_id == borrower)
        if status == "returned":
            query = query.where(Loan.returned_at.is_not(None))
        elif status == "active":
            query = query.where(Loan.returned_at.is_(None), Loan.due_at > now)
        elif status == "overdue":
            query = query.where(Loan.returned_at.is_(None), Loan.due_at <= now)
        rows = (await session.execute(query)).all()
    return [loan_out(loan, item, b, now) for loan, item, b in rows]


@router.get("/loans/{loan_id}", response_model=LoanOut)
async def get_loan(
    request: Request, loan_id: str = id_path(), who: Caller = Depends(caller)
) -> LoanOut:
    runtime = runtime_of(request)
    now = runtime.now()
    async with runtime.db.read() as session:
        await _owned(session, who, loan_id)
        row = (
            await session.execute(
                select(Loan, Item, Borrower)
                .join(Item, Item.id == Loan.item_id)
                .join(Borrower, Borrower.id == Loan.borrower_id)
                .where(Loan.id == loan_id)
            )
        ).first()
    if row is None:
        raise ApiError(404, f"no loan {loan_id}")
    return loan_out(row[0], row[1], row[2], now)


@router.post(
    "/borrowers/{borrower_id}/token",
    response_model=TokenOut,
    dependencies=[Depends(desk_only)],
    tags=["borrowers"],
)
async def reissue_token(request: Request, borrower_id: str = id_path()) -> TokenOut:
    """A new manage token for a borrower who lost theirs (the old one stops working)."""
    runtime = runtime_of(request)
    async with transaction(runtime) as session:
        borrower = await session.get(Borrower, borrower_id, with_for_update=True)
        if borrower is None:
            raise ApiError(404, f"no borrower {borrower_id}")
        token = new_token()
        borrower.token_hash = hash_token(token)
    return TokenOut(borrower_id=borrower_id, manage_token=token)
