"""The shared calendar: opening hours, Norwegian holidays, closures, working days and DST."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import UTC, date, datetime, time, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shared.calendar import (
    CAFE_HOURS,
    HUB_HOURS,
    OSLO,
    Calendar,
    Closure,
    NaiveDatetimeError,
    OpeningHours,
    at_local,
    local,
    local_date,
    local_midnight,
    require_aware,
    utcnow,
)

HOUR = timedelta(hours=1)
# Gymsalen: weekday evenings and weekend days.
GYM_HOURS = OpeningHours.parse(
    {"mon-fri": "17:00-22:00", "sat-sun": "09:00-21:00"},
)
ROUND_THE_CLOCK = OpeningHours.parse({"mon-sun": "00:00-24:00"})


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def oslo(*args: int) -> datetime:
    return datetime(*args, tzinfo=OSLO)


def offsets(
    intervals: list[tuple[datetime, datetime]],
) -> list[tuple[timedelta | None, timedelta | None]]:
    """The Oslo UTC offsets in force at each interval's ends."""
    return [(local(s).utcoffset(), local(e).utcoffset()) for s, e in intervals]


# --------------------------------------------------------------------------- instants


def test_naive_datetimes_are_rejected_everywhere() -> None:
    naive = datetime(2026, 5, 4, 10, 0)
    cal = Calendar()
    with pytest.raises(NaiveDatetimeError, match="UTC offset is required"):
        require_aware(naive)
    for call in (
        lambda: local(naive),
        lambda: local_date(naive),
        lambda: cal.is_open_at(naive),
        lambda: cal.is_open_between(naive, naive + HOUR),
        lambda: cal.closed_reason(utc(2026, 5, 4, 8), naive),
        lambda: cal.next_open_at(naive),
        lambda: cal.slots(date(2026, 5, 4), HOUR, not_before=naive),
        lambda: Closure(naive, naive + HOUR, "maling"),
    ):
        with pytest.raises(NaiveDatetimeError):
            call()
    # It is a ValueError, so an API maps it to a 4xx with the other bad input.
    assert issubclass(NaiveDatetimeError, ValueError)


