"""Waiting for something a sink received: poll the condition until a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

POLL_INTERVAL = 0.01


async def wait_for_count(
    snapshot: Callable[[], Sequence[T]], count: int, timeout: float, what: str
) -> list[T]:
    """Return the received items once there are at least `count` of them."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        items = list(snapshot())
        if len(items) >= count:
            return items
        if loop.time() >= deadline:
            raise TimeoutError(f"expected {count} {what} within {timeout}s, got {len(items)}")
        await asyncio.sleep(POLL_INTERVAL)


async def wait_for_match(
    snapshot: Callable[[], Sequence[T]],
    predicate: Callable[[T], bool],
    timeout: float,
    what: str,
) -> T:
    """Return the first received item the predicate accepts."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        items = list(snapshot())
        for item in items:
            if predicate(item):
                return item
        if loop.time() >= deadline:
            raise TimeoutError(
                f"no matching {what} within {timeout}s ({len(items)} received, none matched)"
            )
        await asyncio.sleep(POLL_INTERVAL)
