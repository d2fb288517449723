"""Finding dead letters by the id an operator has at hand, and showing them. The changes
themselves (replay, purge) are the backbone's (shared.messaging.dlq)."""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from knutepunkt.ops.output import oslo_time
from knutepunkt.ops.target import Target
from shared.events import PRODUCERS, Envelope, dlq_stream
from shared.messaging.dlq import DeadLetter, get_dead_letter, list_dead_letters
from shared.observability import scrub

ENTRY_ID_CHARS = set("0123456789-")


def streams_or_all(stream: str | None) -> list[str]:
    if stream is None:
        return list(PRODUCERS)
    if stream not in PRODUCERS:
        raise ValueError(f"unknown stream {stream!r}; one of {', '.join(PRODUCERS)}")
    return [stream]


async def find(redis: Redis, target: Target, ident: str, stream: str | None) -> DeadLetter | None:
    """By the dead-letter entry id (exact and cheap), else by the original entry id or the
    event id."""
    streams = streams_or_all(stream)
    if set(ident) <= ENTRY_ID_CHARS and ident.count("-") == 1:
        for s in streams:
            found = await get_dead_letter(redis, dlq_stream(target.names(s)), ident)
            if found:
                return found
    for letter in await list_dead_letters(redis, target.names, streams):
        if ident in (letter.entry_id, event_id(letter)):
            return letter
    return None


def envelope_of(letter: DeadLetter) -> Envelope | None:
    if letter.payload is None:
        return None
    try:
        return Envelope.model_validate_json(letter.payload)
    except ValueError:
        return None


def event_id(letter: DeadLetter) -> str | None:
    envelope = envelope_of(letter)
    return envelope.id if envelope else None


def summary(letter: DeadLetter) -> dict[str, Any]:
    envelope = envelope_of(letter)
    return {
        "id": letter.id,
        "stream": letter.stream,
        "group": letter.group,
        "entry_id": letter.entry_id,
        "event_id": envelope.id if envelope else None,
        "type": envelope.type if envelope else None,
        "error": scrub(letter.error),
        "deliveries": letter.deliveries,
        "at": letter.at,
    }


def detail(letter: DeadLetter, show_personal_data: bool) -> dict[str, Any]:
    out = summary(letter)
    if show_personal_data:
        out["error"] = letter.error
    envelope = envelope_of(letter)
    if envelope is not None:
        event: Any = json.loads(envelope.to_json())
    else:
        event = letter.fields  # not an envelope: show what there is
    out["event"] = event if show_personal_data else scrubbed(event)
    return out


def scrubbed(value: Any) -> Any:
    """Phone numbers and email addresses replaced, at any depth."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrubbed(v) for v in value]
    return value


def when(letter: DeadLetter) -> str:
    return oslo_time(letter.at) if letter.at else "-"
