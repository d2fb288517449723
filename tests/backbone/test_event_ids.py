"""Event ids are unique and time-ordered: the outbox's and every inbox's index of them grows
at its end (docs/events.md)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from shared.events import new_event
from tests.backbone.harness import booking


def test_event_ids_are_version_7_uuids_in_the_order_events_were_made() -> None:
    before = datetime.now(UTC)
    ids = [new_event(booking(n % 10)).id for n in range(5000)]
    after = datetime.now(UTC)
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    for made in (uuid.UUID(ids[0]), uuid.UUID(ids[-1])):
        assert made.version == 7
        # The first 48 bits: the milliseconds since 1970 when the id was made.
        millis = made.int >> 80
        assert int(before.timestamp() * 1000) <= millis <= int(after.timestamp() * 1000)


def test_an_id_given_is_kept() -> None:
    assert new_event(booking(1), event_id="given-1").id == "given-1"
