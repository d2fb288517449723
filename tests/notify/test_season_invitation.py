"""The .ics of a season's granted slots: one entry per booked date at the Oslo wall time,
the skipped dates left out."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.notify.rendering import booking_invitation
from tests.notify.samples import WHEN, sample


def test_a_granted_season_becomes_one_entry_per_booked_date() -> None:
    slot = {
        "weekday": "thu",
        "start_time": "18:00",
        "end_time": "19:00",
        "allocation_id": "a1",
        "series_id": "s1",
        "occurrences": 4,
        # Thursdays 18 March to 15 April 2027, over the DST change (28 March).
        "first": datetime(2027, 3, 18, 17, 0, tzinfo=UTC),
        "last": datetime(2027, 4, 15, 16, 0, tzinfo=UTC),
        "skipped": [{"date": date(2027, 3, 25), "reason": "Skjærtorsdag"}],
    }
    data = sample("AllocationGranted", slots=[slot], activity="Basistrening")
    ics = booking_invitation(data, "publish", "Knutepunkt Strømsø", WHEN).decode()
    assert ics.count("BEGIN:VEVENT") == 4
    starts = sorted(line for line in ics.splitlines() if line.startswith("DTSTART"))
    assert starts == [
        "DTSTART:20270318T170000Z",
        "DTSTART:20270401T160000Z",
        "DTSTART:20270408T160000Z",
        "DTSTART:20270415T160000Z",
    ]
    assert "UID:allocation-a1-2027-04-01@knutepunkt" in ics
    assert "SUMMARY:Basistrening" in ics
