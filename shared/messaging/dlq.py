"""Dead letters: list, show, replay and purge (the ops CLI fronts these)."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from shared.events import REPLAY_GROUP_FIELD, WIRE_FIELD, dlq_stream
from shared.messaging.redis import StreamNames, as_str

_META = (
    "dlq_stream",
    "dlq_entry_id",
    "dlq_group",
    "dlq_consumer",
    "dlq_error",
    "dlq_deliveries",
    "dlq_at",
)


@dataclass(frozen=True)
class DeadLetter:
    dlq: str  # the dead-letter stream's full name
    id: str  # its entry id there
    stream: str  # the original stream (without prefix)
    entry_id: str
    group: str
    error: str
    deliveries: int
    at: str
    payload: str | None  # the original `__data__`, when there was one
    fields: dict[str, str]  # the original entry's own fields, readable
    raw: dict[bytes, bytes]  # the same, byte for byte, for replay


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _decode(dlq: str, entry_id: bytes | str, raw: dict[bytes, bytes]) -> DeadLetter:
    fields = {_text(k): _text(v) for k, v in raw.items()}
    original = {k: v for k, v in fields.items() if k not in _META}
    original_raw = {k: v for k, v in raw.items() if _text(k) not in _META}
    return DeadLetter(
        dlq=dlq,
        id=as_str(entry_id),
        stream=fields.get("dlq_stream", ""),
        entry_id=fields.get("dlq_entry_id", ""),
        group=fields.get("dlq_group", ""),
        error=fields.get("dlq_error", ""),
        deliveries=int(fields.get("dlq_deliveries", "0") or 0),
        at=fields.get("dlq_at", ""),
        payload=original.get(WIRE_FIELD),
        fields=original,
        raw=original_raw,
    )


async def list_dead_letters(
    redis: Redis, names: StreamNames, streams: list[str], count: int = 1000
) -> list[DeadLetter]:
    out: list[DeadLetter] = []
    for stream in streams:
        dlq = dlq_stream(names(stream))
        for entry_id, raw in await redis.xrange(dlq, count=count):
            out.append(_decode(dlq, entry_id, raw))
    return out


async def get_dead_letter(redis: Redis, dlq: str, entry_id: str) -> DeadLetter | None:
    found = await redis.xrange(dlq, entry_id, entry_id)
    return _decode(dlq, found[0][0], found[0][1]) if found else None


async def replay(redis: Redis, names: StreamNames, letter: DeadLetter) -> str:
    """Put the original entry back on its stream for its group only, and remove the dead
    letter in the same MULTI: both happen or neither. Other groups skip the replay."""
    fields: dict[bytes | str, bytes | str] = dict(letter.raw)
    fields[REPLAY_GROUP_FIELD] = letter.group
    pipe = redis.pipeline(transaction=True)
    pipe.xadd(names(letter.stream), fields)
    pipe.xdel(letter.dlq, letter.id)
    new_id, _deleted = await pipe.execute()
    return as_str(new_id)


async def purge(redis: Redis, letter: DeadLetter) -> bool:
    return bool(await redis.xdel(letter.dlq, letter.id))
