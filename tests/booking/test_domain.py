"""The pure rules: organisation numbers, quotas, series dates across DST."""

from __future__ import annotations

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