def test_require_aware_converts_to_utc() -> None:
    plus_two = datetime(2026, 5, 4, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    converted = require_aware(plus_two)
    assert converted == utc(2026, 5, 4, 8, 0)
    assert converted.utcoffset() == timedelta(0)
    assert utcnow().utcoffset() == timedelta(0)


def test_local_date_is_the_oslo_date_not_the_utc_date() -> None:
    # 23:30 UTC on 4 May is already 5 May in Oslo (UTC+2).
    assert local_date(utc(2026, 5, 4, 23, 30)) == date(2026, 5, 5)
    assert local_date(utc(2026, 1, 4, 22, 59)) == date(2026, 1, 4)
    assert local_date(utc(2026, 1, 4, 23, 0)) == date(2026, 1, 5)
    assert local(utc(2026, 1, 4, 23, 0)).tzinfo == OSLO


# --------------------------------------------------------------------------- opening hours


def test_weekday_hours_of_the_hub_and_the_cafe() -> None:
    monday = date(2026, 5, 4)
    hub, cafe = Calendar(HUB_HOURS), Calendar(CAFE_HOURS)
    assert hub.open_intervals(monday) == [(utc(2026, 5, 4, 8), utc(2026, 5, 4, 12))]
    assert cafe.open_intervals(monday) == [(utc(2026, 5, 4, 8), utc(2026, 5, 4, 13))]
    assert hub.is_open_at(oslo(2026, 5, 4, 10, 0))
    assert hub.is_open_at(oslo(2026, 5, 4, 13, 59))
    assert not hub.is_open_at(oslo(2026, 5, 4, 14, 0))  # closing time is exclusive
    assert not hub.is_open_at(oslo(2026, 5, 4, 9, 59))
    assert cafe.is_open_at(oslo(2026, 5, 4, 14, 30))
    assert hub.is_open_between(oslo(2026, 5, 4, 12), oslo(2026, 5, 4, 14))
    assert not hub.is_open_between(oslo(2026, 5, 4, 13), oslo(2026, 5, 4, 15))
    assert hub.closed_reason(oslo(2026, 5, 4, 13), oslo(2026, 5, 4, 15)) == (
        "outside opening hours 10:00–14:00"
    )
    assert hub.closed_reason(oslo(2026, 5, 4, 12), oslo(2026, 5, 4, 14)) is None


def test_the_hub_is_closed_at_weekends() -> None:
    hub = Calendar()
    saturday, sunday = date(2026, 5, 9), date(2026, 5, 10)
    for day in (saturday, sunday):
        assert not hub.is_open_day(day)
        assert hub.open_intervals(day) == []
        assert hub.slots(day, HOUR) == []
    assert hub.closed_reason(oslo(2026, 5, 9, 11), oslo(2026, 5, 9, 12)) == ("closed on Saturdays")
    assert hub.closed_reason(oslo(2026, 5, 10, 11), oslo(2026, 5, 10, 12)) == "closed on Sundays"
    assert hub.next_open_day(saturday) == date(2026, 5, 11)
    assert hub.next_open_day(date(2026, 5, 11)) == date(2026, 5, 11)
    assert hub.next_open_at(oslo(2026, 5, 9, 11)) == oslo(2026, 5, 11, 10)
    assert hub.next_open_at(oslo(2026, 5, 11, 11)) == oslo(2026, 5, 11, 11)
    assert hub.next_open_at(oslo(2026, 5, 11, 15)) == oslo(2026, 5, 12, 10)


def test_a_resource_with_its_own_hours_is_open_evenings_and_weekends() -> None:
    gym = Calendar(GYM_HOURS)
    assert gym.is_open_day(date(2026, 5, 9))
    assert gym.is_open_at(oslo(2026, 5, 9, 10))
    assert not gym.is_open_at(oslo(2026, 5, 4, 10))
    assert gym.is_open_between(oslo(2026, 5, 4, 18), oslo(2026, 5, 4, 22))
    assert gym.closed_reason(oslo(2026, 5, 4, 10), oslo(2026, 5, 4, 11)) == (
        "outside opening hours 17:00–22:00"
    )
    # Holidays close the gym hall too, unless its calendar says otherwise.
    assert not gym.is_open_day(date(2026, 5, 14))
    assert Calendar(GYM_HOURS, holidays_closed=False).is_open_day(date(2026, 5, 14))


def test_opening_hours_until_midnight() -> None:
    late = Calendar(OpeningHours.parse({"fri": "18:00-24:00"}))
    assert late.open_intervals(date(2026, 5, 8)) == [(oslo(2026, 5, 8, 18), oslo(2026, 5, 9, 0))]
    assert not late.is_open_at(oslo(2026, 5, 9, 0))


# --------------------------------------------------------------------------- holidays


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2028, 5, 17), "Grunnlovsdag"),  # a Wednesday in 2028
        (date(2027, 5, 17), "Andre pinsedag; Grunnlovsdag"),  # two holidays on one day
        (date(2026, 4, 2), "Skjærtorsdag"),
        (date(2026, 4, 3), "Langfredag"),
        (date(2026, 4, 6), "Andre påskedag"),
        (date(2026, 5, 14), "Kristi himmelfartsdag"),
        (date(2026, 5, 25), "Andre pinsedag"),
        (date(2026, 12, 25), "Første juledag"),
        (date(2026, 5, 1), "Arbeidernes dag"),
        (date(2026, 1, 1), "Første nyttårsdag"),
    ],
)
def test_public_holidays_on_weekdays_are_closed(day: date, name: str) -> None:
    assert day.weekday() < 5, "the hub would be closed anyway at a weekend"
    hub = Calendar()
    assert hub.holiday_name(day) == name
    assert not hub.is_open_day(day)
    assert hub.slots(day, HOUR) == []
    noon = datetime.combine(day, time(12), OSLO)
    assert not hub.is_open_at(noon)
    assert hub.closed_reason(noon, noon + HOUR) == f"public holiday: {name}"


def test_ordinary_sundays_are_not_holidays_but_easter_sunday_is() -> None:
    hub = Calendar()
    assert hub.holiday_name(date(2026, 5, 10)) is None
    assert hub.holiday_name(date(2026, 4, 5)) == "Første påskedag"
    assert hub.holiday_name(date(2026, 5, 17)) == "Grunnlovsdag"  # a Sunday in 2026
    # A weekend-open resource is open on an ordinary Sunday, not on a holiday Sunday.
    weekend = Calendar(OpeningHours.parse({"sat-sun": "10:00-14:00"}))
    assert weekend.is_open_day(date(2026, 5, 10))
    assert not weekend.is_open_day(date(2026, 5, 17))


