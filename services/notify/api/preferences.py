"""Notification preferences: by the link in a person's emails (its token alone, in a header,
the address masked in the answer: the web front's `/mine/varsler/<token>` page), and by
address for staff or for a recipient with their token. The address goes in the body, never
in the URL (api/schemas.Recipient)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request

from services.notify import usecases
from services.notify.api.schemas import (
    Preferences,
    PreferencesLookup,
    PreferencesOf,
    PreferencesOut,
)
from services.notify.settings import notify_rules
from shared.access_log import READS_ONLY
from shared.auth import Staff, optional_staff
from shared.service import runtime_of

router = APIRouter(tags=["preferences"])

TokenHeader = Annotated[
    str | None,
    Header(
        alias="X-Preference-Token",
        description="The token of the preferences link at the foot of the person's emails",
        max_length=200,
    ),
]


@router.get("/preferences/mine", response_model=PreferencesOut)
async def get_linked_preferences(request: Request, token: TokenHeader = None) -> PreferencesOut:
    """The preferences a link opens; `recipient` is the address masked. An unknown token,
    or one no longer valid: 404 (`preference_link_unknown`)."""
    runtime = runtime_of(request)
    key = notify_rules(runtime).preference_key
    view = await runtime.uow.run(
        lambda uow: usecases.get_linked_preferences(uow, token, key=key), read_only=True
    )
    return PreferencesOut.of(view)


@router.put("/preferences/mine", response_model=PreferencesOut)
async def put_linked_preferences(
    request: Request, body: Preferences, token: TokenHeader = None
) -> PreferencesOut:
    """Set the preferences a link opens (all three; a missing one is true)."""
    runtime = runtime_of(request)
    key = notify_rules(runtime).preference_key
    command = usecases.SetLinkedPreferences(token, body.preference())
    view = await runtime.uow.run(lambda uow: usecases.set_linked_preferences(uow, command, key=key))
    return PreferencesOut.of(view)


@router.post("/preferences/lookup", response_model=PreferencesOut, openapi_extra=READS_ONLY)
async def get_preferences(
    request: Request,
    body: PreferencesLookup,
    x_preference_token: TokenHeader = None,
    staff: Staff | None = Depends(optional_staff()),
) -> PreferencesOut:
    """An address's preferences (a read: POST only so that the address is in the body)."""
    runtime = runtime_of(request)
    who = usecases.Manager(staff is not None, x_preference_token)
    key = notify_rules(runtime).preference_key
    view = await runtime.uow.run(
        lambda uow: usecases.get_preferences(uow, body.recipient, who, key=key), read_only=True
    )
    return PreferencesOut.of(view)


@router.put("/preferences", response_model=PreferencesOut)
async def put_preferences(
    request: Request,
    body: PreferencesOf,
    x_preference_token: TokenHeader = None,
    staff: Staff | None = Depends(optional_staff()),
) -> PreferencesOut:
    """Set an address's preferences (all three; a missing one is true)."""
    runtime = runtime_of(request)
    who = usecases.Manager(staff is not None, x_preference_token)
    command = usecases.SetPreferences(body.recipient, who, body.preference())
    key = notify_rules(runtime).preference_key
    view = await runtime.uow.run(lambda uow: usecases.set_preferences(uow, command, key=key))
    return PreferencesOut.of(view)
