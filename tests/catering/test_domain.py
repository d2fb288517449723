"""Café rules without I/O: lead time in working days, cut-off, short notice, money, lifecycle."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.catering.domain import (
    CafeRules,
    CancelCheck,
    MenuFacts,
    OrderRefused,
    TransitionRefused,
    check_cancel,
    check_timing,
    format_nok,
    next_status,
    price_lines,
    total_ore,
    working_day_before,
)
from shared.calendar import CAFE_HOURS, Calendar, Closure
from tests.catering.support import oslo

RULES = CafeRules()
CAFE = Calendar(CAFE_HOURS)


def timing(pickup: str, now: str, calendar: Calendar = CAFE, kind: str = "catering"):
    d, t = pickup.split()
    nd, nt = now.split()
    return check_timing(kind, oslo(d, t), oslo(nd, nt), calendar, RULES)


def test_weekend_is_skipped_and_the_cutoff_holds() -> None:
    # Pick-up Tuesday 2026-06-09: two working days before is Friday 06-05, cut-off 12:00.
    regular = timing("2026-06-09 11:00", "2026-06-05 11:59")
    assert not regular.short_notice
    assert regular.order_by == oslo("2026-06-05", "12:00")
    at_cutoff = timing("2026-06-09 11:00", "2026-06-05 12:00")
    assert at_cutoff.short_notice
    # Saturday and Sunday do not count: ordering on Saturday for Tuesday is short notice.
    assert timing("2026-06-09 11:00", "2026-06-06 09:00").short_notice


def test_ascension_day_is_not_a_working_day() -> None:
    # Kristi himmelfartsdag, Thursday 2026-05-14. Pick-up Monday 05-18: Friday 05-15 is one
    # working day, Thursday is a holiday, so the second is Wednesday 05-13.
    assert working_day_before(CAFE, date(2026, 5, 18), 2) == date(2026, 5, 13)
    assert not timing("2026-05-18 10:00", "2026-05-13 11:00").short_notice
    assert timing("2026-05-18 10:00", "2026-05-13 12:30").short_notice


def test_17_may_is_not_a_working_day() -> None:
    # 2027-05-17 (Grunnlovsdag, a Monday). Pick-up Wednesday 05-19: Tuesday, then Friday.
    result = timing("2027-05-19 13:00", "2027-05-14 09:00")
    assert result.order_by == oslo("2027-05-14", "12:00")
    assert not result.short_notice
    assert timing("2027-05-19 13:00", "2027-05-17 09:00").short_notice


def test_a_cafe_closure_is_not_a_working_day_and_no_pickup_then() -> None:
    closed = CAFE.with_closures([Closure.whole_days(date(2026, 6, 8), reason="kurs")])
    # Pick-up Wednesday 06-10: Tuesday 06-09, Monday closed, so Friday 06-05.
    result = timing("2026-06-10 10:00", "2026-06-05 11:00", closed)
    assert result.order_by == oslo("2026-06-05", "12:00")
    assert not result.short_notice
    # Without the closure Monday would count, so the same order Monday morning is regular.
    assert not timing("2026-06-10 10:00", "2026-06-08 11:00").short_notice
    assert timing("2026-06-10 10:00", "2026-06-08 11:00", closed).short_notice
    with pytest.raises(OrderRefused) as refused:
        timing("2026-06-08 11:00", "2026-06-01 09:00", closed)
    assert refused.value.code == "outside_hours"
    assert "kurs" in refused.value.reason


@pytest.mark.parametrize(
    "pickup",
    ["2026-06-01 09:59", "2026-06-01 15:00", "2026-06-06 11:00", "2026-05-14 11:00"],
)
def test_pickup_only_inside_cafe_hours(pickup: str) -> None:
    with pytest.raises(OrderRefused) as refused:
        timing(pickup, "2026-05-01 09:00", kind="takeaway")
    assert refused.value.code == "outside_hours"
    assert "next_open_at" in refused.value.extra


def test_takeaway_needs_a_short_lead_and_no_past() -> None:
    ok = timing("2026-06-01 10:30", "2026-06-01 10:00", kind="takeaway")
    assert not ok.short_notice
    with pytest.raises(OrderRefused) as too_soon:
        timing("2026-06-01 10:29", "2026-06-01 10:00", kind="takeaway")
    assert too_soon.value.code == "too_soon"
    with pytest.raises(OrderRefused) as past:
        timing("2026-06-01 10:00", "2026-06-01 10:01", kind="takeaway")
    assert past.value.code == "past"


def test_dst_pickup_times_are_oslo_wall_time() -> None:
    # Summer: 10:00 in Oslo is 08:00 UTC; winter: 09:00 UTC. Both open, 09:30 local never.
    assert timing("2026-06-02 10:00", "2026-05-01 09:00").pickup_at.hour == 8
    assert timing("2026-12-01 10:00", "2026-11-01 09:00").pickup_at.hour == 9


def _menu() -> dict[str, MenuFacts]:
    return {
        "kaffe-te": MenuFacts("kaffe-te", "Kaffe og te", 3500, (), True, ("catering",)),
        "kake": MenuFacts("kake", "Kake", 4510, ("gluten",), True, ("catering", "takeaway")),
        "borte": MenuFacts("borte", "Borte", 100, (), False, ("catering",)),
    }


def test_money_is_integer_ore_and_exact() -> None:
    lines = price_lines([("kaffe-te", 3), ("kake", 7), ("kaffe-te", 10)], _menu(), "catering")
    assert [(line.item_id, line.quantity) for line in lines] == [("kaffe-te", 13), ("kake", 7)]
    total = total_ore(lines)
    assert total == 13 * 3500 + 7 * 4510 == 77070
    assert isinstance(total, int)
    assert format_nok(total) == "kr 770,70"
    assert format_nok(123456789) == "kr 1\u00a0234\u00a0567,89"
    with pytest.raises(TypeError):
        format_nok(12.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        ([("nope", 1)], "unknown_item"),
        ([("borte", 1)], "unavailable_item"),
    ],
)
def test_unknown_and_unavailable_items_are_refused(lines, code) -> None:
    with pytest.raises(OrderRefused) as refused:
        price_lines(lines, _menu(), "catering")
    assert refused.value.code == code


def test_item_not_offered_for_the_kind() -> None:
    with pytest.raises(OrderRefused) as refused:
        price_lines([("kaffe-te", 1)], _menu(), "takeaway")
    assert refused.value.code == "wrong_kind"


def test_lifecycle_steps() -> None:
    assert next_status("placed", "accept") == "accepted"
    assert next_status("pending_acceptance", "reject") == "rejected"
    assert next_status("accepted", "ready") == "ready"
    assert next_status("ready", "picked_up") == "picked_up"
    for current, action in [("placed", "ready"), ("rejected", "accept"), ("cancelled", "ready")]:
        with pytest.raises(TransitionRefused):
            next_status(current, action)


def test_customer_cancels_until_the_cutoff_only() -> None:
    cutoff = oslo("2026-06-05", "12:00")
    check_cancel("accepted", CancelCheck("customer", cutoff - timedelta(seconds=1), cutoff))
    with pytest.raises(TransitionRefused):
        check_cancel("accepted", CancelCheck("customer", cutoff, cutoff))
    # A short-notice request the café has not decided on can always be withdrawn.
    check_cancel("pending_acceptance", CancelCheck("customer", cutoff + timedelta(days=1), cutoff))
    # The café may cancel after the cut-off; nobody cancels what is picked up.
    check_cancel("ready", CancelCheck("cafe", cutoff + timedelta(days=1), cutoff))
    with pytest.raises(TransitionRefused):
        check_cancel("picked_up", CancelCheck("cafe", cutoff, cutoff))
