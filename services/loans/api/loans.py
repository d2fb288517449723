"""Loans: check-out (and backfill), return, renewal, and who sees which loans."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from services.loans import usecases
from services.loans.api.access import caller, desk_only
from services.loans.api.schemas import (
    LoanIn,
    LoanOut,
    LoanStatus,
    ReturnIn,
    TokenOut,
    id_path,
)
from services.loans.api.views import loan_out
from services.loans.settings import config_of
from services.loans.timers import notice_rules
from services.loans.usecases import BorrowerDetails, Caller
from shared.auth import Staff
from shared.service import runtime_of

router = APIRouter(tags=["loans"])


@router.post(
    "/loans",
    status_code=201,
    response_model=LoanOut,
    responses={409: {"description": "nothing free, item taken, or borrower blocked"}},
)
async def create_loan(request: Request, body: LoanIn, staff: Staff = Depends(desk_only)) -> LoanOut:
    """Check out an item (or any free item of a kind) to a borrower; with `started_at`,
    register a loan from paper records (backfill)."""
    runtime = runtime_of(request)
    cmd = usecases.CheckOut(
        hub=body.hub,
        borrower=BorrowerDetails(**body.borrower.model_dump()),
        rules=notice_rules(config_of(runtime)),
        item_id=body.item_id,
        kind=body.kind,
        days=body.days,
        due_date=body.due_date,
        condition=body.condition,
        started_at=body.started_at,
        actor=staff.actor(),
    )
    return loan_out(await runtime.uow.run(lambda uow: usecases.check_out(uow, cmd)))


@router.post("/loans/{loan_id}/return", response_model=LoanOut)
async def return_item(
    request: Request,
    loan_id: str = id_path(),
    body: ReturnIn | None = None,
    staff: Staff = Depends(desk_only),
) -> LoanOut:
    body = body or ReturnIn()
    cmd = usecases.ReturnLoan(loan_id, body.condition, body.notes, staff.actor())
    return loan_out(await runtime_of(request).uow.run(lambda uow: usecases.return_loan(uow, cmd)))


@router.post("/loans/{loan_id}/renew", response_model=LoanOut)
async def renew_loan(
    request: Request, loan_id: str = id_path(), who: Caller = Depends(caller)
) -> LoanOut:
    """Desk staff, or the borrower with their X-Manage-Token. Refused when someone waits."""
    runtime = runtime_of(request)
    cmd = usecases.RenewLoan(loan_id, who, notice_rules(config_of(runtime)))
    return loan_out(await runtime.uow.run(lambda uow: usecases.renew_loan(uow, cmd)))


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
    steps = config_of(runtime_of(request)).steps
    cmd = usecases.ListLoans(who, steps, status, borrower, limit, offset)
    views = await runtime_of(request).uow.run(
        lambda uow: usecases.list_loans(uow, cmd), read_only=True
    )
    return [loan_out(v) for v in views]


@router.get("/loans/{loan_id}", response_model=LoanOut)
async def get_loan(
    request: Request, loan_id: str = id_path(), who: Caller = Depends(caller)
) -> LoanOut:
    """Desk staff, or the borrower with their X-Manage-Token (another's loan: 403)."""
    cmd = usecases.GetLoan(loan_id, who, config_of(runtime_of(request)).steps)
    view = await runtime_of(request).uow.run(
        lambda uow: usecases.get_loan(uow, cmd), read_only=True
    )
    return loan_out(view)


@router.post(
    "/borrowers/{borrower_id}/token",
    response_model=TokenOut,
    dependencies=[Depends(desk_only)],
    tags=["borrowers"],
)
async def reissue_token(request: Request, borrower_id: str = id_path()) -> TokenOut:
    """A new manage token for a borrower who lost theirs (the old one stops working)."""
    cmd = usecases.ReissueToken(borrower_id)
    token = await runtime_of(request).uow.run(lambda uow: usecases.reissue_token(uow, cmd))
    return TokenOut(borrower_id=borrower_id, manage_token=token)
