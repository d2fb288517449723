"""What every loans route shares: one transaction with refusals mapped to HTTP, and access."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, Header, Request
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.loans.domain import Refusal
from services.loans.models import Borrower
from shared.auth import Staff, hash_token, optional_staff, require_staff
from shared.service import ApiError, Runtime

DESK = "desk"
desk_only = require_staff(DESK)
desk_if_any = optional_staff(DESK)

ManageToken = Header(
    default=None,
    alias="X-Manage-Token",
    max_length=200,
    description="the borrower's own token, given when they first borrowed or reserved",
)


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


@asynccontextmanager
async def transaction(runtime: Runtime) -> AsyncIterator[AsyncSession]:
    """One transaction per request: a refusal or an expected constraint violation rolls
    everything back and becomes a 4xx with the reason."""
    try:
        async with runtime.db.transaction() as session:
            yield session
    except Refusal as exc:
        raise ApiError(exc.status, exc.reason) from None
    except IntegrityError as exc:
        raise ApiError(409, f"conflict with a concurrent change: {_constraint(exc)}") from None
    except DBAPIError as exc:
        # A PostgreSQL deadlock or serialization failure under a burst: nothing was done.
        if getattr(exc.orig, "sqlstate", None) in {"40P01", "40001"}:
            raise ApiError(409, "conflict with a concurrent change; try again") from None
        raise


def _constraint(exc: IntegrityError) -> str:
    text = str(exc.orig)
    for name, meaning in (
        ("uq_loans_active_item", "the item is already lent"),
        ("uq_items_hub_label", "an item with that label exists"),
        ("uq_reservations_offered_item", "the item is already offered"),
    ):
        if name in text:
            return meaning
    if "loans.item_id" in text:  # SQLite names the columns, not the index
        return "the item is already lent"
    if "items.hub, items.label" in text:
        return "an item with that label exists"
    return "a uniqueness rule"


async def borrower_of_token(session: AsyncSession, token: str | None) -> Borrower | None:
    if not token:
        return None
    return (
        await session.execute(select(Borrower).where(Borrower.token_hash == hash_token(token)))
    ).scalar_one_or_none()


class Caller:
    """Staff (desk) or a borrower with their manage token."""

    def __init__(self, staff: Staff | None, token: str | None) -> None:
        self.staff = staff
        self.token = token

    async def borrower(self, session: AsyncSession) -> Borrower | None:
        return await borrower_of_token(session, self.token)

    async def require_borrower(self, session: AsyncSession) -> Borrower:
        borrower = await self.borrower(session)
        if borrower is None:
            raise ApiError(401, "a desk staff bearer token or a valid X-Manage-Token is required")
        return borrower


def caller(staff: Staff | None = Depends(desk_if_any), token: str | None = ManageToken) -> Caller:
    return Caller(staff, token)
