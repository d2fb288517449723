"""How a compose-test run ends, and the one place that runs commands for it."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


class Skip(Exception):
    """This machine cannot run containers at all; the run ends with a loud SKIP and exit 0."""


class StepFailed(Exception):
    """A step of the run failed; the message says which and shows the command's output tail."""


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    log: Path | None = None,
    check: bool = True,
    timeout: float | None = 900,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion, output captured (and appended to `log` when given)."""
    started = time.monotonic()
    try:
        proc = subprocess.run(
            list(argv),
            env=dict(env) if env is not None else None,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise StepFailed(f"{' '.join(argv)} did not finish within {timeout} s") from exc
    if log is not None:
        with log.open("a", encoding="utf-8") as out:
            out.write(
                f"$ {' '.join(argv)}  ({time.monotonic() - started:.1f} s, rc {proc.returncode})\n"
            )
            out.write(proc.stdout)
            out.write(proc.stderr)
    if check and proc.returncode != 0:
        raise StepFailed(
            f"{' '.join(argv)} exited {proc.returncode}\n{tail(proc.stdout + proc.stderr)}"
        )
    return proc
