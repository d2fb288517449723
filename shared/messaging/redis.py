"""Redis connections and stream names."""

from __future__ import annotations

import contextlib
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from shared.events import CONSUMERS


def connect(url: str) -> Redis:
    # Short timeouts: when Redis is down, or came back at another address (a restarted
    # container), requests and health checks must not hang on a dead connection. The read
    # timeout stays above the longest BLOCK a consumer asks for (2 s).
    return Redis.from_url(
        url,
        socket_connect_timeout=2,
        socket_timeout=5,
        socket_keepalive=True,
        health_check_interval=10,
    )


async def reset_connections(redis: Redis) -> None:
    """Drop every pooled connection after an error, so the next command dials afresh
    instead of waiting on a socket whose peer is gone."""
    with contextlib.suppress(Exception):
        await redis.connection_pool.disconnect()


class StreamNames:
    """Stream names with an optional prefix, so tests and several hubs can share a Redis."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    def __call__(self, stream: str) -> str:
        return f"{self.prefix}{stream}"

    def base(self, name: str) -> str:
        return name[len(self.prefix) :] if self.prefix and name.startswith(self.prefix) else name


async def ensure_group(redis: Redis, stream: str, group: str) -> None:
    """Create the group at the start of the stream (not at `$`, which skips the backlog)."""
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def ensure_consumer_groups(redis: Redis, names: StreamNames, stream: str) -> None:
    """All the groups the catalog says consume `stream`."""
    for group in CONSUMERS.get(stream, ()):
        await ensure_group(redis, names(stream), group)


def as_str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# A stream entry as our connections read it (they never decode: ids and fields are bytes).
Fields = dict[bytes, bytes]
Entry = tuple[bytes, Fields]


def as_entries(reply: object) -> list[Entry]:
    """A stream reply (XRANGE, XCLAIM, XAUTOCLAIM's entries) as entries. redis-py types these
    replies for every decoding mode at once; ours does not decode, so they are bytes."""
    return cast("list[Entry]", reply or [])
