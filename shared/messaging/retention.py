"""Stream retention: trim by age, never below what a consumer group still needs."""

from __future__ import annotations

import time

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from shared.messaging.redis import as_str


def _id_tuple(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


async def safe_min_id(redis: Redis, stream: str, retention_seconds: int) -> str | None:
    """The lowest entry id that may be trimmed up to, or None when nothing may go."""
    cutoff = (int(time.time() * 1000) - retention_seconds * 1000, 0)
    bound = cutoff
    try:
        groups = await redis.xinfo_groups(stream)
    except ResponseError:
        return None  # no stream yet
    for group in groups:
        name = as_str(group["name"])
        last = _id_tuple(as_str(group["last-delivered-id"]))
        bound = min(bound, last)
        if int(group.get("pending", 0)) > 0:
            summary = await redis.xpending(stream, name)
            oldest = summary.get("min")
            if oldest:
                bound = min(bound, _id_tuple(as_str(oldest)))
    if bound <= (0, 0):
        return None
    return f"{bound[0]}-{bound[1]}"


async def trim_stream(redis: Redis, stream: str, retention_seconds: int) -> int:
    min_id = await safe_min_id(redis, stream, retention_seconds)
    if min_id is None:
        return 0
    return int(await redis.xtrim(stream, minid=min_id, approximate=False))
