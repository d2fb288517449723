"""Services as real processes, for end-to-end and failure tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

from knutepunkt.supervisor import die_with_parent
from tests.support.servers import free_port
from tests.support.waiting import wait_for_sync

ROOT = Path(__file__).resolve().parents[2]


class ServiceProcess:
    def __init__(self, service: str, env: dict[str, str], log_dir: Path) -> None:
        self.service = service
        self.port = int(env.get(f"{service.upper()}_PORT") or free_port())
        self.env = {**os.environ, **env, f"{service.upper()}_PORT": str(self.port)}
        self.env.setdefault("LOG_FORMAT", "json")
        self.log_path = log_dir / f"{service}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True, timeout: float = 30) -> ServiceProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.service}"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # A bench or test run killed outright must not leave services consuming; start
            # them from threads that outlive them (the main one, or asyncio's executor).
            preexec_fn=die_with_parent(signal.SIGTERM),
        )
        if wait:
            self.wait_ready(timeout)
        return self

    def ready_status(self) -> int | None:
        try:
            return httpx.get(f"{self.url}/health/ready", timeout=2).status_code
        except httpx.HTTPError:
            return None

    def wait_ready(self, timeout: float = 30) -> None:
        def ok() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.service} exited: {self.log_tail()}")
            return self.ready_status() == 200

        wait_for_sync(ok, timeout, interval=0.1, message=f"{self.service} ready")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@contextlib.contextmanager
def service_process(
    service: str, env: dict[str, str], log_dir: Path, wait: bool = True
) -> Iterator[ServiceProcess]:
    proc = ServiceProcess(service, env, log_dir)
    try:
        proc.start(wait=wait)
        yield proc
    finally:
        proc.stop()