def test_ordinary_weekdays_are_not_holidays() -> None:
    hub = Calendar()
    assert hub.holiday_name(date(2026, 5, 15)) is None  # the Friday after Ascension
    assert hub.holiday_name(date(2026, 12, 24)) is None  # Christmas Eve is not a public holiday
    assert hub.is_open_day(date(2026, 5, 15))


# --------------------------------------------------------------------------- closures


def test_a_staff_closure_cuts_part_of_a_day() -> None:
    closure = Closure(oslo(2026, 5, 4, 11), oslo(2026, 5, 4, 12), "personalmøte")
    hub = Calendar(closures=[closure])
    assert hub.open_intervals(date(2026, 5, 4)) == [
        (oslo(2026, 5, 4, 10), oslo(2026, 5, 4, 11)),
        (oslo(2026, 5, 4, 12), oslo(2026, 5, 4, 14)),
    ]
    assert hub.is_open_day(date(2026, 5, 4))
    assert not hub.is_open_at(oslo(2026, 5, 4, 11, 30))
    assert hub.is_open_at(oslo(2026, 5, 4, 12))
    assert not hub.is_open_between(oslo(2026, 5, 4, 10), oslo(2026, 5, 4, 13))
    assert hub.closed_reason(oslo(2026, 5, 4, 10), oslo(2026, 5, 4, 13)) == "closed: personalmøte"
    assert [local(s).hour for s, _ in hub.slots(date(2026, 5, 4), HOUR)] == [10, 12, 13]
    assert hub.next_open_at(oslo(2026, 5, 4, 11, 15)) == oslo(2026, 5, 4, 12)
    # Outside regular hours the reason stays the opening hours, not the closure.
    assert hub.closed_reason(oslo(2026, 5, 4, 14), oslo(2026, 5, 4, 15)) == (
        "outside opening hours 10:00–14:00"
    )


def test_a_whole_day_closure() -> None:
    closure = Closure.whole_days(date(2026, 5, 5), reason="vannlekkasje")
    assert closure.start == oslo(2026, 5, 5, 0)
    assert closure.end == oslo(2026, 5, 6, 0)
    assert closure.start.tzinfo == UTC
    hub = Calendar().with_closures([closure])
    assert not hub.is_open_day(date(2026, 5, 5))
    assert hub.is_open_day(date(2026, 5, 4))
    assert hub.is_open_day(date(2026, 5, 6))
    assert hub.closed_reason(oslo(2026, 5, 5, 10), oslo(2026, 5, 5, 11)) == "closed: vannlekkasje"
    assert hub.next_open_day(date(2026, 5, 5)) == date(2026, 5, 6)
    assert hub.next_open_at(oslo(2026, 5, 5, 10)) == oslo(2026, 5, 6, 10)


def test_with_closures_adds_to_existing_closures_and_leaves_the_original_alone() -> None:
    first = Closure.whole_days(date(2026, 5, 5), reason="a")
    second = Closure.whole_days(date(2026, 5, 6), reason="b")
    base = Calendar(closures=[first])
    both = base.with_closures([second])
    assert not both.is_open_day(date(2026, 5, 5))
    assert not both.is_open_day(date(2026, 5, 6))
    assert base.is_open_day(date(2026, 5, 6))


def test_closure_rejects_an_empty_span() -> None:
    with pytest.raises(ValueError, match="end after it starts"):
        Closure(oslo(2026, 5, 5, 12), oslo(2026, 5, 5, 12), "x")
    with pytest.raises(ValueError, match="before it starts"):
        Closure.whole_days(date(2026, 5, 5), date(2026, 5, 4), "x")


# --------------------------------------------------------------------------- working days


def test_add_working_days_across_a_weekend() -> None:
    hub = Calendar()
    friday = date(2026, 5, 8)
    assert hub.add_working_days(friday, 1) == date(2026, 5, 11)
    assert hub.add_working_days(friday, 2) == date(2026, 5, 12)
    assert hub.add_working_days(date(2026, 5, 9), 2) == date(2026, 5, 12)  # ordered on Saturday
    assert hub.add_working_days(friday, 0) == friday
    assert hub.working_days_between(friday, date(2026, 5, 12)) == 2
    assert hub.working_days_between(date(2026, 5, 12), friday) == 0
    with pytest.raises(ValueError):
        hub.add_working_days(friday, -1)


