"""What the SMS sink keeps: the SMS it accepted, and the faults it was told to inject."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from knutepunkt.devsinks.sms_providers import Provider

ReportStatus = Literal["delivered", "failed"]
REPORT_STATUSES: tuple[ReportStatus, ...] = ("delivered", "failed")


@dataclass(frozen=True)
class Fault:
    """The answer to give one send request instead of the normal one.

    A status below 300 means "answer normally", so `Fault(200, delay=10)` is a slow gateway.
    """

    status: int
    retry_after: int | None = None
    delay: float = 0.0
    # The error text to answer with instead of the stock one; "{to}" becomes the number
    # the request was for, as gateways that echo the destination in their errors do.
    message: str | None = None


@dataclass
class ReceivedSms:
    id: str
    provider: Provider
    to: str
    sender: str | None
    text: str
    reference: str | None
    received_at: datetime
    parts: int
    callback_url: str | None = None
    status: str = "accepted"
    reports: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "to": self.to,
            "from": self.sender,
            "text": self.text,
            "reference": self.reference,
            "received_at": self.received_at.isoformat(),
            "parts": self.parts,
            "status": self.status,
            "reports": list(self.reports),
        }
