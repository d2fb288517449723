"""The staff roles: who may do what at the hub. One list, checked when a service starts."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    DESK = "desk"  # the citizens' desk: loans, the book swap
    CAFE = "cafe"  # Café Jasmin: orders, the menu, the prep list
    BOOKING = "booking"  # booking officers: approvals, closures, resources
    ADMIN = "admin"  # everything, and ops


def parse_role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown staff role {text!r} (known roles: {known})") from None
