"""The outbox and inbox tables, added to each service's own metadata (its own database)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

from shared.db import UTCDateTime

# BIGINT on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the auto-incrementing rowid.
_Id = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True)
class MessagingTables:
    outbox: Table
    inbox: Table


def add_messaging_tables(metadata: MetaData) -> MessagingTables:
    outbox = Table(
        "outbox",
        metadata,
        Column("id", _Id, primary_key=True, autoincrement=True),
        Column("event_id", String(100), nullable=False, unique=True),
        Column("stream", String(200), nullable=False),
        Column("type", String(100), nullable=False),
        Column("payload", Text, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("published_at", UTCDateTime, nullable=True),
    )
    # The relay only ever looks for what is not yet published: keep that index small.
    Index(
        "ix_outbox_unpublished",
        outbox.c.id,
        sqlite_where=outbox.c.published_at.is_(None),
        postgresql_where=outbox.c.published_at.is_(None),
    )
    Index("ix_outbox_published_at", outbox.c.published_at)
    inbox = Table(
        "inbox",
        metadata,
        Column("event_id", String(100), primary_key=True),
        Column("stream", String(200), nullable=False),
        Column("type", String(100), nullable=False),
        Column("processed_at", UTCDateTime, nullable=False, index=True),
    )
    return MessagingTables(outbox=outbox, inbox=inbox)
