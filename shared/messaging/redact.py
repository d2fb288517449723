"""Erasure's reach into what was already published (docs/privacy.md, "Events and erasure").

Events keep carrying contacts (notify needs them to reach people, and the contract stays as
it is); erasing a person redacts every copy of their events that the hub holds:

- a stream entry every consumer group has read and acknowledged is deleted (XDEL): nobody
  needs it again, and retention would trim it within days anyway;
- one a group has not read yet, or holds pending, is in flight: left alone and counted, for
  the caller to run the redaction again once it is consumed (deleting it would take it from
  under a consumer; the erasure runs again until nothing is in flight);
- a dead letter is replaced by a redacted copy: the person's contact becomes
  `{"name": "(slettet)", "email": null, "phone": null}`, and the free text of an event that
  is about them (its title, reason, note) is dropped, so the copy is still a valid event of
  the same schema version and can still be replayed (it tells nobody);
- an outbox row (services' own databases) is redacted by the service with `redact_payload`.

A person is found by their email addresses and phone numbers (what an admin asks with); a
name alone identifies nobody, so it is only removed where a matching contact carries it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from shared.contacts import e164
from shared.events import WIRE_FIELD
from shared.messaging import dead_letters
from shared.messaging.redis import as_entries, as_str
from shared.observability import scrub

REDACTED_NAME = "(slettet)"
# The free-text fields of an event that are about the person the event is about (its
# booker, customer, borrower or participant): dropped with their contact. Which fields are
# personal is docs/privacy-inventory.yaml's word; these are the free-text ones of them.
FREE_TEXT = ("title", "reason", "note", "description")
OWNER_FIELDS = ("booker", "customer", "borrower", "participant")


@dataclass(frozen=True)
class Person:
    emails: frozenset[str] = frozenset()
    phones: frozenset[str] = frozenset()

    @classmethod
    def of(cls, emails: Iterable[str | None] = (), phones: Iterable[str | None] = ()) -> Person:
        return cls(
            frozenset(e.strip().lower() for e in emails if e and e.strip()),
            frozenset(p for p in (e164(raw) for raw in phones) if p),
        )

    def matches(self, contact: dict[str, Any]) -> bool:
        email = contact.get("email")
        if isinstance(email, str) and email.strip().lower() in self.emails:
            return True
        phone = contact.get("phone")
        return isinstance(phone, str) and e164(phone) in self.phones

    def __bool__(self) -> bool:
        return bool(self.emails or self.phones)


def _is_contact(value: Any) -> bool:
    return isinstance(value, dict) and "name" in value and ("email" in value or "phone" in value)


def _redacted(contact: dict[str, Any]) -> dict[str, Any]:
    return {**contact, "name": REDACTED_NAME, "email": None, "phone": None}


def redact_data(data: Any, person: Person) -> tuple[Any, list[str]]:
    """`data` (an event's data, as JSON) with every contact of `person` redacted, and the
    names those contacts carried (for scrubbing free text elsewhere)."""
    names: list[str] = []

    def walk(value: Any) -> Any:
        if _is_contact(value) and person.matches(value):
            names.append(str(value.get("name") or ""))
            return _redacted(value)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    out = walk(data)
    if isinstance(out, dict) and isinstance(data, dict):
        about_them = any(
            _is_contact(data.get(owner)) and person.matches(data[owner]) for owner in OWNER_FIELDS
        )
        if about_them:
            for key in FREE_TEXT:
                if isinstance(out.get(key), str):
                    out[key] = None
            catering = out.get("catering")
            if isinstance(catering, dict) and catering.get("note"):
                out["catering"] = {**catering, "note": None}
    return out, names


def redact_payload(payload: str, person: Person) -> str | None:
    """An envelope's JSON with `person` redacted, or None when it does not name them."""
    try:
        envelope = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("data"), dict):
        return None
    data, names = redact_data(envelope["data"], person)
    if not names:
        return None
    return json.dumps({**envelope, "data": data}, ensure_ascii=False, separators=(",", ":"))


