"""Workloads measured in turns: each side does a share of its requests, then the next
side does, and so on for every turn; a side's rate is its requests over the sum of its
turns' seconds.

A shared host's speed drifts within a minute (docs/bench.md, fifteenth pass: the same loop
took 0.15 to 0.29 s of CPU), and a route measured in one stretch after its baseline's put
that drift in the ratio. In turns, a slow spell slows both.

    trivial = Side("trivial", 3000, run_trivial)     # run_trivial(numbers) -> seconds
    booking = Side("bookings", 1000, run_bookings)
    await in_turns([trivial, booking], probe)        # TURNS turns by default
    print(booking.rate / trivial.rate, turn_ratios(booking, trivial))
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from bench.probe import Counts, Probe
from shared.messaging.outbox import OutboxRelay
from tests.support.waiting import wait_for

TURNS = 4
# Waits until what a turn left running is done; returns the statements it sent itself.
Settle = Callable[[], Awaitable[int]]


@dataclass
class Side:
    """`run(numbers)` does the requests numbered `numbers` and returns the seconds they
    took (timed inside, so that setting up clients is not counted)."""

    name: str
    n: int
    run: Callable[[range], Awaitable[float]]
    seconds: float = 0.0
    spent: Counts = field(default_factory=Counts)
    turn_rates: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.n / self.seconds


async def in_turns(
    sides: Sequence[Side], probe: Probe, turns: int = TURNS, settle: Settle | None = None
) -> None:
    """Every side's `n` requests in `turns` turns, the sides taking turns in order. With
    `settle`, after each turn, what the turn's requests left running (the relay publishing
    their events) is waited for before the next side's turn: it would slow that turn, the
    baseline's in turn after the route's, and flatter the ratio. What it costs is the side's
    own (its CPU and the relay's statements; not the seconds, which are its requests')."""
    for turn in range(turns):
        for side in sides:
            share = side.n // turns
            numbers = range(turn * share, side.n if turn == turns - 1 else (turn + 1) * share)
            before = probe.snapshot()
            seconds = await side.run(numbers)
            polled = await settle() if settle is not None else 0
            spent = probe.snapshot() - before
            spent.statements -= polled
            side.spent += spent
            side.seconds += seconds
            side.turn_rates.append(len(numbers) / seconds)


def relay_settled(relay: OutboxRelay, probe: Probe) -> Settle:
    """A `settle` that waits until the relay has published every row committed so far;
    returns the statements its own look at the outbox sent."""

    async def settle() -> int:
        polled = 0

        async def published() -> bool:
            nonlocal polled
            statements = probe.statements
            backlog, _ = await relay.backlog()
            polled += probe.statements - statements
            return backlog == 0

        await wait_for(published, timeout=60, message="the relay caught up")
        return polled

    return settle


def turn_ratios(side: Side, baseline: Side) -> str:
    """Each turn's ratio of `side` to `baseline`, as printed beside the ratio of the sums."""
    return ", ".join(
        f"{s / b:.2f}" for s, b in zip(side.turn_rates, baseline.turn_rates, strict=True)
    )