def test_add_working_days_across_ascension_day_and_a_weekend() -> None:
    hub = Calendar()
    wednesday = date(2026, 5, 13)  # Thursday 14 May is Kristi himmelfartsdag
    assert hub.add_working_days(wednesday, 1) == date(2026, 5, 15)
    assert hub.add_working_days(wednesday, 2) == date(2026, 5, 18)
    assert hub.working_days_between(wednesday, date(2026, 5, 18)) == 2
    # Easter: from the Wednesday before, two working days land on the Tuesday after.
    assert hub.add_working_days(date(2026, 4, 1), 1) == date(2026, 4, 7)
    assert hub.add_working_days(date(2026, 4, 1), 2) == date(2026, 4, 8)


def test_add_working_days_across_a_closure() -> None:
    hub = Calendar(closures=[Closure.whole_days(date(2026, 5, 5), date(2026, 5, 6), "kurs")])
    assert hub.add_working_days(date(2026, 5, 4), 1) == date(2026, 5, 7)
    assert hub.add_working_days(date(2026, 5, 4), 2) == date(2026, 5, 8)
    # A closure that only cuts part of a day leaves it a working day.
    partial = Calendar(closures=[Closure(oslo(2026, 5, 5, 10), oslo(2026, 5, 5, 12), "møte")])
    assert partial.add_working_days(date(2026, 5, 4), 1) == date(2026, 5, 5)


def test_a_calendar_that_never_opens_gives_up() -> None:
    never = Calendar(OpeningHours({}))
    with pytest.raises(ValueError, match="no open day"):
        never.next_open_day(date(2026, 5, 4))
    with pytest.raises(ValueError, match="no open day"):
        never.add_working_days(date(2026, 5, 4), 1)
    with pytest.raises(ValueError, match="not open"):
        never.next_open_at(oslo(2026, 5, 4, 12))


# --------------------------------------------------------------------------- DST


def test_october_dst_change_moves_the_utc_hours() -> None:
    hub = Calendar()
    # Clocks go back on Sunday 25 October 2026.
    assert hub.open_intervals(date(2026, 10, 23)) == [(utc(2026, 10, 23, 8), utc(2026, 10, 23, 12))]
    assert hub.open_intervals(date(2026, 10, 26)) == [(utc(2026, 10, 26, 9), utc(2026, 10, 26, 13))]
    assert [s for s, _ in hub.slots(date(2026, 10, 26), HOUR)] == [
        utc(2026, 10, 26, h) for h in (9, 10, 11, 12)
    ]
    assert hub.next_open_at(oslo(2026, 10, 23, 15)) == utc(2026, 10, 26, 9)


def test_march_dst_change_moves_the_utc_hours() -> None:
    hub = Calendar()
    # Clocks go forward on Sunday 29 March 2026.
    assert hub.open_intervals(date(2026, 3, 27)) == [(utc(2026, 3, 27, 9), utc(2026, 3, 27, 13))]
    assert hub.open_intervals(date(2026, 3, 30)) == [(utc(2026, 3, 30, 8), utc(2026, 3, 30, 12))]
    assert offsets(hub.open_intervals(date(2026, 3, 27))) == [(HOUR, HOUR)]
    assert offsets(hub.open_intervals(date(2026, 3, 30))) == [(2 * HOUR, 2 * HOUR)]
    assert hub.next_open_at(oslo(2026, 3, 27, 15)) == utc(2026, 3, 30, 8)


def test_slots_keep_wall_clock_times_and_real_lengths_on_dst_sundays() -> None:
    gym = Calendar(GYM_HOURS)
    for day in (date(2026, 3, 29), date(2026, 10, 25)):
        slots = gym.slots(day, HOUR)
        assert [local(s).hour for s, _ in slots] == list(range(9, 21))
        assert all(e - s == HOUR for s, e in slots)
    assert gym.slots(date(2026, 3, 29), HOUR)[0][0] == utc(2026, 3, 29, 7)
    assert gym.slots(date(2026, 10, 25), HOUR)[0][0] == utc(2026, 10, 25, 8)


