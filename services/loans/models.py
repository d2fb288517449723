"""The loans service's tables (its own database)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import TYPE_ANNOTATION_MAP, UTCDateTime
from shared.messaging.tables import add_messaging_tables


class Base(DeclarativeBase):
    type_annotation_map = TYPE_ANNOTATION_MAP


metadata = Base.metadata
messaging = add_messaging_tables(metadata)


class LoanPolicy(Base):
    """How one kind of item is lent at one hub."""

    __tablename__ = "loan_policies"

    hub: Mapped[str] = mapped_column(String(50), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    lendable: Mapped[bool] = mapped_column(Boolean, default=True)
    default_days: Mapped[int] = mapped_column(Integer, default=1)
    min_days: Mapped[int] = mapped_column(Integer, default=1)
    max_days: Mapped[int] = mapped_column(Integer, default=1)
    # "MM-DD": loans of this kind run to that date (a growing season), not for N days.
    season_end: Mapped[str | None] = mapped_column(String(5), nullable=True)
    max_renewals: Mapped[int] = mapped_column(Integer, default=0)
    max_items_per_borrower: Mapped[int] = mapped_column(Integer, default=1)
    buffer_minutes: Mapped[int] = mapped_column(Integer, default=0)
    hold_hours: Mapped[int] = mapped_column(Integer, default=48)


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("hub", "label", name="uq_items_hub_label"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    hub: Mapped[str] = mapped_column(String(50), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200))
    condition: Mapped[str] = mapped_column(String(20), default="ok")
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The buffer between loans (a PC is wiped): not lendable before this instant.
    available_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The active loan of this item, kept on the item's own row so that a concurrent
    # check-out's pick (FOR UPDATE SKIP LOCKED) sees the winner when PostgreSQL re-checks
    # the row it locks: a NOT EXISTS on loans is not re-checked, and lost to the unique
    # index below. The index stays the hard rule; this column is how the pick sees it.
    current_loan_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


# An item's own row says it may be lent now: neither on loan nor retired. The check-out's
# pick says it with these very terms, and its index holds only such items, in the order
# the pick wants them: its search follows the items on the shelf, not every item lent out
# before the first free one.
ITEM_FREE = and_(Item.current_loan_id.is_(None), Item.retired_at.is_(None))
Index(
    "ix_items_free",
    Item.hub,
    Item.kind,
    Item.label,
    sqlite_where=ITEM_FREE,
    postgresql_where=ITEM_FREE,
)


class Borrower(Base):
    __tablename__ = "borrowers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(20), unique=True)  # E.164
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    language: Mapped[str] = mapped_column(String(2), default="nb")
    token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Loan(Base):
    __tablename__ = "loans"
    __table_args__ = (
        # One active loan per item: the database refuses a second check-out of the same
        # item, whatever the application checked before.
        Index(
            "uq_loans_active_item",
            "item_id",
            unique=True,
            sqlite_where=text("returned_at IS NULL"),
            postgresql_where=text("returned_at IS NULL"),
        ),
        # The scanner only looks at loans with a notice pending, so its cost follows what
        # is due, not every loan ever made.
        Index(
            "ix_loans_next_notice",
            "next_notice_at",
            sqlite_where=text("next_notice_at IS NOT NULL"),
            postgresql_where=text("next_notice_at IS NOT NULL"),
        ),
        Index(
            "ix_loans_active_borrower",
            "borrower_id",
            sqlite_where=text("returned_at IS NULL"),
            postgresql_where=text("returned_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    hub: Mapped[str] = mapped_column(String(50))
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"))
    borrower_id: Mapped[str] = mapped_column(ForeignKey("borrowers.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    renewals: Mapped[int] = mapped_column(Integer, default=0)
    condition_out: Mapped[str] = mapped_column(String(20))
    condition_in: Mapped[str | None] = mapped_column(String(20), nullable=True)
    backfilled: Mapped[bool] = mapped_column(Boolean, default=False)
    next_notice_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class NoticeSent(Base):
    """What the scanner has told, per loan: the key that makes each notice go out once,
    written in the same transaction as the outbox row that carries it."""

    __tablename__ = "notices_sent"
    __table_args__ = (
        UniqueConstraint("loan_id", "renewal", "kind", "level", name="uq_notices_once"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("loans.id"))
    # A renewal gives a new due date, and with it a new round of notices.
    renewal: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # due_soon | overdue
    level: Mapped[int] = mapped_column(Integer)
    borrower_id: Mapped[str] = mapped_column(String(36))
    event_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Reservation(Base):
    __tablename__ = "reservations"
    __table_args__ = (
        Index("ix_reservations_queue", "hub", "kind", "status", "id"),
        Index(
            "uq_reservations_offered_item",
            "offered_item_id",
            unique=True,
            sqlite_where=text("status = 'offered'"),
            postgresql_where=text("status = 'offered'"),
        ),
    )

    # An increasing number: the queue's order, independent of the clock's resolution.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hub: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(20))
    borrower_id: Mapped[str] = mapped_column(ForeignKey("borrowers.id"))
    # waiting | offered | fulfilled | cancelled | expired
    status: Mapped[str] = mapped_column(String(20), default="waiting")
    wanted_from: Mapped[datetime] = mapped_column(UTCDateTime)
    offered_item_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    hold_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ShelfBook(Base):
    """A book on the swap shelf: brought in, then taken (no due date)."""

    __tablename__ = "shelf_books"
    __table_args__ = (Index("ix_shelf_books_on_shelf", "hub", "taken_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    hub: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(300))
    author: Mapped[str | None] = mapped_column(String(200), nullable=True)
    language: Mapped[str | None] = mapped_column(String(20), nullable=True)
    brought_at: Mapped[datetime] = mapped_column(UTCDateTime)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DeskClosure(Base):
    """A staff closure of the desk (a staff day, a move, a burst pipe), beside the hub's hours
    and the public holidays: no check-out or return, and no loan or held offer ends on a day
    it closes."""

    __tablename__ = "desk_closures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hub: Mapped[str] = mapped_column(String(50), index=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
