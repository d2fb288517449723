"""Streams are trimmed by age, never below what a consumer group still needs."""

from __future__ import annotations

from redis.asyncio import Redis

from shared.messaging.redis import ensure_group
from shared.messaging.retention import trim_stream


async def test_trim_keeps_what_a_group_has_not_read_or_acked(prefix: str, redis: Redis) -> None:
    stream = prefix + "booking.events"
    await ensure_group(redis, stream, "slow")
    await ensure_group(redis, stream, "fast")
    ids = [await redis.xadd(stream, {"n": str(n)}) for n in range(10)]
    # `fast` read and acked everything; `slow` read six and acked the first three.
    fast = await redis.xreadgroup("fast", "f", {stream: ">"}, count=100)
    await redis.xack(stream, "fast", *[i for i, _ in fast[0][1]])
    slow = await redis.xreadgroup("slow", "s", {stream: ">"}, count=6)
    await redis.xack(stream, "slow", *[i for i, _ in slow[0][1][:3]])

    await trim_stream(redis, stream, retention_seconds=0)
    remaining = [i for i, _ in await redis.xrange(stream)]
    assert remaining == ids[3:]  # the oldest pending entry of `slow` stays, and all after

    await redis.xack(stream, "slow", *[i for i, _ in slow[0][1][3:]])
    await trim_stream(redis, stream, retention_seconds=0)
    remaining = [i for i, _ in await redis.xrange(stream)]
    assert remaining == ids[5:]  # `slow` has not read past its sixth entry


async def test_trim_respects_the_retention_age(prefix: str, redis: Redis) -> None:
    stream = prefix + "loans.events"
    await ensure_group(redis, stream, "notify")
    for n in range(5):
        await redis.xadd(stream, {"n": str(n)})
    read = await redis.xreadgroup("notify", "c", {stream: ">"}, count=100)
    await redis.xack(stream, "notify", *[i for i, _ in read[0][1]])
    assert await trim_stream(redis, stream, retention_seconds=3600) == 0
    assert await redis.xlen(stream) == 5


async def test_trim_of_a_missing_stream_is_harmless(prefix: str, redis: Redis) -> None:
    assert await trim_stream(redis, prefix + "nothing", retention_seconds=0) == 0
