"""Live updates: follow the four streams by XREAD (never a consumer group: the web front
consumes nothing, it only watches) and fan each new entry out to the open Server-Sent
Events connections as a topic and an event type, never the event's data (it holds
personal data). Pages then fetch themselves again. Also keeps the count of requests waiting
for approval, cached until a booking event says it may have changed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from shared.messaging.redis import StreamNames, as_str, reset_connections

log = logging.getLogger("knutepunkt.web.live")
TOPICS = {
    "booking.events": "bookings",
    "loans.events": "loans",
    "catering.events": "orders",
    "notify.events": "notifications",
}
HEARTBEAT_SECONDS = 15.0


class PublicCache:
    """What anyone may read and every page shows (resources, closures, activities, a
    room's free and busy times): kept a short while, and dropped at once when the streams
    say the service changed something, or when this front changed it itself. Never a
    person's own view: those always go to the service with the person's token, which
    checks it."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, ...], tuple[float, Any]] = {}
        # Counts the drops per service: an answer fetched while a drop happened may be
        # older than the change that dropped it, so it is used once and not kept.
        self._drops: dict[str, int] = {}

    async def get(
        self, key: tuple[str, ...], seconds: float, fetch: Callable[[], Awaitable[Any]]
    ) -> Any:
        found = self._values.get(key)
        now = time.monotonic()
        if found and found[0] > now:
            return found[1]
        drops = self._drops.get(key[0], 0)
        value = await fetch()
        if self._drops.get(key[0], 0) == drops:
            self._values[key] = (now + seconds, value)
        return value

    def drop(self, service: str) -> None:
        self._drops[service] = self._drops.get(service, 0) + 1
        for key in [k for k in self._values if k[0] == service]:
            del self._values[key]


class LiveHub:
    def __init__(self, redis: Redis, names: StreamNames, block_ms: int = 2000) -> None:
        self.redis = redis
        self.names = names
        self.block_ms = block_ms
        self._listeners: set[asyncio.Queue[tuple[str, str]]] = set()
        self._pending_count: int | None = None
        self.following = asyncio.Event()
        self.cache = PublicCache()

    # -- following the streams -------------------------------------------------------------

    async def follow(self) -> None:
        """Read every stream from now on; after an outage, go on from the last id seen."""
        last: dict[str, str] = {}
        delay = 0.5
        while True:
            try:
                if not last:
                    last = {self.names(s): await self._tail(self.names(s)) for s in TOPICS}
                answer: Any = await self.redis.xread(last, count=100, block=self.block_ms)  # type: ignore[arg-type]  # str ids
                self.following.set()
                delay = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("cannot read the streams: %s", type(exc).__name__)
                self.following.clear()  # what is cached may have changed meanwhile
                self.cache.drop("booking")
                await reset_connections(self.redis)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            for stream, entries in answer or []:
                name = as_str(stream)
                for entry_id, fields in entries:
                    last[name] = as_str(entry_id)
                    self.publish(TOPICS[self.names.base(name)], _event_type(fields))

    async def _tail(self, stream: str) -> str:
        newest: Any = await self.redis.xrevrange(stream, count=1)
        return as_str(newest[0][0]) if newest else "0-0"

    def publish(self, topic: str, event_type: str) -> None:
        if topic == "bookings":
            self._pending_count = None
            self.cache.drop("booking")
        for queue in list(self._listeners):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait((topic, event_type))

    # -- the open connections --------------------------------------------------------------

    async def stream(self, still_signed_in: Callable[[], Awaitable[bool]]) -> AsyncIterator[str]:
        """One browser's event stream: a retry hint, then events and heartbeats until the
        browser goes away or the session ends."""
        queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(maxsize=100)
        self._listeners.add(queue)
        try:
            yield "retry: 3000\n\n"
            while True:
                try:
                    topic, event_type = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    if not await still_signed_in():
                        yield "event: signed-out\ndata: {}\n\n"
                        return
                    yield ": still here\n\n"
                    continue
                yield f"event: {topic}\ndata: {json.dumps({'type': event_type})}\n\n"
        finally:
            self._listeners.discard(queue)

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    # -- the count in the navigation -------------------------------------------------------

    async def pending_count(self, fetch: Callable[[], Awaitable[int]]) -> int:
        """Every booking officer sees the same count: fetched once, then cached until the
        next booking event (or always fetched while the streams are not being followed)."""
        if self._pending_count is not None and self.following.is_set():
            return self._pending_count
        count = await fetch()
        self._pending_count = count
        return count


def _event_type(fields: dict[bytes | str, bytes | str]) -> str:
    for key, value in fields.items():
        if as_str(key) == "__data__":
            with contextlib.suppress(ValueError, TypeError):
                return str(json.loads(value).get("type", ""))
    return ""
