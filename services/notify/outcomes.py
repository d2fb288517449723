"""NotificationSent / NotificationFailed for a delivery row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.notify.models import DeliveryRow
from shared.events import NotificationFailed, NotificationSent


def _facts(row: DeliveryRow | Mapping[str, Any]) -> dict[str, Any]:
    get = row.get if isinstance(row, Mapping) else lambda k: getattr(row, k)
    return {
        "delivery_id": get("id"),
        "source_event_id": get("event_id"),
        "source_event_type": get("event_type"),
        "channel": get("channel"),
        "recipient_kind": get("recipient_kind"),
        "recipient_role": get("recipient_role"),
        "attempts": get("attempts") or 0,
    }


def sent_event(row: DeliveryRow | Mapping[str, Any], provider_ref: str | None) -> NotificationSent:
    return NotificationSent(**_facts(row), provider_ref=provider_ref)


def failed_event(
    row: DeliveryRow | Mapping[str, Any], reason: str | None, *, permanent: bool
) -> NotificationFailed:
    return NotificationFailed(**_facts(row), reason=reason or "unknown", permanent=permanent)
