"""The catering service's tables (its own database)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from shared.db import TYPE_ANNOTATION_MAP, UTCDateTime
from shared.messaging.tables import add_messaging_tables

_Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = TYPE_ANNOTATION_MAP


metadata = Base.metadata
messaging = add_messaging_tables(metadata)


class MenuItem(Base):
    """One dish or drink of a hub's café. Prices are integer øre."""

    __tablename__ = "menu_items"
    __table_args__ = (CheckConstraint("price_ore >= 0", name="ck_menu_items_price"),)

    hub: Mapped[str] = mapped_column(String(40), primary_key=True)
    id: Mapped[str] = mapped_column(String(60), primary_key=True)
    name_nb: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    description_nb: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(40))
    unit: Mapped[str] = mapped_column(String(20))
    price_ore: Mapped[int] = mapped_column(Integer)
    allergens: Mapped[list[str]] = mapped_column(JSON)
    diet: Mapped[list[str]] = mapped_column(JSON)
    kinds: Mapped[list[str]] = mapped_column(JSON)
    available: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("total_ore >= 0", name="ck_orders_total"),
        CheckConstraint("portions >= 0", name="ck_orders_portions"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    hub: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(30), index=True)
    short_notice: Mapped[bool] = mapped_column(Boolean)
    pickup_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The Oslo date of pick-up: the key of the day's capacity and prep list.
    pickup_day: Mapped[date] = mapped_column(Date, index=True)
    people: Mapped[int | None] = mapped_column(Integer)
    portions: Mapped[int] = mapped_column(Integer)
    total_ore: Mapped[int] = mapped_column(Integer)
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_email: Mapped[str | None] = mapped_column(String(254))
    customer_phone: Mapped[str | None] = mapped_column(String(20))
    customer_language: Mapped[str] = mapped_column(String(2))
    note: Mapped[str | None] = mapped_column(Text)
    booking_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    manage_token_hash: Mapped[str | None] = mapped_column(String(64))
    order_by: Mapped[datetime] = mapped_column(UTCDateTime)
    cancel_cutoff_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    cancelled_by: Mapped[str | None] = mapped_column(String(20))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    picked_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    lines: Mapped[list[OrderLineRow]] = relationship(
        lazy="selectin", order_by="OrderLineRow.id", cascade="all, delete-orphan"
    )


class OrderLineRow(Base):
    """A line as ordered: name, price and allergens are copied, so menu edits later do not
    rewrite what the customer agreed to."""

    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="ck_order_lines_quantity"),
        CheckConstraint("unit_price_ore >= 0", name="ck_order_lines_price"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    item_id: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_ore: Mapped[int] = mapped_column(Integer)
    allergens: Mapped[list[str]] = mapped_column(JSON)


class OrderChangeRequest(Base):
    """A customer's change to an order: kept as asked (priced like an order's lines), and
    applied to the order at once or when the café accepts it. At most one waits per order."""

    __tablename__ = "order_changes"
    __table_args__ = (
        CheckConstraint("portions > 0", name="ck_order_changes_portions"),
        Index(
            "uq_order_changes_pending",
            "order_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    pickup_at: Mapped[datetime] = mapped_column(UTCDateTime)
    pickup_day: Mapped[date] = mapped_column(Date)
    people: Mapped[int | None] = mapped_column(Integer)
    # [{item_id, name, quantity, unit_price_ore, allergens}], as priced when asked.
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    portions: Mapped[int] = mapped_column(Integer)
    total_ore: Mapped[int] = mapped_column(Integer)
    short_notice: Mapped[bool] = mapped_column(Boolean)
    order_by: Mapped[datetime] = mapped_column(UTCDateTime)
    cancel_cutoff_at: Mapped[datetime] = mapped_column(UTCDateTime)
    previous_pickup_at: Mapped[datetime] = mapped_column(UTCDateTime)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)


class DayCapacity(Base):
    """Portions promised for one pick-up day. The CHECK is the last line against
    overselling; the row lock (PostgreSQL) or BEGIN IMMEDIATE (SQLite) is the first."""

    __tablename__ = "day_capacity"
    __table_args__ = (
        CheckConstraint("used >= 0", name="ck_day_capacity_used"),
        CheckConstraint("used <= capacity", name="ck_day_capacity_not_oversold"),
    )

    hub: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    capacity: Mapped[int] = mapped_column(Integer)
    used: Mapped[int] = mapped_column(Integer)


class CafeClosure(Base):
    __tablename__ = "cafe_closures"

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    hub: Mapped[str] = mapped_column(String(40), index=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BookingCancellation(Base):
    """A BookingCancelled seen: a BookingConfirmed arriving after it places nothing."""

    __tablename__ = "booking_cancellations"

    booking_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    cancelled_at: Mapped[datetime] = mapped_column(UTCDateTime)