@dataclass
class Redacted:
    stream: str
    searched: int = 0  # entries read, stream and dead letters
    deleted: int = 0  # stream entries removed
    in_flight: int = 0  # stream entries naming the person that a group still needs
    dead_letters: int = 0  # dead letters replaced by redacted copies
    in_flight_ids: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.in_flight == 0


async def redact_stream(
    redis: Redis, stream: str, dlq: str, person: Person, batch: int = 500
) -> Redacted:
    """Redact `person` from the stream `stream` (its full name) and its dead letters `dlq`."""
    result = Redacted(stream)
    if not person:
        return result
    needed = await _still_needed(redis, stream)
    async for entry_id, raw in _entries(redis, stream, batch):
        result.searched += 1
        payload = raw.get(WIRE_FIELD.encode())
        if payload is None or redact_payload(payload.decode(errors="replace"), person) is None:
            continue
        if needed(entry_id):
            result.in_flight += 1
            result.in_flight_ids.append(entry_id)
        else:
            result.deleted += int(await redis.xdel(stream, entry_id))
    async for entry_id, raw in _entries(redis, dlq, batch):
        result.searched += 1
        payload = raw.get(WIRE_FIELD.encode())
        redacted = redact_payload(payload.decode(errors="replace"), person) if payload else None
        if redacted is None:
            continue
        letter = dead_letters.read(dlq, entry_id, raw)
        names = _names(payload, person)
        fields: dead_letters.RecordFields = dict(raw.items())
        fields[WIRE_FIELD.encode()] = redacted.encode()
        fields[dead_letters.ERROR.encode()] = scrub(letter.error, names).encode()
        pipe = redis.pipeline(transaction=True)
        pipe.xadd(dlq, fields)
        pipe.xdel(dlq, entry_id)
        await pipe.execute()
        result.dead_letters += 1
    return result


def _names(payload: bytes | None, person: Person) -> list[str]:
    if payload is None:
        return []
    try:
        data = json.loads(payload).get("data")
    except (ValueError, AttributeError):
        return []
    return redact_data(data, person)[1]


async def _entries(
    redis: Redis, stream: str, batch: int
) -> AsyncIterator[tuple[str, dict[bytes, bytes]]]:
    start = "-"
    while True:
        found = as_entries(await redis.xrange(stream, start, "+", count=batch))
        for entry_id, raw in found:
            yield as_str(entry_id), raw
        if len(found) < batch:
            return
        start = "(" + as_str(found[-1][0])


def _id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


async def waiting_for(
    redis: Redis, stream: str, group: str, person: Person, batch: int = 500
) -> int:
    """How many entries of `stream` naming `person` the consumer group `group` has not yet
    handled: a consuming service's erasure is not done while one may still write about
    them."""
    if not person:
        return 0
    needed = await _still_needed(redis, stream, only=group)
    count = 0
    async for entry_id, raw in _entries(redis, stream, batch):
        payload = raw.get(WIRE_FIELD.encode())
        if payload is None or not needed(entry_id):
            continue
        if redact_payload(payload.decode(errors="replace"), person) is not None:
            count += 1
    return count


async def _still_needed(
    redis: Redis, stream: str, only: str | None = None
) -> Callable[[str], bool]:
    """Whether an entry is still needed by a consumer group (every group, or `only`): not
    yet delivered to it (after its last-delivered id), or delivered and pending (not
    acknowledged)."""
    try:
        groups = await redis.xinfo_groups(stream)
    except ResponseError:
        groups = []
    if only is not None:
        groups = [g for g in groups if as_str(g["name"]) == only]
    last_delivered: list[tuple[int, int]] = []
    pending: set[str] = set()
    for group in groups:
        name = as_str(group["name"])
        last_delivered.append(_id(as_str(group["last-delivered-id"])))
        if int(group.get("pending", 0)) > 0:
            for item in await redis.xpending_range(stream, name, "-", "+", 10_000):
                pending.add(as_str(cast("bytes | str", item["message_id"])))

    def needed(entry_id: str) -> bool:
        return entry_id in pending or any(_id(entry_id) > last for last in last_delivered)

    return needed
