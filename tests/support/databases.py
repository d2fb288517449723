"""A fresh database per test: a SQLite file, or a new PostgreSQL database (on a server
named by a TCP URL, or by a Unix-socket one: `postgresql+asyncpg://user@/db?host=DIR&port=N`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from shared.db import Database
from tests.support.servers import POSTGRES_ENV

# tests/conftest.py puts the run's reason here when it has no PostgreSQL.
POSTGRES_SKIP_REASON = f"{POSTGRES_ENV} is not set and no embedded PostgreSQL was started"


def postgres_admin_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def sqlite_url(tmp: Path, name: str = "test") -> str:
    return f"sqlite+aiosqlite:///{tmp / (name + '.db')}"


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_postgres_database(admin_url: str) -> tuple[str, str]:
    """Returns (SQLAlchemy URL of a new empty database, its name)."""
    name = f"kp_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(_plain(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = make_url(admin_url).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False), name


async def drop_postgres_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(_plain(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def postgres_admin_url_or_skip() -> str:
    admin = postgres_admin_url()
    if not admin:
        pytest.skip(POSTGRES_SKIP_REASON)
    return admin


@contextlib.asynccontextmanager
async def fresh_databases(
    folder: Path, postgres: str | None, *names: str
) -> AsyncIterator[list[str]]:
    """A database for each of `names`, in their order: a SQLite file in `folder` named
    after it, or with `postgres` (an admin URL) a new database on that server, dropped
    afterwards. For the benches, which run on either."""
    if not postgres:
        yield [sqlite_url(folder, name) for name in names]
        return
    made: list[tuple[str, str]] = []
    try:
        for _ in names:
            made.append(await create_postgres_database(postgres))
        yield [url for url, _ in made]
    finally:
        for _, name in made:
            await drop_postgres_database(postgres, name)


@contextlib.asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A new PostgreSQL database for the block, dropped afterwards (skips without one)."""
    admin = postgres_admin_url_or_skip()
    url, name = await create_postgres_database(admin)
    try:
        yield url
    finally:
        await drop_postgres_database(admin, name)


@contextlib.contextmanager
def postgres_database_sync() -> Iterator[str]:
    """As `postgres_database`, for tests that run no event loop of their own."""
    admin = postgres_admin_url_or_skip()
    url, name = asyncio.run(create_postgres_database(admin))
    try:
        yield url
    finally:
        asyncio.run(drop_postgres_database(admin, name))


@contextlib.contextmanager
def seeing_statements(db: Database, hook: Callable[..., None]) -> Iterator[None]:
    """`hook` as every engine's `before_cursor_execute` under `db` for the block: the
    statements of its transactions and of its Core work alike."""
    for engine in db.engines:
        event.listen(engine, "before_cursor_execute", hook)
    try:
        yield
    finally:
        for engine in db.engines:
            event.remove(engine, "before_cursor_execute", hook)


@contextlib.contextmanager
def sql_texts(db: Database, parts: dict[str, str]) -> Iterator[dict[str, set[str]]]:
    """For each name in `parts`, the distinct SQL texts sent under `db` in the block that
    contain its part: how many statements the driver had to prepare for it."""
    texts: dict[str, set[str]] = {name: set() for name in parts}

    def keep(_conn: object, _cursor: object, sql: str, *_args: object) -> None:
        for name, part in parts.items():
            if part in sql:
                texts[name].add(sql)

    with seeing_statements(db, keep):
        yield texts
