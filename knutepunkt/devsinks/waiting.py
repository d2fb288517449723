"""Waiting for something a sink received: poll the condition until a deadline.

On timeout the error says what did arrive, which is what a failing test needs to show.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar, overload

T = TypeVar("T")

POLL_INTERVAL = 0.01


async def wait_for_count(
    snapshot: Callable[[], Sequence[T]], count: int, within: float, what: str
) -> list[T]:
    """Return the received items once there are at least `count` of them."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        items = list(snapshot())
        if len(items) >= count:
            return items
        if loop.time() >= deadline:
            raise TimeoutError(f"expected {count} {what} within {within}s, got {len(items)}")
        await asyncio.sleep(POLL_INTERVAL)


async def wait_for_match(
    snapshot: Callable[[], Sequence[T]],
    predicate: Callable[[T], bool],
    within: float,
    what: str,
) -> T:
    """Return the first received item the predicate accepts."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        items = list(snapshot())
        for item in items:
            if predicate(item):
                return item
        if loop.time() >= deadline:
            raise TimeoutError(
                f"no matching {what} within {within}s ({len(items)} received, none matched)"
            )
        await asyncio.sleep(POLL_INTERVAL)


class Received(Generic[T]):
    """`wait_for` for a sink that keeps what it received in `messages`."""

    # (plural, singular) for the timeout message, e.g. ("emails", "email").
    nouns: tuple[str, str] = ("messages", "message")

    @property
    def messages(self) -> list[T]:
        raise NotImplementedError

    @overload
    async def wait_for(self, condition: int, timeout: float = ...) -> list[T]: ...

    @overload
    async def wait_for(self, condition: Callable[[T], bool], timeout: float = ...) -> T: ...

    async def wait_for(
        self, condition: int | Callable[[T], bool], timeout: float = 5.0
    ) -> list[T] | T:
        """A count waits for that many and returns them all; a predicate waits for the
        first one it accepts and returns that one. TimeoutError after timeout."""
        if isinstance(condition, int):
            return await wait_for_count(lambda: self.messages, condition, timeout, self.nouns[0])
        return await wait_for_match(lambda: self.messages, condition, timeout, self.nouns[1])
