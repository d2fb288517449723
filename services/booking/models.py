"""The booking service's tables (its own database)."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from shared.messaging.tables import add_messaging_tables


class Base(DeclarativeBase):
    pass


metadata = Base.metadata
messaging = add_messaging_tables(metadata)
