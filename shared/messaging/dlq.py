"""Dead letters: list, show, replay and purge (the ops CLI fronts these). The record's
format is shared.messaging.dead_letters'."""

from __future__ import annotations

from redis.asyncio import Redis

from shared.events import REPLAY_GROUP_FIELD, dlq_stream
from shared.messaging import dead_letters
from shared.messaging.dead_letters import DeadLetter, RecordFields
from shared.messaging.redis import StreamNames, as_entries, as_str

__all__ = ["DeadLetter", "get_dead_letter", "list_dead_letters", "purge", "replay"]


async def list_dead_letters(
    redis: Redis, names: StreamNames, streams: list[str], count: int = 1000
) -> list[DeadLetter]:
    out: list[DeadLetter] = []
    for stream in streams:
        dlq = dlq_stream(names(stream))
        for entry_id, raw in as_entries(await redis.xrange(dlq, count=count)):
            out.append(dead_letters.read(dlq, entry_id, raw))
    return out


async def get_dead_letter(redis: Redis, dlq: str, entry_id: str) -> DeadLetter | None:
    found = as_entries(await redis.xrange(dlq, entry_id, entry_id))
    return dead_letters.read(dlq, found[0][0], found[0][1]) if found else None


async def replay(redis: Redis, names: StreamNames, letter: DeadLetter) -> str:
    """Put the original entry back on its stream for its group only, and remove the dead
    letter in the same MULTI: both happen or neither. Other groups skip the replay."""
    fields: RecordFields = dict(letter.raw.items())
    fields[REPLAY_GROUP_FIELD] = letter.group
    pipe = redis.pipeline(transaction=True)
    pipe.xadd(names(letter.stream), fields)
    pipe.xdel(letter.dlq, letter.id)
    new_id, _deleted = await pipe.execute()
    return as_str(new_id)


async def purge(redis: Redis, letter: DeadLetter) -> bool:
    return bool(await redis.xdel(letter.dlq, letter.id))
