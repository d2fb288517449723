"""Contacts as given by bookers, normalised: phone numbers to E.164 (Norway by default)."""

from __future__ import annotations

from services.booking.domain import BookingRefused
from shared.contacts import e164


def normalise_phone(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    number = e164(raw)
    if number is None:
        raise BookingRefused("phone is not a valid phone number")
    return number
