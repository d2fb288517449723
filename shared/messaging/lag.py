"""How far a consumer group is behind its stream: entries not yet read (lag), read but not
acknowledged (pending), and the age of the oldest entry it has not consumed, on Redis's
clock (entry ids start with Redis's milliseconds)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from shared.messaging.redis import as_str


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


async def group_lag(redis: Redis, stream: str, info: dict[Any, Any], now_ms: int) -> GroupLag:
    """`info` is the group's entry of XINFO GROUPS."""
    name = as_str(info["name"])
    pending = int(info.get("pending") or 0)
    lag = info.get("lag")
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
        lag=None if lag is None else int(lag),
        pending=pending,
        consumers=int(info.get("consumers") or 0),
        oldest_unconsumed_age_seconds=oldest or 0.0,
        oldest_pending_age_seconds=oldest_pending,
    )
