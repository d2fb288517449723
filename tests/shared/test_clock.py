"""The demo clock's rules, one at a time (the processes that run on it: tests/ops)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from shared.calendar import utcnow
from shared.clock import DemoClockRefused, clock_from_settings, parse_at
from shared.settings import Settings, load_settings

NOW = datetime(2026, 11, 2, 21, 5, tzinfo=UTC)
SQLITE = "sqlite+aiosqlite:///var/loans.db"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Oslo wall time: UTC+1 in winter, UTC+2 in summer.
        ("2027-03-15T10:30", datetime(2027, 3, 15, 9, 30, tzinfo=UTC)),
        ("2027-06-15 10:30", datetime(2027, 6, 15, 8, 30, tzinfo=UTC)),
        # The hour skipped on the last Sunday of March is clamped to the jump.
        ("2027-03-28T02:30", datetime(2027, 3, 28, 1, 0, tzinfo=UTC)),
        ("2027-03-15T09:30Z", datetime(2027, 3, 15, 9, 30, tzinfo=UTC)),
        ("2027-03-15T10:30+01:00", datetime(2027, 3, 15, 9, 30, tzinfo=UTC)),
        ("+2h", NOW + timedelta(hours=2)),
        ("-1d", NOW - timedelta(days=1)),
        ("+1d3h30m", NOW + timedelta(days=1, hours=3, minutes=30)),
    ],
)
def test_at_reads_local_times_instants_and_offsets(text: str, expected: datetime) -> None:
    found = parse_at(text, NOW)
    assert found == expected and found.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["", "+", "tomorrow", "10:30", "+2x", "2027-13-01T10:00"])
def test_at_refuses_what_it_cannot_read_and_names_the_forms(text: str) -> None:
    with pytest.raises(ValueError, match="an offset from now"):
        parse_at(text, NOW)


def _settings(**values: object) -> Settings:
    return load_settings("loans", database_url=SQLITE, **values)


def test_without_a_demo_clock_the_service_runs_on_the_real_one() -> None:
    assert clock_from_settings(_settings()) is utcnow
    assert clock_from_settings(_settings(knutepunkt_embedded=True)) is utcnow


def test_the_demo_clock_starts_at_the_instant_and_runs_on() -> None:
    at = datetime(2027, 3, 15, 9, 30, tzinfo=UTC)
    real = [NOW]
    clock = clock_from_settings(
        _settings(knutepunkt_embedded=True, demo_clock_at=at, demo_clock_since=NOW),
        real=lambda: real[0],
    )
    assert clock() == at
    real[0] = NOW + timedelta(minutes=7, seconds=3)
    assert clock() == at + timedelta(minutes=7, seconds=3)


def test_without_since_the_demo_clock_starts_when_the_service_does() -> None:
    at = datetime(2027, 3, 15, 9, 30, tzinfo=UTC)
    clock = clock_from_settings(
        _settings(knutepunkt_embedded=True, demo_clock_at=at), real=lambda: NOW
    )
    assert clock() == at


@pytest.mark.parametrize(
    ("values", "why"),
    [
        ({}, "without KNUTEPUNKT_EMBEDDED=1"),
        ({"knutepunkt_embedded": False}, "without KNUTEPUNKT_EMBEDDED=1"),
        (
            {"knutepunkt_embedded": True, "database_url": "postgresql+asyncpg://h/loans"},
            "on a database that is not SQLite",
        ),
    ],
)
def test_outside_the_embedded_mode_the_setting_is_refused(
    values: dict[str, object], why: str
) -> None:
    at = datetime(2027, 3, 15, 9, 30, tzinfo=UTC)
    values = {"database_url": SQLITE, **values}
    with pytest.raises(ValidationError, match=f"DEMO_CLOCK_AT is set, but this service runs {why}"):
        load_settings("loans", demo_clock_at=at, **values)
    # Settings made without validation are refused all the same when the clock is chosen.
    settings = Settings.model_construct(
        **{"knutepunkt_embedded": False, **values}, demo_clock_at=at
    )
    with pytest.raises(DemoClockRefused, match="must never reach production"):
        clock_from_settings(settings)


def test_a_demo_clock_without_an_offset_is_refused() -> None:
    with pytest.raises(ValidationError, match="needs a UTC offset"):
        _settings(knutepunkt_embedded=True, demo_clock_at=datetime(2027, 3, 15, 10, 30))
