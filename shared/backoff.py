"""Doubling backoff: how long to wait before trying again, one copy for every retry loop.

`delay(attempt, first, cap)` is the pure rule (the wait after the `attempt`-th failure);
`Backoff` keeps the count for a loop that retries until something answers, and `reset()`s
when it does. Jitter spreads the waits of many callers that failed at the same moment, so
that they do not all come back together.
"""

from __future__ import annotations

import random


def delay(attempt: int, first: float, cap: float, *, factor: float = 2.0) -> float:
    """The wait after the `attempt`-th failure in a row (1 for the first): `first`, then
    `factor` times longer each time, never more than `cap`."""
    if attempt <= 1:
        return min(first, cap)
    # Capped before the power can overflow a float on a long outage.
    return min(cap, first * factor ** min(attempt - 1, 64))


def jittered(seconds: float, spread: float, rng: random.Random | None = None) -> float:
    """`seconds` moved at random by up to ±`spread` of itself (0.2: between 0.8x and 1.2x)."""
    if spread <= 0:
        return seconds
    return seconds * (rng or random).uniform(1 - spread, 1 + spread)


class Backoff:
    """Waits for a loop that retries: `next()` is the wait before the next try, each one
    `factor` times the last up to `cap`; `reset()` after a success starts again at `first`."""

    def __init__(
        self,
        first: float,
        cap: float,
        *,
        factor: float = 2.0,
        jitter: float = 0.0,
        rng: random.Random | None = None,
    ) -> None:
        if first <= 0 or cap < first or factor < 1:
            raise ValueError(f"backoff needs 0 < first <= cap and factor >= 1 ({first}, {cap})")
        self.first = first
        self.cap = cap
        self.factor = factor
        self.jitter = jitter
        self._rng = rng
        self.failures = 0

    def next(self) -> float:
        self.failures += 1
        return jittered(
            delay(self.failures, self.first, self.cap, factor=self.factor), self.jitter, self._rng
        )

    def reset(self) -> None:
        self.failures = 0