def test_a_round_the_clock_resource_has_23_and_25_hour_days() -> None:
    always = Calendar(ROUND_THE_CLOCK, holidays_closed=False)
    spring, autumn = date(2026, 3, 29), date(2026, 10, 25)
    (spring_open,) = always.open_intervals(spring)
    (autumn_open,) = always.open_intervals(autumn)
    assert spring_open == (utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))
    assert autumn_open == (utc(2026, 10, 24, 22), utc(2026, 10, 25, 23))
    assert len(always.slots(spring, HOUR)) == 23
    assert len(always.slots(autumn, HOUR)) == 25
    # The repeated hour is open both times round.
    assert always.is_open_at(utc(2026, 10, 25, 0, 30))
    assert always.is_open_at(utc(2026, 10, 25, 1, 30))


def test_hours_inside_the_skipped_spring_hour_are_clamped_not_crashed() -> None:
    sunday = date(2026, 3, 29)
    # 02:00–03:00 does not exist that night: the interval is empty, the day is closed.
    ghost = Calendar(OpeningHours.parse({"sun": "02:00-03:00"}), holidays_closed=False)
    assert ghost.open_intervals(sunday) == []
    assert not ghost.is_open_day(sunday)
    assert ghost.slots(sunday, timedelta(minutes=30)) == []
    assert ghost.open_intervals(date(2026, 4, 5 + 7)) == [
        (utc(2026, 4, 12, 0), utc(2026, 4, 12, 1))
    ]
    # 01:00–04:00 lasts two real hours; 02:30 starts when the clocks jump (03:00 CEST).
    night = Calendar(OpeningHours.parse({"sun": "01:00-04:00"}), holidays_closed=False)
    assert night.open_intervals(sunday) == [(utc(2026, 3, 29, 0), utc(2026, 3, 29, 2))]
    late = Calendar(OpeningHours.parse({"sun": "02:30-05:00"}), holidays_closed=False)
    assert late.open_intervals(sunday) == [(utc(2026, 3, 29, 1), utc(2026, 3, 29, 3))]
    assert at_local(sunday, time(2, 30)) == utc(2026, 3, 29, 1)
    assert at_local(sunday, time(3, 0)) == utc(2026, 3, 29, 1)
    # A repeated autumn wall time means its first occurrence.
    assert at_local(date(2026, 10, 25), time(2, 30)) == utc(2026, 10, 25, 0, 30)


def test_whole_day_closures_follow_local_midnight_across_dst() -> None:
    spring = Closure.whole_days(date(2026, 3, 29), reason="x")
    assert spring.end - spring.start == 23 * HOUR
    autumn = Closure.whole_days(date(2026, 10, 25), reason="x")
    assert autumn.end - autumn.start == 25 * HOUR
    assert local_midnight(date(2026, 10, 26)) == utc(2026, 10, 25, 23)


# --------------------------------------------------------------------------- slots


def test_slots_with_not_before_exclude_past_ones() -> None:
    hub = Calendar()
    monday = date(2026, 5, 4)
    all_slots = hub.slots(monday, HOUR)
    assert [local(s).hour for s, _ in all_slots] == [10, 11, 12, 13]
    now = oslo(2026, 5, 4, 11, 20)
    assert [local(s).hour for s, _ in hub.slots(monday, HOUR, not_before=now)] == [12, 13]
    exactly = oslo(2026, 5, 4, 12, 0)
    assert [local(s).hour for s, _ in hub.slots(monday, HOUR, not_before=exactly)] == [12, 13]
    assert hub.slots(monday, HOUR, not_before=oslo(2026, 5, 4, 13, 1)) == []
    assert hub.slots(monday, HOUR, not_before=oslo(2026, 5, 1, 9)) == all_slots


def test_slots_with_a_step_shorter_than_the_length_overlap() -> None:
    hub = Calendar()
    slots = hub.slots(date(2026, 5, 4), 2 * HOUR, timedelta(minutes=30))
    assert [local(s).strftime("%H:%M") for s, _ in slots] == [
        "10:00",
        "10:30",
        "11:00",
        "11:30",
        "12:00",
    ]
    assert hub.slots(date(2026, 5, 4), 5 * HOUR) == []
    with pytest.raises(ValueError):
        hub.slots(date(2026, 5, 4), timedelta(0))
    with pytest.raises(ValueError):
        hub.slots(date(2026, 5, 4), HOUR, timedelta(minutes=-5))


def test_is_open_between_rejects_an_empty_span() -> None:
    with pytest.raises(ValueError, match="after start"):
        Calendar().is_open_between(oslo(2026, 5, 4, 12), oslo(2026, 5, 4, 11))


