"""Notification preferences: by the link in a person's emails (its token alone, in a header,
the address masked in the answer: the web front's `/mine/varsler/<token>` page), and by
address for staff (service to service; no service logs request addresses) or for a
recipient with their token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request

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
        description="The token of the preferences link at the foot of the person's emails",
        max_length=200,
    ),
]


# Before /preferences/{recipient}, which would take "mine" for an address.
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


@router.get("/preferences/{recipient}", response_model=PreferencesOut)
async def get_preferences(
    request: Request,
    recipient: str,
    x_preference_token: TokenHeader = None,
    staff: Staff | None = Depends(optional_staff()),
) -> PreferencesOut:
    runtime = runtime_of(request)
    who = usecases.Manager(staff is not None, x_preference_token)
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
    staff: Staff | None = Depends(optional_staff()),
) -> PreferencesOut:
    runtime = runtime_of(request)
    who = usecases.Manager(staff is not None, x_preference_token)
    command = usecases.SetPreferences(recipient, who, body.preference())
    key = notify_rules(runtime).preference_key
    view = await runtime.uow.run(lambda uow: usecases.set_preferences(uow, command, key=key))
    return PreferencesOut.of(view)
