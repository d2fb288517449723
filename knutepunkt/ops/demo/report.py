"""What the demo day left behind: the events on each stream since it began (read back from
Redis, not from the demo's own bookkeeping) and the notifications notify made of them."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from knutepunkt.ops.demo.day import Expected
from knutepunkt.ops.health import service_health
from knutepunkt.ops.target import Target
from shared.events import PRODUCERS, Envelope, PoisonEvent, decode_entry
from shared.messaging.lag import caught_up
from shared.messaging.redis import as_entries, as_str

MAX_BYTES = 1 << 20


@dataclass
class Seen:
    events: dict[str, list[Envelope]] = field(default_factory=dict)

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            s: dict(sorted(Counter(e.type for e in es).items())) for s, es in self.events.items()
        }

    def of_subjects(self, subjects: set[str]) -> list[Envelope]:
        return [e for es in self.events.values() for e in es if _about(e, subjects)]


def _about(envelope: Envelope, subjects: set[str]) -> bool:
    # Catering's order for a booking carries the booking's id in its data.
    return envelope.subject in subjects or envelope.data.get("booking_id") in subjects


async def markers(redis: Redis, target: Target) -> dict[str, str]:
    """Each stream's last entry id before the day begins."""
    out = {}
    for stream in PRODUCERS:
        last = as_entries(await redis.xrevrange(target.names(stream), count=1))
        out[stream] = as_str(last[0][0]) if last else "0-0"
    return out


async def read_since(redis: Redis, target: Target, since: dict[str, str]) -> Seen:
    seen = Seen()
    for stream, marker in since.items():
        entries = as_entries(await redis.xrange(target.names(stream), min=f"({marker}"))
        found = []
        for _, fields in entries:
            try:
                found.append(decode_entry(fields, MAX_BYTES))
            except PoisonEvent:
                continue
        seen.events[stream] = found
    return seen


def missing(seen: Seen, expected: list[Expected]) -> list[Expected]:
    have: set[tuple[str, str | None, str | None]] = set()
    for stream, events in seen.events.items():
        for e in events:
            have.add((stream, e.type, e.subject))
            # "Any event about a booking": catering's order events carry its id in data.
            have.add((stream, None, e.data.get("booking_id") or e.subject))
    return [x for x in expected if (x.stream, x.type, x.subject) not in have]


async def quiet(redis: Redis, target: Target) -> bool:
    """Every consumer group has read and acknowledged everything."""
    for stream in PRODUCERS:
        key = target.names(stream)
        if not await redis.exists(key):
            continue
        for group in await redis.xinfo_groups(key):
            if not await caught_up(redis, key, group):
                return False
    return True


async def outboxes_empty(target: Target, client: Any) -> bool:
    found = await asyncio.gather(*(service_health(client, n, u) for n, u in target.urls.items()))
    return all(not s.outbox_backlog for s in found)


async def settle(
    redis: Redis,
    target: Target,
    client: Any,
    since: dict[str, str],
    expected: list[Expected],
    timeout: float,
) -> tuple[bool, Seen]:
    """Wait (polling, with a deadline) until the expected events are on the streams, the
    outboxes are empty and every group has caught up; twice in a row, so that the events
    those groups emitted are counted too."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    calm = 0
    while True:
        seen = await read_since(redis, target, since)
        done = not missing(seen, expected) and await quiet(redis, target)
        done = done and await outboxes_empty(target, client)
        calm = calm + 1 if done else 0
        if calm >= 2:
            return True, await read_since(redis, target, since)
        if loop.time() > deadline:
            return False, seen
        await asyncio.sleep(0.25)


def notification_summary(rows: list[dict[str, Any]], event_ids: set[str]) -> dict[str, Any]:
    mine = [r for r in rows if r.get("event_id") in event_ids]
    return {
        "total": len(mine),
        "by_channel": dict(Counter(r.get("channel") for r in mine)),
        "by_status": dict(Counter(r.get("status") for r in mine)),
        "by_event_type": dict(Counter(r.get("event_type") for r in mine)),
        "items": [
            {
                k: r.get(k)
                for k in ("event_type", "channel", "recipient_kind", "recipient_role", "status")
            }
            for r in mine
        ],
    }
