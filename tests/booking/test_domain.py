"""The pure rules: organisation numbers, quotas, series dates across DST."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest

from services.booking import domain


@pytest.mark.parametrize("number", ["974760673", "974 760 673", "923609016"])
def test_valid_organisation_numbers(number: str) -> None:
    assert domain.normalise_org_number(number) == number.replace(" ", "")


@pytest.mark.parametrize("number", ["974760674", "12345678", "abcdefghi", "9747606730"])
def test_invalid_organisation_numbers(number: str) -> None:
    with pytest.raises(domain.BookingRefused):
        domain.normalise_org_number(number)


def test_weekly_series_keeps_wall_time_across_dst() -> None:
    dates = domain.weekly_dates(date(2027, 3, 23), interval_weeks=1, count=3, until=None)
    slots = domain.occurrences(dates, time(18, 0), time(20, 0))
    assert [s.start.hour for s in slots] == [17, 16, 16]  # UTC: +01:00, then +02:00
    assert all(s.end - s.start == timedelta(hours=2) for s in slots)


def test_quota_ledger_counts_per_iso_week() -> None:
    ledger = domain.QuotaLedger(limit_hours=4)
    monday = datetime(2027, 3, 1, 9, tzinfo=UTC)
    ledger.add(monday, monday + timedelta(hours=3))
    assert ledger.refusal(monday + timedelta(days=2), monday + timedelta(days=2, hours=1)) is None
    assert ledger.refusal(monday + timedelta(days=2), monday + timedelta(days=2, hours=2))
    # Sunday 23:30 in Oslo is still the same week; Monday 00:30 Oslo is the next.
    sunday_late = datetime(2027, 3, 7, 22, 30, tzinfo=UTC)
    assert ledger.refusal(sunday_late, sunday_late + timedelta(hours=2))
    next_week = datetime(2027, 3, 7, 23, 30, tzinfo=UTC)
    assert ledger.refusal(next_week, next_week + timedelta(hours=4)) is None


def test_policy_refuses_spans_that_would_escape_the_bounded_overlap_search() -> None:
    with pytest.raises(ValueError):
        domain.Policy(max_length=timedelta(days=8))
    with pytest.raises(ValueError):
        domain.Policy(buffer=timedelta(hours=25))


def test_a_requests_free_hours_count_the_clubs_other_free_bookings_of_that_oslo_week() -> None:
    def free(booking_id: str, start: str, hours: int, **changes: str) -> domain.FreeTime:
        begins = datetime.fromisoformat(start)
        made = domain.FreeTime(
            booking_id, "974760673", "gymsalen", begins, begins + timedelta(hours=hours)
        )
        return replace(made, **changes)

    asked = free("asked", "2026-12-09T17:00:00+00:00", 2)  # a Wednesday
    held = [
        asked,  # the request is itself an active booking: counted once, as with_this
        free("same-week", "2026-12-07T17:00:00+00:00", 3),
        free("sunday-night", "2026-12-13T22:00:00+00:00", 1),  # Sunday 23:00 in Oslo
        free("next-monday", "2026-12-13T23:30:00+00:00", 1),  # Monday 00:30 in Oslo
        free("other-club", "2026-12-10T17:00:00+00:00", 2, org_number="974760681"),
        free("other-room", "2026-12-10T10:00:00+00:00", 2, resource_id="moterom-1"),
    ]
    limits = {"gymsalen": 6.0, "moterom-1": None}
    found = domain.weekly_free_hours([asked], held, limits)
    assert found == {"asked": domain.FreeHours(6.0, 4.0, 6.0, over=False)}  # exactly the limit
    one_more = [*held, free("one-more", "2026-12-11T17:00:00+00:00", 1)]
    assert domain.weekly_free_hours([asked], one_more, limits)["asked"].over is True
    in_room = free("in-room", "2026-12-10T12:00:00+00:00", 1, resource_id="moterom-1")
    assert domain.weekly_free_hours([in_room], held, limits) == {}  # no limit there
