"""The pure lending rules: due dates on open days (holidays, DST), lengths, notice steps."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.loans import domain
from services.loans.domain import Policy, Refusal
from shared.calendar import Calendar
from tests.loans.support import oslo

PC = Policy("pc", default_days=1, min_days=1, max_days=3, max_renewals=2)
BOX = Policy("planter_box", season_end="09-30", max_days=366)
CAL = Calendar()


def test_due_on_a_closed_day_moves_to_the_next_open_day() -> None:
    # Wednesday 1 April 2026 + 1 day = Maundy Thursday; Good Friday, the weekend and Easter
    # Monday are closed too: due Tuesday 7 April at closing time.
    due = domain.due_date(PC, date(2026, 4, 1), None, None)
    assert domain.closing_time(CAL, due) == oslo(2026, 4, 7, 14, 0)
    # A Friday loan for one day is due on Monday.
    assert domain.closing_time(CAL, date(2026, 5, 9)) == oslo(2026, 5, 11, 14, 0)
    # Constitution Day falling on a Sunday (2026) changes nothing; 17 May 2027 is a Monday.
    assert domain.closing_time(CAL, date(2027, 5, 17)) == oslo(2027, 5, 18, 14, 0)


def test_due_times_across_dst() -> None:
    # Out on Friday 27 March 2026 (CET) for three days: due Monday 30 March 14:00 CEST.
    due = domain.due_date(PC, date(2026, 3, 27), 3, None)
    due_at = domain.closing_time(CAL, due)
    assert due_at == oslo(2026, 3, 30, 14, 0)
    assert due_at.hour == 12  # UTC+2 after the change
    # The second overdue step, three calendar days later, keeps 14:00 local: 71 real hours
    # apart on the week clocks go forward, 73 the week they go back.
    schedule = domain.notice_schedule(
        oslo(2026, 3, 26, 10, 0), oslo(2026, 3, 27, 14, 0), timedelta(hours=24), (0, 3, 7)
    )
    overdue = [n for n in schedule if n.kind == "overdue"]
    assert overdue[1].at == oslo(2026, 3, 30, 14, 0)
    assert overdue[1].at - overdue[0].at == timedelta(hours=71)
    autumn = domain.notice_schedule(
        oslo(2026, 10, 22, 10, 0), oslo(2026, 10, 23, 14, 0), timedelta(hours=24), (0, 3)
    )
    assert autumn[-1].at - autumn[-2].at == timedelta(hours=73)
    # Days overdue count local days.
    assert domain.days_overdue(oslo(2026, 3, 27, 14, 0), oslo(2026, 3, 30, 9, 0)) == 3


def test_lengths_and_seasons() -> None:
    with pytest.raises(Refusal, match="at most 3"):
        domain.due_date(PC, date(2026, 5, 12), 4, None)
    with pytest.raises(Refusal, match="at least 1"):
        domain.due_date(PC, date(2026, 5, 12), None, date(2026, 5, 12))
    with pytest.raises(Refusal, match="either"):
        domain.due_date(PC, date(2026, 5, 12), 1, date(2026, 5, 13))
    assert domain.due_date(BOX, date(2026, 5, 12), None, None) == date(2026, 9, 30)
    # Taken after the season's end: to the end of next season.
    assert domain.due_date(BOX, date(2026, 10, 5), None, None) == date(2027, 9, 30)
    with pytest.raises(Refusal, match="at most to 2026-09-30"):
        domain.due_date(BOX, date(2026, 5, 12), None, date(2026, 10, 1))
    with pytest.raises(Refusal, match="not lent"):
        domain.due_date(Policy("book", lendable=False), date(2026, 5, 12), None, None)
    # Renewals: one day more each, within three days in all.
    assert domain.renewed_due_date(PC, date(2026, 5, 11), date(2026, 5, 12), 0) == date(2026, 5, 13)
    with pytest.raises(Refusal, match="in all"):
        domain.renewed_due_date(PC, date(2026, 5, 11), date(2026, 5, 14), 1)
    with pytest.raises(Refusal, match="no more renewals"):
        domain.renewed_due_date(PC, date(2026, 5, 11), date(2026, 5, 12), 2)


def test_notices_found_late_send_the_level_reached() -> None:
    schedule = domain.notice_schedule(
        oslo(2026, 5, 1, 10, 0), oslo(2026, 5, 13, 14, 0), timedelta(hours=24), (0, 3, 7)
    )
    assert [(n.kind, n.level) for n in schedule] == [
        ("due_soon", 0),
        ("overdue", 1),
        ("overdue", 2),
        ("overdue", 3),
    ]
    notice, following = domain.notice_now(schedule, oslo(2026, 5, 17, 12, 0))
    assert notice is not None and notice.level == 2
    assert following == oslo(2026, 5, 20, 14, 0)
    notice, following = domain.notice_now(schedule, oslo(2026, 6, 1, 12, 0))
    assert notice is not None and notice.level == 3 and following is None
    assert domain.blocked_since(oslo(2026, 5, 13, 14, 0), (0, 3, 7)) == oslo(2026, 5, 20, 14, 0)


def test_phones_are_normalised() -> None:
    assert domain.normalise_phone("400 00 001") == "+4740000001"
    assert domain.normalise_phone("+46 70 123 45 67") == "+46701234567"
    for bad in ("abc", "12"):
        with pytest.raises(Refusal):
            domain.normalise_phone(bad)
