"""The dead-letter record: what the consumer writes is what the ops tools read back."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.events import WIRE_FIELD
from shared.messaging import dead_letters


def test_a_record_reads_back_with_its_origin_and_the_original_entry_byte_for_byte() -> None:
    original = {WIRE_FIELD.encode(): b'{"id": "e-1"}', b"extra": b"\xff\x00"}
    written = dead_letters.record(
        original,
        stream="booking.events",
        entry_id=b"17-0",
        group="notify",
        consumer="notify-host-1",
        error="RuntimeError: " + "x" * 5000,
        deliveries=5,
        at=datetime(2030, 3, 4, 10, 0, tzinfo=UTC),
    )
    # As Redis hands it back: every key and value as bytes.
    stored = {
        (k if isinstance(k, bytes) else str(k).encode()): (
            v if isinstance(v, bytes) else str(v).encode()
        )
        for k, v in written.items()
    }
    letter = dead_letters.read("test:booking.events.dlq", b"99-0", stored)
    assert (letter.dlq, letter.id) == ("test:booking.events.dlq", "99-0")
    assert (letter.stream, letter.entry_id) == ("booking.events", "17-0")
    assert (letter.group, letter.consumer, letter.deliveries) == ("notify", "notify-host-1", 5)
    assert letter.error.startswith("RuntimeError: x")
    assert len(letter.error) == dead_letters.MAX_ERROR_CHARS
    assert letter.at == "2030-03-04T10:00:00+00:00"
    assert letter.payload == '{"id": "e-1"}'
    assert letter.raw == original
    assert set(letter.fields) == {WIRE_FIELD, "extra"}
