"""Child processes that live and die with the launcher.

Each child runs in its own process group (so a Ctrl-C at the terminal reaches only the
launcher, which then stops them in order) and, on Linux, is killed by the kernel if the
launcher dies without cleaning up. Their output is read line by line and handed to a
callback; an exit is noticed at once and never hidden by a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

T = TypeVar("T")
LineHandler = Callable[[str], None]

_PR_SET_PDEATHSIG = 1
_LINE_LIMIT = 1024 * 1024


class ChildExited(Exception):
    def __init__(self, child: Child) -> None:
        super().__init__(f"{child.name} exited with code {child.returncode}")
        self.child = child


class StopRequested(Exception):
    """Ctrl-C or SIGTERM reached the launcher."""


def die_with_parent(sig: int = signal.SIGKILL) -> Callable[[], None] | None:
    """A preexec_fn making the kernel send the child `sig` when its parent dies, even by
    SIGKILL. The kernel sends it when the thread that started the child ends, so start
    children from threads that outlive them. prctl exists only on Linux; elsewhere the
    clean stop path is all there is."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before fork: keep the child's work tiny
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, sig)
        # The parent may have died between fork and prctl; then no signal would come.
        if os.getppid() != parent:
            os._exit(1)

    return preexec


class Child:
    def __init__(self, name: str, process: asyncio.subprocess.Process, tier: int) -> None:
        self.name = name
        self.process = process
        self.tier = tier
        self._pumps: list[asyncio.Task[None]] = []
        self.exited: asyncio.Task[int] = asyncio.create_task(self._wait(), name=f"wait-{name}")

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    async def _wait(self) -> int:
        code = await self.process.wait()
        # Let the last lines (often the reason it died) reach the console first.
        await asyncio.gather(*self._pumps, return_exceptions=True)
        return code

    def pump(self, stream: asyncio.StreamReader | None, on_line: LineHandler) -> None:
        if stream is not None:
            self._pumps.append(asyncio.create_task(_read_lines(stream, on_line)))

    def signal(self, signum: int) -> None:
        # The whole group: a child's own children go too.
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signum)


async def _read_lines(stream: asyncio.StreamReader, on_line: LineHandler) -> None:
    while True:
        try:
            raw = await stream.readline()
        except ValueError:  # a line longer than the limit: show what we have of it
            raw = await stream.read(_LINE_LIMIT)
        if not raw:
            return
        on_line(raw.decode("utf-8", errors="replace").rstrip("\r\n"))


class Supervisor:
    def __init__(self) -> None:
        self.children: list[Child] = []
        self.stopping = False
        self._any_exit = asyncio.Event()

    async def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        on_stdout: LineHandler,
        on_stderr: LineHandler | None = None,
        tier: int = 0,
    ) -> Child:
        """Start a child. Higher tiers are stopped first (services before their Redis)."""
        process = await asyncio.create_subprocess_exec(
            *argv,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            preexec_fn=die_with_parent(),
            limit=_LINE_LIMIT,
        )
        child = Child(name, process, tier)
        child.exited.add_done_callback(lambda _: self._any_exit.set())
        child.pump(process.stdout, on_stdout)
        child.pump(process.stderr, on_stderr or on_stdout)
        self.children.append(child)
        return child

    async def guard(self, work: Awaitable[T], stop: asyncio.Event) -> T:
        """Await `work`, unless a child exits first (ChildExited) or a stop is requested
        (StopRequested)."""
        task = asyncio.ensure_future(work)
        # Children started while `work` runs are watched too: any exit sets this event.
        watchers = [asyncio.create_task(stop.wait()), asyncio.create_task(self._any_exit.wait())]
        try:
            await asyncio.wait([task, *watchers], return_when=asyncio.FIRST_COMPLETED)
            for child in self.children:
                if child.exited.done():
                    raise ChildExited(child)
            if stop.is_set():
                raise StopRequested
            return task.result()
        finally:
            for pending in (task, *watchers):
                pending.cancel()
            await asyncio.gather(task, *watchers, return_exceptions=True)

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM each tier (highest first), wait up to `timeout` per tier, then SIGKILL."""
        self.stopping = True
        for tier in sorted({c.tier for c in self.children}, reverse=True):
            group = [c for c in self.children if c.tier == tier]
            for child in group:
                child.signal(signal.SIGTERM)
            _, late = await asyncio.wait([c.exited for c in group], timeout=timeout)
            for child in group:
                if child.exited in late:
                    child.signal(signal.SIGKILL)
            if late:
                await asyncio.wait(late, timeout=5)
        # The group may outlive its leader (a grandchild); make sure nothing is left.
        for child in self.children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)
