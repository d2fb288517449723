"""A limit on public writes per client address, shared by the web front's public forms and
the services' own public write endpoints (POST /bookings, sign-ups, orders), so that going
around the pages gains nothing.

In memory, per process: a sliding log of the last `count` posts of each address. Kept in the
process rather than Redis on purpose: the services keep taking writes while Redis is away
(the outbox), and a limiter that needed Redis would either refuse them or let everything
through then. With several replicas, an address gets the limit at each; that is still a
limit. The spec is `count/seconds`, e.g. `30/600`; empty turns it off.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

# What the web front uses unless told otherwise, and the launcher gives the services: a
# person books, cancels, orders and signs up well within it; a script does not get far.
DEFAULT = "30/600"
# Addresses forgotten once their window has passed; checked every so many posts, so a
# stream of new addresses cannot grow the table without bound.
_SWEEP_EVERY = 1000


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: float

    @classmethod
    def parse(cls, spec: str) -> Limit | None:
        """`30/600` -> 30 posts per 600 seconds; `""` -> no limit."""
        spec = spec.strip()
        if not spec:
            return None
        count, sep, seconds = spec.partition("/")
        try:
            limit = cls(int(count), float(seconds))
        except ValueError:
            limit = None
        if not sep or limit is None or limit.count < 1 or limit.seconds <= 0:
            raise ValueError(f"a rate limit looks like count/seconds (30/600), not {spec!r}")
        return limit


class RateLimiter:
    def __init__(self, limit: Limit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.clock = clock
        self._log: dict[str, deque[float]] = {}
        self._posts = 0

    def hit(self, address: str) -> float:
        """Count one post from `address`: 0 when it is allowed, else the seconds until the
        next one will be (for Retry-After; a refused post is not counted)."""
        now = self.clock()
        self._posts += 1
        if self._posts % _SWEEP_EVERY == 0:
            self._sweep(now)
        times = self._log.setdefault(address, deque())
        while times and times[0] <= now - self.limit.seconds:
            times.popleft()
        if len(times) >= self.limit.count:
            return max(times[0] + self.limit.seconds - now, 0.001)
        times.append(now)
        return 0.0

    def _sweep(self, now: float) -> None:
        stale = [a for a, t in self._log.items() if not t or t[-1] <= now - self.limit.seconds]
        for address in stale:
            del self._log[address]


def retry_after(seconds: float) -> str:
    """Whole seconds, rounded up, for the Retry-After header."""
    return str(max(1, math.ceil(seconds)))


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str) -> tuple[Network, ...]:
    """`127.0.0.1,10.0.0.0/8` -> the networks whose X-Forwarded-For is believed."""
    return tuple(
        ipaddress.ip_network(p.strip(), strict=False) for p in spec.split(",") if p.strip()
    )


def _trusted(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(scope: MutableMapping[str, Any], trusted: tuple[Network, ...]) -> str:
    """Whom a request is counted for: the connecting address, or, when that is a trusted
    proxy (the reverse proxy, or the web front calling a service for a citizen), the last
    address in X-Forwarded-For that is not itself trusted. Anyone else's header is ignored,
    so a client cannot pick its own key."""
    client = scope.get("client")
    address = str(client[0]) if client else "unknown"
    if not trusted or not _trusted(address, trusted):
        return address
    hops: list[str] = []
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            hops += [h.strip() for h in value.decode("latin-1").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else address
