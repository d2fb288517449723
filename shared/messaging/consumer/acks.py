"""Acks owed: collected while a batch is handled, sent with the next read (one round trip)."""

from __future__ import annotations

from redis.asyncio.client import Pipeline

from shared.messaging.consumer.member import Member


class Acks:
    def __init__(self, member: Member) -> None:
        self.member = member
        self._ids: dict[str, list[bytes]] = {}

    def add(self, stream: str, entry_id: bytes) -> None:
        self._ids.setdefault(stream, []).append(entry_id)

    def __bool__(self) -> bool:
        return any(self._ids.values())

    def queue(self, pipe: Pipeline) -> None:
        for stream, ids in self._ids.items():
            if ids:
                pipe.xack(stream, self.member.group, *ids)

    def clear(self) -> None:
        self._ids.clear()
