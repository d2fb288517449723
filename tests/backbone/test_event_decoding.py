"""An entry read in one pass (`decode_event`) gives what the two passes give, and leaves to
them every entry that is not valid as a whole, so that they say why."""

from __future__ import annotations

import json

import pytest

from shared.events import (
    CATALOG,
    WIRE_FIELD,
    Envelope,
    PoisonEvent,
    decode_entry,
    decode_event,
    encode_entry,
    new_event,
    parse_data,
)
from tests.notify.samples import sample

LIMIT = 65536


@pytest.mark.parametrize("event_type", sorted(CATALOG))
def test_every_catalog_type_reads_in_one_pass_as_in_two(event_type: str) -> None:
    sent = new_event(sample(event_type), correlation_id="corr-1")
    fields = {WIRE_FIELD.encode(): encode_entry(sent)[WIRE_FIELD].encode()}
    decoded = decode_event(fields, LIMIT)
    assert decoded is not None
    envelope, data = decoded
    assert isinstance(envelope, Envelope) and type(data) is CATALOG[event_type]
    assert (envelope.id, envelope.type, envelope.time, envelope.subject) == (
        sent.id,
        sent.type,
        sent.time,
        sent.subject,
    )
    assert envelope.correlationid == "corr-1"
    assert data == parse_data(decode_entry(fields, LIMIT))
    # Sent on again (a replay, a dead letter's payload), it is the same JSON.
    assert json.loads(envelope.to_json()) == json.loads(sent.to_json())


def _entry(**changes: object) -> dict[str, str]:
    wire = json.loads(new_event(sample("BookingConfirmed")).to_json())
    wire.update(changes)
    return {WIRE_FIELD: json.dumps(wire)}


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (_entry(data={"booking_id": 5}), "data invalid"),
        (_entry(schemaversion=99), "newer than this consumer's"),
        (_entry(type="NoSuchEvent"), "unknown event type"),
        (_entry(time="yesterday"), "not a valid envelope"),
        ({WIRE_FIELD: "not json"}, "not a valid envelope"),
    ],
)
def test_what_is_not_valid_as_a_whole_is_left_to_the_two_passes(
    fields: dict[str, str], reason: str
) -> None:
    assert decode_event(fields, LIMIT) is None
    with pytest.raises(PoisonEvent, match=reason):
        parse_data(decode_entry(fields, LIMIT))


def test_an_entry_without_its_field_or_too_big_is_poison_at_once() -> None:
    with pytest.raises(PoisonEvent, match="no __data__"):
        decode_event({"other": "x"}, LIMIT)
    with pytest.raises(PoisonEvent, match="over the limit"):
        decode_event(_entry(), 100)
