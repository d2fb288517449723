"""What the notify API takes and answers, and the shaping of a delivery row into it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.notify.domain import Preference, Status
from services.notify.models import DeliveryRow
from services.notify.usecases import PreferencesView
from shared.requests import NoNulText, RequestModel


class Notification(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    event_id: str
    event_type: str
    template: str
    channel: Literal["email", "sms"]
    recipient: str
    recipient_kind: Literal["person", "staff"]
    recipient_role: str | None
    language: str
    urgent: bool
    status: Status
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    provider_ref: str | None
    sms_gateway: str | None
    subject: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None

    @classmethod
    def of(cls, row: DeliveryRow) -> Notification:
        return cls.model_validate(row)


class NotificationDetail(Notification):
    body_text: str
    has_html: bool
    has_invitation: bool

    @classmethod
    def of(cls, row: DeliveryRow) -> NotificationDetail:
        return cls(
            **Notification.of(row).model_dump(),
            body_text=row.body_text,
            has_html=row.body_html is not None,
            has_invitation=row.ics is not None,
        )


# An address travels in a body, never in a URL: a proxy or a gateway between two services
# may log the address of a request, and knows nothing of what is personal in it.
Recipient = Annotated[
    str, Field(min_length=1, max_length=254, description="an email address or phone number")
]


class NotificationSearch(RequestModel):
    """The deliveries to one recipient, newest first, with the list's other filters."""

    recipient: Recipient
    event_id: str | None = Field(default=None, max_length=100)
    status: Status | None = None
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class PreferencesLookup(RequestModel):
    """Whose preferences: the address (staff, or the recipient with their token)."""

    recipient: Recipient


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: bool = Field(default=True, description="Send email to this recipient")
    sms: bool = Field(default=True, description="Send SMS to this recipient")
    reminders: bool = Field(default=True, description="Send reminders (due dates, bookings)")

    def preference(self) -> Preference:
        return Preference(self.email, self.sms, self.reminders)


class PreferencesOf(Preferences, PreferencesLookup):
    """An address's preferences to set (all three; a missing one is true)."""


class PreferencesOut(Preferences):
    recipient: str
    updated_at: datetime | None

    @classmethod
    def of(cls, view: PreferencesView) -> PreferencesOut:
        return cls(
            recipient=view.recipient,
            email=view.email,
            sms=view.sms,
            reminders=view.reminders,
            updated_at=view.updated_at,
        )


class DeliveryReport(NoNulText):
    """A gateway's delivery report. The generic shape (and the local sink's) is
    {id, reference, status}; LINK Mobility's {messageId|id, refId, resultCode} and Sveve's
    {id, ref, status} are read too."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str | None = Field(default=None, max_length=200)
    messageId: str | None = Field(default=None, max_length=200)
    reference: str | None = Field(default=None, max_length=200)
    refId: str | None = Field(default=None, max_length=200)
    ref: str | None = Field(default=None, max_length=200)
    status: Annotated[str, StringConstraints(max_length=50)] | bool | None = None
    resultCode: int | None = None


class ReportAnswer(BaseModel):
    id: str
    status: Status
