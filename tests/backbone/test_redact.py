"""Erasure's reach into what was published (shared/messaging/redact.py), on a real Redis:
a person's stream entries every group has acknowledged are deleted, those a group still
needs are left and counted until consumed, their dead letters become redacted copies that are
still valid events; another person's entries and dead letters are untouched, and a replay
of their dead letter still puts it back for its group."""

from __future__ import annotations

from redis.asyncio import Redis

from shared.events import (
    REPLAY_GROUP_FIELD,
    WIRE_FIELD,
    Contact,
    EventData,
    decode_entry,
    dlq_stream,
    encode_entry,
    new_event,
    parse_data,
)
from shared.messaging import dead_letters, dlq
from shared.messaging.redact import REDACTED_NAME, Person, redact_stream, waiting_for
from shared.messaging.redis import StreamNames, as_entries, as_str, ensure_group
from tests.notify.samples import sample

KARI = Contact(name="Kari Nordmann", email="Kari@Example.org", phone="+47 000 00 010")
PER = Contact(name="Per Hansen", email="per@example.org", phone="+4700000020")
KARI_TRACES = ("kari nordmann", "kari@example.org", "+4700000010", "000 00 010", "karis")


async def add(redis: Redis, stream: str, data: EventData) -> str:
    return as_str(await redis.xadd(stream, encode_entry(new_event(data))))  # type: ignore[arg-type]


def confirmed(booker: Contact, title: str, *participants: Contact) -> EventData:
    return sample("BookingConfirmed", booker=booker, title=title, participants=list(participants))


async def texts(redis: Redis, stream: str) -> list[str]:
    return [
        b" ".join(raw.values()).decode(errors="replace").lower()
        for _id, raw in as_entries(await redis.xrange(stream))
    ]


async def dead_letter(redis: Redis, stream: str, entry_id: str, data: EventData) -> str:
    fields = {k.encode(): v.encode() for k, v in encode_entry(new_event(data)).items()}
    record = dead_letters.record(
        fields,
        stream="booking.events",
        entry_id=entry_id,
        group="notify",
        consumer="notify-1",
        error=f"KeyError: {data.model_dump().get('booker', {}).get('name')}",
        deliveries=5,
    )
    return as_str(await redis.xadd(dlq_stream(stream), record))


async def test_a_person_is_redacted_from_stream_and_dead_letters_and_others_are_not(
    redis: Redis, prefix: str
) -> None:
    names = StreamNames(prefix)
    stream = names("booking.events")
    await ensure_group(redis, stream, "notify")
    karis = await add(redis, stream, confirmed(KARI, "Karis bursdag"))
    pers = await add(redis, stream, confirmed(PER, "Sjakkturnering"))
    kari_as_participant = await add(redis, stream, confirmed(PER, "Styremøte", KARI))
    # notify has read the three, acknowledged two; the third is pending. A fourth is unread.
    await redis.xreadgroup("notify", "n-1", {stream: ">"}, count=3)
    await redis.xack(stream, "notify", karis, pers)
    unread = await add(redis, stream, confirmed(KARI, "Karis kurs"))
    await dead_letter(redis, stream, "1-0", confirmed(KARI, "Karis bursdag"))
    per_letter = await dead_letter(redis, stream, "2-0", confirmed(PER, "Sjakkturnering"))
    per_before = as_entries(await redis.xrange(dlq_stream(stream), per_letter, per_letter))

    person = Person.of(emails=["kari@example.org"], phones=["+4700000010"])
    first = await redact_stream(redis, stream, dlq_stream(stream), person)
    assert (first.searched, first.deleted, first.dead_letters) == (6, 1, 1)
    assert (first.in_flight, sorted(first.in_flight_ids)) == (
        2,
        sorted([kari_as_participant, unread]),
    )

    # Dead letters: no trace of Kari; the redacted copy is still a valid event of its version.
    letters = await dlq.list_dead_letters(redis, names, ["booking.events"])
    assert len(letters) == 2
    for text in await texts(redis, dlq_stream(stream)):
        assert not any(trace in text for trace in KARI_TRACES), text
    [redacted] = [letter for letter in letters if letter.id != per_letter]
    envelope = decode_entry({WIRE_FIELD: redacted.payload or ""}, 64 * 1024)
    data = parse_data(envelope).model_dump()
    assert data["booker"] == {
        "name": REDACTED_NAME,
        "email": None,
        "phone": None,
        "language": "nb",
    }
    assert data["title"] is None and (redacted.group, redacted.stream) == (
        "notify",
        "booking.events",
    )
    # Per's dead letter is byte for byte what it was, and a replay still delivers it.
    assert as_entries(await redis.xrange(dlq_stream(stream), per_letter, per_letter)) == per_before
    [per_dead] = [letter for letter in letters if letter.id == per_letter]
    replayed = await dlq.replay(redis, names, per_dead)
    [(_, fields)] = as_entries(await redis.xrange(stream, replayed, replayed))
    assert fields[REPLAY_GROUP_FIELD.encode()] == b"notify"
    assert b"per@example.org" in fields[WIRE_FIELD.encode()]

    # notify, a consumer, is not done with her while it has two of her events to handle.
    assert await waiting_for(redis, stream, "notify", person) == 2
    assert await waiting_for(redis, stream, "notify", Person.of(emails=["x@example.org"])) == 0

    # What notify still needed it consumes; the erasure's next run finds nothing in flight.
    await redis.xack(stream, "notify", kari_as_participant)
    await redis.xreadgroup("notify", "n-1", {stream: ">"})
    await redis.xack(stream, "notify", unread, replayed)
    second = await redact_stream(redis, stream, dlq_stream(stream), person)
    assert (second.deleted, second.in_flight, second.dead_letters) == (2, 0, 0)
    assert await waiting_for(redis, stream, "notify", person) == 0
    remaining = await texts(redis, stream)
    assert len(remaining) == 2  # Per's booking and its replay
    for text in remaining + await texts(redis, dlq_stream(stream)):
        assert not any(trace in text for trace in KARI_TRACES), text
    assert all("per@example.org" in text for text in remaining)

    # Twice is harmless.
    third = await redact_stream(redis, stream, dlq_stream(stream), person)
    assert (third.deleted, third.in_flight, third.dead_letters) == (0, 0, 0)


def test_a_participant_is_redacted_without_the_bookers_text() -> None:
    from shared.messaging.redact import redact_data

    data = confirmed(PER, "Styremøte", KARI, Contact(name="Ola", email="ola@example.org"))
    out, names = redact_data(data.model_dump(mode="json"), Person.of(phones=["00000010"]))
    assert names == ["Kari Nordmann"]
    assert out["title"] == "Styremøte" and out["booker"]["email"] == "per@example.org"
    assert [p["name"] for p in out["participants"]] == [REDACTED_NAME, "Ola"]
