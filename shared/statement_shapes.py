"""Statements of a few shapes, whatever the number of rows or ids they are given.

An expanding IN renders one placeholder per value, and an executemany with RETURNING goes
out as multi-row VALUES statements (SQLAlchemy's "insertmanyvalues"), so each count is an
SQL text of its own. The driver prepares each text anew and keeps it: SQLite's statement
cache holds 128 a connection, asyncpg's 100, and one of notify's 1,000-row inserts of
deliveries took 3.5 MB there. A soak of notify grew by one such statement every few
thousand events (docs/bench.md, thirteenth pass). Counts rounded to powers of two bound
a statement to a dozen shapes, each prepared once.

`RowsInsert` is the backbone's hottest statements (the outbox's insert, the inbox's
claim) in those shapes, compiled by SQLAlchemy once per shape and sent as the driver's SQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import Table, bindparam
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import insert_for

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


class RowsInsert:
    """`INSERT INTO table (columns) VALUES (…), (…) …`, optionally skipping rows that
    conflict and returning one column of those inserted. Compiled by SQLAlchemy once for
    each page size (`pages`) and dialect, and sent with `exec_driver_sql`: the rows go as
    one flat tuple, each value bound through its column's type, and a value that every row
    shares (a timestamp) bound once. Without RETURNING, several rows go as one
    executemany of the one-row text.

    Why not the compiled Core statement with a dict per row: its execution built and
    processed every value of every row in Python, a timestamp through two processors, and
    that was a quarter of a consumer's CPU for an inbox claim of 100 events (docs/bench.md,
    eighteenth pass). Around the statement everything stays SQLAlchemy's: the transaction,
    the engine's events, and the translation of the driver's errors.
    """

    def __init__(
        self,
        table: Table,
        columns: Sequence[str],
        *,
        same: Sequence[str] = (),
        skip_conflicts: bool = False,
        returning: str | None = None,
    ) -> None:
        self.table = table
        # A row's own values, then those every row shares.
        self.columns = (*columns, *same)
        # SQLAlchemy renders the VALUES in the table's order of columns: where each of a
        # row's values is taken from.
        self._rendered = tuple(c.key for c in table.c if c.key in self.columns)
        getter = itemgetter(*(self.columns.index(key) for key in self._rendered))
        # itemgetter of one index gives the value itself, not a tuple of it.
        self._order = getter if len(self._rendered) > 1 else lambda row: (getter(row),)
        self.same = tuple(same)
        self._same_keys = frozenset(same)
        self.skip_conflicts = skip_conflicts
        self.returning = returning
        self._texts: dict[tuple[str, int], str] = {}
        self._processors: dict[str, tuple[Any, ...]] = {}

    async def execute(
        self, session: AsyncSession, rows: Sequence[Sequence[Any]], **same: Any
    ) -> list[Any]:
        """Insert `rows` (values in the order of `columns`), each with the `same` values;
        the returned column of each row inserted (empty without `returning`)."""
        if same.keys() != self._same_keys:
            raise TypeError(f"give exactly these shared values: {', '.join(self.same)}")
        connection = await session.connection()
        dialect = connection.dialect
        own, shared = self._bound_values(dialect, rows, same)
        order = self._order
        if self.returning is None and len(own) > 1:
            # Nothing to read back: one executemany of the one-row text (SQLite loops in
            # C, asyncpg pipelines), one round trip whatever the count.
            text = self._text(dialect, 1)
            await connection.exec_driver_sql(text, [order((*row, *shared)) for row in own])
            return []
        returned: list[Any] = []
        for page in self._pages(own):
            flat: list[Any] = []
            for row in page:
                flat += order((*row, *shared))
            result = await connection.exec_driver_sql(self._text(dialect, len(page)), tuple(flat))
            if self.returning is not None:
                returned.extend(result.scalars())
        return returned

    def _pages(self, rows: Sequence[Sequence[Any]]) -> Iterator[Sequence[Sequence[Any]]]:
        if not self.skip_conflicts:
            yield from pages(rows)
            return
        # A row given twice is skipped the second time (it conflicts with itself, and
        # DO NOTHING is allowed that on both databases): so up to LARGEST_PAGE rows go as
        # one statement, padded to a power of two with the last row.
        for start in range(0, len(rows), LARGEST_PAGE):
            yield padded(rows[start : start + LARGEST_PAGE])

    def _bound_values(
        self, dialect: Dialect, rows: Sequence[Sequence[Any]], same: dict[str, Any]
    ) -> tuple[Sequence[Sequence[Any]], tuple[Any, ...]]:
        """The rows' and the shared values as the driver takes them (what each column's
        type makes of them: a timestamp becomes text on SQLite)."""
        processors = self._processors.get(dialect.name)
        if processors is None:
            processors = tuple(
                self.table.c[name].type.bind_processor(dialect) for name in self.columns
            )
            self._processors[dialect.name] = processors
        width = len(self.columns) - len(self.same)
        shared = tuple(
            value if process is None else process(value)
            for process, value in zip(
                processors[width:], (same[name] for name in self.same), strict=True
            )
        )
        per_row = processors[:width]
        if all(process is None for process in per_row):
            return rows, shared
        return [
            [v if p is None else p(v) for p, v in zip(per_row, row, strict=True)] for row in rows
        ], shared

    def _text(self, dialect: Dialect, count: int) -> str:
        key = (dialect.name, count)
        text = self._texts.get(key)
        if text is None:
            text = self._texts[key] = self._compiled(dialect, count)
        return text

    def _compiled(self, dialect: Dialect, count: int) -> str:
        names = [[f"{column}_{n}" for column in self.columns] for n in range(count)]
        statement: Any = insert_for(dialect.name)(self.table).values(
            [
                {column: bindparam(name) for column, name in zip(self.columns, row, strict=True)}
                for row in names
            ]
        )
        if self.skip_conflicts:
            statement = statement.on_conflict_do_nothing()
        if self.returning is not None:
            statement = statement.returning(self.table.c[self.returning])
        compiled = statement.compile(dialect=dialect)
        # The values go flat, row after row, each row's in `_rendered` order.
        expected = [f"{key}_{n}" for n in range(count) for key in self._rendered]
        if list(compiled.positiontup or ()) != expected:
            raise RuntimeError(f"{dialect.name}: the VALUES are not in the expected order")
        return str(compiled.string)
