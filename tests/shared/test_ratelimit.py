"""The public writes' limit per client address (shared/ratelimit.py), and whom a request is
counted for behind a trusted proxy."""

from __future__ import annotations

import pytest

from shared.ratelimit import Limit, RateLimiter, client_address, parse_networks, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_limit_is_count_per_seconds_and_empty_is_none() -> None:
    assert Limit.parse("30/600") == Limit(30, 600.0)
    assert Limit.parse(" ") is None
    for bad in ("30", "0/10", "3/0", "a/b", "3/-1"):
        with pytest.raises(ValueError):
            Limit.parse(bad)


def test_the_post_over_the_limit_is_told_when_the_next_is_allowed() -> None:
    clock = Clock()
    limiter = RateLimiter(Limit(3, 60), clock)
    assert limiter.hit("a") == 0
    clock.now += 10
    assert [limiter.hit("a") for _ in range(2)] == [0, 0]
    clock.now += 10
    wait = limiter.hit("a")
    assert wait == pytest.approx(40)
    assert retry_after(wait) == "40" and retry_after(0.2) == "1"
    assert limiter.hit("b") == 0  # another address has its own count
    clock.now += 40
    assert limiter.hit("a") == 0  # the first post left the window; refused ones never counted
    assert limiter.hit("a") > 0


def test_addresses_are_forgotten_after_their_window() -> None:
    clock = Clock()
    limiter = RateLimiter(Limit(1, 10), clock)
    for n in range(999):
        limiter.hit(f"10.0.{n // 250}.{n % 250}")
    clock.now += 11
    limiter.hit("10.9.9.9")  # the 1000th post sweeps
    assert list(limiter._log) == ["10.9.9.9"]


def _scope(client: str, forwarded: str | None = None) -> dict[str, object]:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return {"client": (client, 5000), "headers": headers}


def test_only_a_trusted_proxy_names_the_client() -> None:
    trusted = parse_networks("127.0.0.1, 10.0.0.0/8")
    assert client_address(_scope("127.0.0.1", "203.0.113.9"), trusted) == "203.0.113.9"
    # The proxy appends: what the client wrote itself is left of the last untrusted hop.
    chain = "198.51.100.1, 203.0.113.9, 10.1.2.3"
    assert client_address(_scope("127.0.0.1", chain), trusted) == "203.0.113.9"
    assert client_address(_scope("203.0.113.7", "198.51.100.1"), trusted) == "203.0.113.7"
    assert client_address(_scope("127.0.0.1"), trusted) == "127.0.0.1"
    assert client_address(_scope("127.0.0.1", "203.0.113.9"), ()) == "127.0.0.1"
