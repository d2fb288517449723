"""Background loops that stop when told to, even when a library swallows the telling."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("knutepunkt.tasks")


def cancelling() -> bool:
    """True when the current task has been asked to stop. A database driver interrupted
    mid-query may turn the CancelledError into its own error; a loop that catches that
    error must check this and stop rather than retry."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def stop_tasks(tasks: list[asyncio.Task[None]], rounds: int = 5) -> None:
    """Cancel and wait; cancel again whatever is still running."""
    pending = {t for t in tasks if not t.done()}
    for _ in range(rounds):
        if not pending:
            return
        for t in pending:
            t.cancel()
        _done, pending = await asyncio.wait(pending, timeout=2)
    for t in pending:
        log.error("background task %s did not stop", t.get_name())
