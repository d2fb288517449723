"""What is on a Redis stream, read back by the tests, oldest first."""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from shared.events import WIRE_FIELD, Envelope, decode_entry


async def stream_entries(redis: Redis, stream: str) -> list[dict[str, Any]]:
    """Every envelope on the stream as plain JSON."""
    entries = await redis.xrange(stream)
    return [json.loads(fields[WIRE_FIELD.encode()]) for _id, fields in entries]


async def stream_events(redis: Redis, stream: str) -> list[Envelope]:
    """Every envelope on the stream, decoded (and checked) as a consumer would."""
    entries = await redis.xrange(stream)
    return [decode_entry(fields, 1 << 20) for _id, fields in entries]
