"""`knutepunkt events tail`: follow the streams with plain XREAD. It never joins a consumer
group, so it cannot take an event away from a service."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis

from knutepunkt.ops.output import oslo_time
from knutepunkt.ops.target import Target
from shared.events import REPLAY_GROUP_FIELD, Envelope, PoisonEvent, decode_entry
from shared.messaging.redis import as_entries, as_str

MAX_BYTES = 1 << 20
BLOCK_MS = 500


@dataclass(frozen=True)
class TailOptions:
    streams: list[str]
    types: set[str]
    start: str  # "$" (new events only), "0" (from the start) or an entry id
    count: int | None
    timeout: float | None
    show_personal_data: bool


@dataclass(frozen=True)
class Seen:
    stream: str
    entry_id: str
    envelope: Envelope | None
    problem: str | None = None
    replay_group: str | None = None

    def line(self, show_personal_data: bool) -> str:
        if self.envelope is None:
            return f"{self.entry_id}  {self.stream:<16} unreadable entry: {self.problem}"
        e = self.envelope
        parts = [
            oslo_time(e.time),
            f"{self.stream:<16}",
            f"{e.type:<20}",
            f"subject={e.subject or '-'}",
            f"correlation={e.correlationid}",
        ]
        if self.replay_group:
            parts.append(f"replay-for={self.replay_group}")
        if show_personal_data:
            parts.append("data=" + json.dumps(e.data, ensure_ascii=False, sort_keys=True))
        return "  ".join(parts)

    def as_json(self, show_personal_data: bool) -> dict[str, object]:
        out: dict[str, object] = {"stream": self.stream, "entry_id": self.entry_id}
        if self.envelope is None:
            return {**out, "problem": self.problem}
        e = self.envelope
        out.update(
            id=e.id,
            type=e.type,
            time=e.time.isoformat(),
            subject=e.subject,
            correlation_id=e.correlationid,
            replay_group=self.replay_group,
        )
        if show_personal_data:
            out["data"] = e.data
        return out


def read_entry(stream: str, entry_id: str, fields: dict[bytes, bytes]) -> Seen:
    replay = fields.get(REPLAY_GROUP_FIELD.encode())
    group = as_str(replay) if replay is not None else None
    try:
        return Seen(stream, entry_id, decode_entry(fields, MAX_BYTES), replay_group=group)
    except PoisonEvent as exc:
        return Seen(stream, entry_id, None, str(exc), group)


async def start_ids(redis: Redis, keys: list[str], start: str) -> dict[str, str]:
    """Pin "$" to each stream's current last id before saying we follow: an event added
    after that moment is then never missed, whenever the first XREAD runs."""
    if start != "$":
        return dict.fromkeys(keys, start)
    ids = {}
    for key in keys:
        last = await redis.xrevrange(key, count=1)
        entries = as_entries(last)
        ids[key] = as_str(entries[0][0]) if entries else "0-0"
    return ids


async def follow(
    redis: Redis,
    target: Target,
    options: TailOptions,
    emit: Callable[[Seen], None],
    ready: Callable[[], None] = lambda: None,
) -> int:
    keys = [target.names(s) for s in options.streams]
    positions = await start_ids(redis, keys, options.start)
    ready()
    loop = asyncio.get_running_loop()
    deadline = None if options.timeout is None else loop.time() + options.timeout
    shown = 0
    while options.count is None or shown < options.count:
        block = BLOCK_MS
        if deadline is not None:
            left = deadline - loop.time()
            if left <= 0:
                break
            block = max(1, min(block, int(left * 1000)))
        # Our client does not decode: keys, ids and fields are bytes (redis-py types the
        # reply for every decoding mode at once).
        answer = cast(
            "list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]] | None",
            await redis.xread(positions, block=block, count=100),  # type: ignore[arg-type]  # str ids are accepted
        )
        for raw_key, entries in answer or []:
            key = as_str(raw_key)
            for raw_id, fields in entries:
                entry_id = as_str(raw_id)
                positions[key] = entry_id
                seen = read_entry(target.names.base(key), entry_id, fields)
                kind = seen.envelope.type if seen.envelope else None
                if options.types and kind not in options.types:
                    continue
                emit(seen)
                shown += 1
                if options.count is not None and shown >= options.count:
                    return shown
    return shown
