"""Retention's common parts: the mark an anonymised row carries, and the timer loop each
service runs (docs/privacy.md, "Retention").

A row past its retention keeps what statistics need (its resource, item or dish, its times,
its status and kind) and loses what names a person. The name column is set to ANONYMISED:
that is both what a reader sees and the claim. The loop also trims the access log
(ACCESS_LOG_RETENTION_DAYS). Each service anonymises with UPDATEs
conditioned on the name not being ANONYMISED yet, so of two replicas that reach the same
row one changes it (PostgreSQL re-checks the condition on the row it waited for; SQLite's
BEGIN IMMEDIATE runs the two one after the other) and the other counts nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from redis.exceptions import RedisError

from shared import access_log
from shared.service import Runtime
from shared.unit_of_work import UnitOfWork

ANONYMISED = "(anonymisert)"

log = logging.getLogger("knutepunkt.retention")


def days(value: float) -> timedelta:
    return timedelta(days=value)


async def in_batches(
    runtime: Runtime, batch: int, anonymise: Callable[[UnitOfWork[Any]], Awaitable[int]]
) -> int:
    """Run `anonymise` (at most `batch` records) a transaction at a time until a run finds
    fewer than a batch: nothing more is due now, or another replica has it. How many this
    replica anonymised."""
    total = 0
    while True:
        done = await runtime.uow.run(anonymise)
        total += done
        if done < batch:
            return total


async def retention_loop(
    runtime: Runtime,
    poll_seconds: float,
    run_once: Callable[[Runtime], Awaitable[int]],
) -> None:
    """Anonymise what is due every `poll_seconds`; waits first, as the other timers do, so
    that a replica that just started does not race the running ones for nothing."""
    while True:
        await asyncio.sleep(poll_seconds)
        done = await run_once(runtime)
        if done:
            log.info("%s: anonymised %d records past their retention", runtime.spec.name, done)
        try:
            await access_log.trim(
                runtime.redis, runtime.names, runtime.settings.access_log_retention_days
            )
        except (RedisError, OSError) as exc:
            log.warning("access log not trimmed: %s", type(exc).__name__)
