"""The failure path: retry with backoff, then the dead-letter stream.

An entry whose handler raised stays pending to us and is tried again after a doubling,
jittered backoff (claimed again with XCLAIM, which counts a delivery: see reclaim.py). At
`max_deliveries` it goes to `<stream>.dlq` with the error (shared.messaging.dead_letters
writes the record), acked in the same MULTI. An entry that cannot be parsed goes there at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from shared.backoff import delay, jittered
from shared.events import dlq_stream
from shared.messaging import dead_letters
from shared.messaging.consumer.member import Member
from shared.messaging.redis import Fields, as_entries, as_str
from shared.observability import Metrics
from shared.tasks import cancelling

log = logging.getLogger("knutepunkt.consumer")


@dataclass
class Retry:
    stream: str
    due: float  # time.monotonic()


@dataclass
class Failures:
    """Our own failed entries waiting for their retry, and the dead letters."""

    member: Member
    metrics: Metrics
    max_deliveries: int
    backoff_ms: int
    backoff_max_ms: int
    _retries: dict[bytes, Retry] = field(default_factory=dict, init=False)

    # --- the retry schedule

    def soonest(self) -> float | None:
        """When the next retry is due (time.monotonic()), if any is waiting."""
        return min((r.due for r in self._retries.values()), default=None)

    def any_due(self, now: float) -> bool:
        return any(r.due <= now for r in self._retries.values())

    def due(self, now: float) -> dict[str, list[bytes]]:
        """The entries whose backoff has passed, by stream (still scheduled: `forget` them
        once claimed)."""
        out: dict[str, list[bytes]] = {}
        for entry_id, retry in self._retries.items():
            if retry.due <= now:
                out.setdefault(retry.stream, []).append(entry_id)
        return out

    def forget(self, entry_id: bytes) -> None:
        self._retries.pop(entry_id, None)

    def clear(self) -> None:
        self._retries.clear()

    # --- a handler failed

    async def failed(self, stream: str, entry_id: bytes, exc: Exception) -> None:
        if cancelling():
            # Interrupted, not failed: the entry stays pending and is not counted.
            raise asyncio.CancelledError() from exc
        base = self.member.names.base(stream)
        error = f"{type(exc).__name__}: {exc}"
        deliveries = await self._deliveries(stream, entry_id)
        log.warning(
            "handler failed (delivery %s of %s) on %s %s: %s",
            deliveries,
            self.max_deliveries,
            base,
            as_str(entry_id),
            type(exc).__name__,
        )
        if deliveries >= self.max_deliveries:
            entries = as_entries(await self.member.redis.xrange(stream, entry_id, entry_id))
            fields = entries[0][1] if entries else {}
            await self.dead_letter(stream, entry_id, fields, error, deliveries=deliveries)
            return
        self.metrics.events_retried.labels(base).inc()
        wait_ms = delay(deliveries, self.backoff_ms, self.backoff_max_ms)
        self._retries[entry_id] = Retry(stream, time.monotonic() + jittered(wait_ms / 1000, 0.2))

    async def _deliveries(self, stream: str, entry_id: bytes) -> int:
        info = await self.member.redis.xpending_range(
            stream, self.member.group, entry_id, entry_id, 1
        )
        return int(info[0]["times_delivered"]) if info else 1

    # --- given up

    async def dead_letter(
        self, stream: str, entry_id: bytes, fields: Fields, error: str, *, deliveries: int
    ) -> None:
        base = self.member.names.base(stream)
        letter = dead_letters.record(
            fields,
            stream=base,
            entry_id=entry_id,
            group=self.member.group,
            consumer=self.member.consumer,
            error=error,
            deliveries=deliveries,
        )
        # The dead letter and the ack go together, or neither does.
        pipe = self.member.redis.pipeline(transaction=True)
        pipe.xadd(dlq_stream(stream), letter)
        pipe.xack(stream, self.member.group, entry_id)
        await pipe.execute()
        self.forget(entry_id)
        self.metrics.events_dead_lettered.labels(base).inc()
        log.error("dead-lettered %s %s: %s", base, as_str(entry_id), error.splitlines()[0][:300])
