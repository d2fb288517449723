"""An address's preferences, for staff or for the recipient with the token from their link."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request

from services.notify import usecases
from services.notify.api.schemas import Preferences, PreferencesOut
from services.notify.settings import notify_rules
from shared.auth import Staff, optional_staff
from shared.service import runtime_of

router = APIRouter(tags=["preferences"])

TokenHeader = Annotated[
    str | None,
    Header(
        alias="X-Preference-Token",
        description="The recipient's token, from the link in their messages",
        max_length=200,
    ),
]
TokenQuery = Annotated[str | None, Query(alias="token", max_length=200)]


@router.get("/preferences/{recipient}", response_model=PreferencesOut)
async def get_preferences(
    request: Request,
    recipient: str,
    x_preference_token: TokenHeader = None,
    token: TokenQuery = None,
    staff: Staff | None = Depends(optional_staff()),
) -> PreferencesOut:
    runtime = runtime_of(request)
    who = usecases.Manager(staff is not None, x_preference_token or token)
    key = notify_rules(runtime).preference_key
    view = await runtime.uow.run(
        lambda uow: usecases.get_preferences(uow, recipient, who, key=key), read_only=True
    )
    return PreferencesOut.of(view)


@router.put("/preferences/{recipient}", response_model=PreferencesOut)
async def put_preferences(
    request: Request,
    recipient: str,
    body: Preferences,
    x_preference_token: TokenHeader = None,
    token: TokenQuery = None,
    staff: Staff | None = Depends(optional_staff()),
) -> PreferencesOut:
    runtime = runtime_of(request)
    who = usecases.Manager(staff is not None, x_preference_token or token)
    command = usecases.SetPreferences(recipient, who, body.preference())
    key = notify_rules(runtime).preference_key
    view = await runtime.uow.run(lambda uow: usecases.set_preferences(uow, command, key=key))
    return PreferencesOut.of(view)