# --------------------------------------------------------------------------- parse


def test_parse_reads_ranges_lists_and_closed_days() -> None:
    hours = OpeningHours.parse(
        {"mon-fri": "10:00-14:00", "sat": "09:00-13:00", "sun": "closed"},
    )
    assert hours.intervals(0) == ((time(10), time(14)),)
    assert hours.intervals(4) == ((time(10), time(14)),)
    assert hours.intervals(5) == ((time(9), time(13)),)
    assert hours.intervals(6) == ()
    assert OpeningHours.parse({"mon-fri": "10:00-14:00"}) == HUB_HOURS
    assert OpeningHours.parse({"Man-Fre": "10:00–15:00"}) == CAFE_HOURS
    split = OpeningHours.parse({"sat,sun": "9:00-12:00, 13:00-16:00"})
    assert split.intervals(5) == split.intervals(6) == ((time(9), time(12)), (time(13), time(16)))
    # Touching intervals merge.
    assert OpeningHours.parse({"mon-fri": "10:00-12:00,12:00-14:00"}) == HUB_HOURS


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"mon-fri": "10:00-25:00"}, "not valid"),
        ({"mon-fri": "10-14"}, "not valid"),
        ({"mon-fri": ""}, "not valid"),
        ({"mon-fri": "open"}, "not valid"),
        ({"mon-fri": "14:00-10:00"}, "must open before it closes"),
        ({"mon-fri": "22:00-02:00"}, "past midnight"),
        ({"mon": "10:00-12:00,11:00-13:00"}, "overlap"),
        ({"funday": "10:00-14:00"}, "not a weekday"),
        ({"fri-mon": "10:00-14:00"}, "run forwards"),
        ({"mon-fri": "10:00-14:00", "wed": "closed"}, "more than once"),
        ({"mon": 10}, "must be strings"),
        (["mon", "10:00-14:00"], "must be a mapping"),
    ],
)
def test_parse_rejects_bad_input_with_a_clear_message(spec: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OpeningHours.parse(spec)  # type: ignore[arg-type]  # wrong types on purpose


def test_opening_hours_constructor_validates() -> None:
    with pytest.raises(ValueError, match="weekday"):
        OpeningHours({7: ((time(10), time(14)),)})
    with pytest.raises(ValueError, match="whole minutes"):
        OpeningHours({0: ((time(10, 0, 30), time(14)),)})
    hours = OpeningHours({0: ((time(10), time(14)),), 6: ()})
    with pytest.raises(TypeError):
        hours.weekly[1] = ()  # type: ignore[index]  # proving the mapping is read-only
    assert hours == OpeningHours({0: ((time(10), time(14)),)})
    assert hash(hours) == hash(OpeningHours({0: ((time(10), time(14)),)}))


@pytest.mark.parametrize(
    "hours",
    [HUB_HOURS, CAFE_HOURS, GYM_HOURS, ROUND_THE_CLOCK, OpeningHours({})],
)
def test_to_spec_round_trips_through_json(hours: OpeningHours) -> None:
    spec = json.loads(json.dumps(hours.to_spec()))
    assert OpeningHours.parse(spec) == hours
    assert pickle.loads(pickle.dumps(hours)) == hours
    assert copy.deepcopy(hours) == hours


def test_to_spec_groups_days() -> None:
    assert HUB_HOURS.to_spec() == {"mon-fri": "10:00-14:00", "sat-sun": "closed"}
    assert ROUND_THE_CLOCK.to_spec() == {"mon-sun": "00:00-24:00"}


# --------------------------------------------------------------------------- properties

_QUARTERS = st.integers(min_value=0, max_value=96).map(lambda q: q * 15)


@st.composite
def opening_hours(draw: st.DrawFn) -> OpeningHours:
    weekly: dict[int, tuple[tuple[time, time], ...]] = {}
    for weekday in range(7):
        bounds = sorted(draw(st.sets(_QUARTERS, max_size=4)))
        bounds = bounds[: len(bounds) // 2 * 2]
        weekly[weekday] = tuple(
            (_minute_time(bounds[i]), _minute_time(bounds[i + 1])) for i in range(0, len(bounds), 2)
        )
    return OpeningHours(weekly)


def _minute_time(minutes: int) -> time:
    return time(0) if minutes == 24 * 60 else time(minutes // 60, minutes % 60)


# Dates near the DST changes are over-represented on purpose.
_DAYS = st.one_of(
    st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 12, 31)),
    st.sampled_from([date(2026, 3, 29), date(2026, 10, 25), date(2027, 3, 28)]),
)


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    hours = draw(opening_hours())
    closures = []
    for _ in range(draw(st.integers(0, 3))):
        day = draw(_DAYS)
        start = local_midnight(day) + timedelta(minutes=draw(_QUARTERS))
        length = timedelta(minutes=draw(st.integers(15, 3 * 24 * 60)))
        closures.append(Closure(start, start + length, "stengt"))
    return Calendar(hours, closures, holidays_closed=draw(st.booleans()))


_PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPERTY
@given(
    cal=calendars(),
    day=_DAYS,
    length_q=st.integers(1, 16),
    step_q=st.none() | st.integers(1, 8),
    now_minutes=st.none() | st.integers(-60, 26 * 60),
)
def test_every_slot_is_open_and_inside_the_day(
    cal: Calendar, day: date, length_q: int, step_q: int | None, now_minutes: int | None
) -> None:
    length = timedelta(minutes=15 * length_q)
    step = None if step_q is None else timedelta(minutes=15 * step_q)
    not_before = (
        None if now_minutes is None else local_midnight(day) + timedelta(minutes=now_minutes)
    )
    slots = cal.slots(day, length, step, not_before=not_before)
    for start, end in slots:
        assert end - start == length
        assert start.utcoffset() == timedelta(0)
        assert local_date(start) == day
        assert cal.is_open_between(start, end)
        assert cal.closed_reason(start, end) is None
        assert cal.is_open_at(start)
        assert cal.is_open_at(end - timedelta(microseconds=1))
        assert not_before is None or start >= not_before
    assert slots == sorted(set(slots))


@_PROPERTY
@given(cal=calendars(), day=_DAYS)
def test_open_intervals_match_the_hours_in_wall_time(cal: Calendar, day: date) -> None:
    intervals = cal.open_intervals(day)
    assert intervals == sorted(intervals)
    for (_, end), (next_start, _) in pairwise(intervals):
        assert end < next_start
    if day == date(2026, 3, 29) or day == date(2027, 3, 28):
        return  # the skipped hour is clamped; covered by an example test
    regular = [
        (
            datetime.combine(day, o, OSLO),
            datetime.combine(day + timedelta(days=c == time(0)), c, OSLO),
        )
        for o, c in cal.hours.intervals(day.weekday())
    ]
    for start, end in intervals:
        assert start < end
        assert any(o <= start and end <= c for o, c in regular)
        assert not any(cl.start < end and start < cl.end for cl in cal.closures)
        if cal.holidays_closed:
            assert cal.holiday_name(day) is None
    if regular and not intervals:
        # Closed although it has hours: a holiday or closures covering every hour.
        noon = regular[0][0]
        assert cal.closed_reason(noon, noon + timedelta(minutes=1)) is not None


@_PROPERTY
@given(cal=calendars(), day=_DAYS, n=st.integers(0, 8))
@example(cal=Calendar(), day=date(2026, 5, 13), n=2)
def test_add_working_days_lands_on_the_nth_open_day(cal: Calendar, day: date, n: int) -> None:
    try:
        result = cal.add_working_days(day, n)
    except ValueError:
        assert not any(cal.hours.intervals(w) for w in range(7))
        return
    assert cal.working_days_between(day, result) == n
    if n == 0:
        assert result == day
    else:
        assert result > day
        assert cal.is_open_day(result)
        assert cal.working_days_between(day, result - timedelta(days=1)) == n - 1


@_PROPERTY
@given(cal=calendars(), day=_DAYS, minutes=st.integers(0, 24 * 60 - 1))
def test_next_open_at_is_the_first_open_instant(cal: Calendar, day: date, minutes: int) -> None:
    t = local_midnight(day) + timedelta(minutes=minutes)
    try:
        found = cal.next_open_at(t)
    except ValueError:
        return
    assert found >= t
    assert cal.is_open_at(found)
    assert (found == t) == cal.is_open_at(t)
    # Nothing opens in between: no open interval starts in (t, found).
    d = local_date(t)
    while d <= local_date(found):
        assert not any(t < s < found for s, _ in cal.open_intervals(d))
        d += timedelta(days=1)
