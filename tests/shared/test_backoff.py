"""The one doubling backoff the retry loops share."""

from __future__ import annotations

import random

import pytest

from shared.backoff import Backoff, delay, jittered


def test_delay_doubles_from_the_first_wait_up_to_the_cap() -> None:
    assert [delay(n, 0.5, 30.0) for n in range(1, 9)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        30.0,
        30.0,
    ]


def test_delay_of_a_long_outage_stays_at_the_cap() -> None:
    assert delay(10_000, 0.1, 5.0) == 5.0
    assert delay(0, 0.1, 5.0) == 0.1  # "no failure yet" waits as after the first


def test_delay_with_another_factor() -> None:
    assert [delay(n, 1.0, 100.0, factor=3) for n in (1, 2, 3)] == [1.0, 3.0, 9.0]


def test_backoff_grows_then_starts_again_after_reset() -> None:
    backoff = Backoff(0.1, 0.4)
    assert [backoff.next() for _ in range(4)] == [0.1, 0.2, 0.4, 0.4]
    backoff.reset()
    assert backoff.next() == 0.1


def test_jitter_stays_within_its_spread_and_varies() -> None:
    rng = random.Random(7)
    waits = [jittered(10.0, 0.2, rng) for _ in range(200)]
    assert all(8.0 <= w <= 12.0 for w in waits)
    assert len(set(waits)) > 100
    assert jittered(10.0, 0.0, rng) == 10.0


def test_jittered_backoff_stays_around_the_doubling() -> None:
    backoff = Backoff(1.0, 8.0, jitter=0.2, rng=random.Random(1))
    for expected in (1.0, 2.0, 4.0, 8.0, 8.0):
        assert expected * 0.8 <= backoff.next() <= expected * 1.2


@pytest.mark.parametrize(("first", "cap", "factor"), [(0, 1, 2), (2, 1, 2), (1, 2, 0.5)])
def test_nonsense_backoff_is_refused(first: float, cap: float, factor: float) -> None:
    with pytest.raises(ValueError):
        Backoff(first, cap, factor=factor)
