"""The notify service's tables (its own database)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import TYPE_ANNOTATION_MAP, UTCDateTime
from shared.messaging.tables import add_messaging_tables


class Base(DeclarativeBase):
    type_annotation_map = TYPE_ANNOTATION_MAP


metadata = Base.metadata
messaging = add_messaging_tables(metadata)


class DeliveryRow(Base):
    """One message to one address on one channel, for one event: sent at most once.

    Its plan is decided once, when the event is fanned out, and kept here: the rendered
    texts and the daily hours it may go out in (`send_hours`), which every retry keeps.
    While a sender has it (`sending`), `claim_id` names that sender instance
    (notify_senders); `claimed_until` is a backstop lease.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "recipient", "channel", name="uq_delivery_once"),
        # The sender's claim, a loop per channel: what is due of one channel, in order.
        Index("ix_deliveries_due", "status", "channel", "next_attempt_at"),
        Index("ix_deliveries_recipient", "recipient"),
        Index("ix_deliveries_provider_ref", "provider_ref"),
        Index("ix_deliveries_preference_token", "preference_token"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100), index=True)
    event_type: Mapped[str] = mapped_column(String(100))
    correlation_id: Mapped[str] = mapped_column(String(100))
    routes_version: Mapped[int] = mapped_column(Integer)
    template: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(254))  # E.164 phone or email address
    recipient_kind: Mapped[str] = mapped_column(String(10))  # person | staff
    recipient_role: Mapped[str | None] = mapped_column(String(20))
    recipient_name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(5))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    # Oslo wall-time hours ("08:00-21:00") the message may go out in; None: any time.
    send_hours: Mapped[str | None] = mapped_column(String(11))
    subject: Mapped[str | None] = mapped_column(String(500))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    ics: Mapped[bytes | None] = mapped_column(LargeBinary)
    ics_method: Mapped[str | None] = mapped_column(String(10))
    preferences_url: Mapped[str | None] = mapped_column(String(1000))
    # The token of the preferences link the message carries (domain.preference_token):
    # the link names no address, so this row is how the link finds its recipient.
    preference_token: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claim_id: Mapped[str | None] = mapped_column(String(36))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    provider_ref: Mapped[str | None] = mapped_column(String(200))
    # The SMS gateway that sent it ("primary", "fallback"), or that may hold it after an
    # answer that did not say (a timeout): later attempts go there and nowhere else.
    sms_gateway: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PreferenceRow(Base):
    """What one address (email or phone) wants: channels and reminders."""

    __tablename__ = "preferences"

    recipient: Mapped[str] = mapped_column(String(254), primary_key=True)
    email: Mapped[bool] = mapped_column(Boolean, default=True)
    sms: Mapped[bool] = mapped_column(Boolean, default=True)
    reminders: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The address's link token when it was last set: the link keeps finding the address
    # after the messages that carried it are anonymised.
    token: Mapped[str | None] = mapped_column(String(32), index=True)


class SenderRow(Base):
    """A running sender (one per notify process): the claims it holds are its own while
    its heartbeat is fresh; once stale, any other sender takes them over."""

    __tablename__ = "notify_senders"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # Where it runs, for an operator reading the table (no personal data).
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class KeyRow(Base):
    """Secrets the service makes for itself (the preference-link key), shared by replicas."""

    __tablename__ = "notify_keys"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class DigestItemRow(Base):
    """One open loan, order or booking as the staff's daily digest lists it, kept from the
    events notify consumes (services/notify/digest.py): no personal data. A closed one
    stays a while as a tombstone, so that an older event arriving late cannot reopen it."""

    __tablename__ = "digest_items"
    __table_args__ = (Index("ix_digest_items_role_open_at", "role", "open", "at"),)

    key: Mapped[str] = mapped_column(String(120), primary_key=True)  # "<kind>:<id>"
    open: Mapped[bool] = mapped_column(Boolean)
    role: Mapped[str | None] = mapped_column(String(20))
    kind: Mapped[str | None] = mapped_column(String(20))
    hub: Mapped[str | None] = mapped_column(String(50))
    at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    label: Mapped[str] = mapped_column(String(300), default="")
    detail: Mapped[str | None] = mapped_column(String(1000))
    short_notice: Mapped[bool] = mapped_column(Boolean, default=False)
    # The time of the event that wrote the row last: an older one changes nothing.
    event_time: Mapped[datetime] = mapped_column(UTCDateTime)


class DigestRunRow(Base):
    """A role's digest for one Oslo day, made: inserted if absent in the transaction that
    plans its deliveries, so that it is made once whatever the replicas."""

    __tablename__ = "digests_sent"

    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # ISO date, Oslo
    items: Mapped[int] = mapped_column(Integer)
    made_at: Mapped[datetime] = mapped_column(UTCDateTime)
