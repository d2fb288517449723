"""Statements of a few shapes, whatever the number of rows or ids they are given.

An expanding IN renders one placeholder per value, and an executemany with RETURNING goes
out as multi-row VALUES statements (SQLAlchemy's "insertmanyvalues"), so each count is an
SQL text of its own. The driver prepares each text anew and keeps it: SQLite's statement
cache holds 128 a connection, asyncpg's 100, and one of notify's 1,000-row inserts of
deliveries took 3.5 MB there. A soak of notify grew by one such statement every few
thousand events (docs/bench.md, thirteenth pass). Counts rounded to powers of two bound
a statement to a dozen shapes, each prepared once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import on_connection

T = TypeVar("T")

# Rows in the largest page: SQLAlchemy's own page is 1,000, and a power of two below it
# keeps every page one statement.
LARGEST_PAGE = 512


def pages(rows: Sequence[T]) -> Iterator[Sequence[T]]:
    """`rows` in consecutive pages of a power of two rows each, the largest first, none
    over LARGEST_PAGE: 1,000 rows go as 512, 256, 128, 64, 32 and 8."""
    start = 0
    while start < len(rows):
        size = min(LARGEST_PAGE, 1 << ((len(rows) - start).bit_length() - 1))
        yield rows[start : start + size]
        start += size


def padded(values: Sequence[T]) -> list[T]:
    """`values` for an expanding IN, lengthened to a power of two by repeating the last;
    a value listed twice selects nothing more."""
    if not values:
        return []
    return [*values, *[values[-1]] * ((1 << (len(values) - 1).bit_length()) - len(values))]


async def first_columns_returned(
    session: AsyncSession, statement: Any, rows: Sequence[dict[str, Any]]
) -> list[Any]:
    """Execute an INSERT ... RETURNING <column> with `rows` as its parameters, page by page
    on the session's connection (shared.db.on_connection); the column of each row
    returned."""
    returned: list[Any] = []
    for page in pages(rows):
        result = await on_connection(session, statement, list(page) if len(page) > 1 else page[0])
        returned.extend(result.scalars())
    return returned
