"""Who calls: desk staff (a bearer token with the desk role), or a borrower with their
manage token (X-Manage-Token). The use cases decide what each may do."""

from __future__ import annotations

from fastapi import Depends, Header

from services.loans.usecases import Caller
from shared.auth import Staff, optional_staff, require_staff
from shared.roles import Role

desk_only = require_staff(Role.DESK)
_desk_if_any = optional_staff(Role.DESK)

ManageToken = Header(
    default=None,
    alias="X-Manage-Token",
    max_length=200,
    description="the borrower's own token, given when they first borrowed or reserved",
)


def caller(staff: Staff | None = Depends(_desk_if_any), token: str | None = ManageToken) -> Caller:
    return Caller(staff=staff is not None, token=token, actor=staff.actor() if staff else None)
