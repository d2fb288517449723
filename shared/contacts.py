"""Phone numbers as every service stores them: E.164, Norwegian by default."""

from __future__ import annotations

import phonenumbers


def e164(raw: str | None, region: str = "NO") -> str | None:
    """E.164, or None when `raw` cannot be a phone number.

    "Possible" (the right length for its country), not "valid": operators open number
    ranges faster than the library learns them, and the demo's placeholder numbers
    (+47 000 00 000) must pass."""
    if raw is None or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
