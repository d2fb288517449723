"""Who reads: one consumer of one group, on one Redis, with the hub's stream names."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from shared.messaging.redis import StreamNames


@dataclass
class Member:
    redis: Redis
    names: StreamNames
    group: str
    consumer: str
