"""Contacts as given by bookers, normalised: phone numbers to E.164 (Norway by default)."""

from __future__ import annotations

import phonenumbers

from services.booking.domain import BookingRefused


def normalise_phone(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw, "NO")
    except phonenumbers.NumberParseException as exc:
        raise BookingRefused("phone is not a valid phone number") from exc
    # "possible" rather than "valid": demo data uses placeholder numbers (+47 000 00 000).
    if not phonenumbers.is_possible_number(number):
        raise BookingRefused("phone is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
