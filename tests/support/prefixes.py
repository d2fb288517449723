"""A run's Redis keys under a prefix of its own (streams, groups, the access log's key),
deleted when it is done: tests and benches share the machine's Redis."""

from __future__ import annotations

from redis.asyncio import Redis


async def delete_prefixed(redis_url: str, prefix: str) -> None:
    client = Redis.from_url(redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
