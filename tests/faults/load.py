"""Requests for the fault tests and the soak: free slots for bookings, and a client that
keeps every answer (status, code, Retry-After) so that a test can count them."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx

from shared.calendar import CAFE_HOURS, HUB_HOURS, Calendar, at_local, utcnow

ROOMS = ("moterom-1", "moterom-2")
# Half-hour slots inside the hub's hours (10–14).
SLOT_STARTS = tuple(time(10 + m // 60, m % 60) for m in range(0, 240, 30))


def open_days(first_ahead: int = 4) -> Iterator[date]:
    """Days on which the rooms and the café are open, from `first_ahead` working days on
    (catering's lead time is two)."""
    hub, cafe = Calendar(HUB_HOURS), Calendar(CAFE_HOURS)
    day = cafe.add_working_days(utcnow().date(), first_ahead)
    while True:
        if hub.is_open_day(day) and cafe.is_open_day(day):
            yield day
        day += timedelta(days=1)


def free_slots(
    first_ahead: int = 4, rooms: tuple[str, ...] = ROOMS
) -> Iterator[tuple[str, datetime]]:
    """(room, start) pairs no other request of the same run takes."""
    for day in open_days(first_ahead):
        for start, room in itertools.product(SLOT_STARTS, rooms):
            yield room, at_local(day, start)


def booking_body(room: str, start: datetime, n: int, *, catering: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resource_id": room,
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=30)).isoformat(),
        "booker_type": "organisation",
        "organisation": {"number": "974760673", "name": "Strømsø sjakklubb"},
        "booker": {"name": f"Leder {n}", "email": f"leder{n}@example.org"},
        "title": f"Møte {n}",
    }
    if catering:
        # Two rooms at the same hour: a different head count keeps their orders' messages
        # apart, so that a message sent twice is never confused with two alike.
        people = 2 + n % 2
        body["catering"] = {
            "lines": [{"item_id": "kaffe-te", "quantity": people}],
            "people": people,
            "serve_at": start.isoformat(),
        }
    return body


def series_body(room: str, start: time, days: list[date], n: int) -> dict[str, Any]:
    """A series on explicit dates, one half-hour each, booking what is free."""
    end = (datetime.combine(days[0], start) + timedelta(minutes=30)).time()
    return {
        "resource_id": room,
        "booker_type": "organisation",
        "organisation": {"number": "974760673", "name": "Strømsø sjakklubb"},
        "booker": {"name": f"Serieleder {n}", "email": f"serie{n}@example.org"},
        "title": f"Fast møte {n}",
        "start_time": start.isoformat(timespec="minutes"),
        "end_time": end.isoformat(timespec="minutes"),
        "dates": [d.isoformat() for d in days],
        "mode": "skip_conflicts",
    }


@dataclass
class Answer:
    status: int | None  # None: no answer within the client's timeout, or no connection
    code: str | None = None
    retry_after: str | None = None
    error: str | None = None
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class Answers:
    items: list[Answer] = field(default_factory=list)

    def add(self, answer: Answer) -> None:
        self.items.append(answer)

    @property
    def statuses(self) -> Counter[int | None]:
        return Counter(a.status for a in self.items)

    def with_status(self, status: int | None) -> list[Answer]:
        return [a for a in self.items if a.status == status]

    def summary(self) -> str:
        codes = Counter((a.status, a.code or a.error) for a in self.items)
        return ", ".join(f"{s}/{c}: {n}" for (s, c), n in sorted(codes.items(), key=str))


async def send(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> Answer:
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        return Answer(None, error=f"timeout: {type(exc).__name__}")
    except httpx.HTTPError as exc:
        return Answer(None, error=type(exc).__name__)
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = body.get("code") if isinstance(body, dict) else None
    return Answer(
        response.status_code,
        code=code,
        retry_after=response.headers.get("retry-after"),
        body=body if isinstance(body, dict) else {"items": body},
    )


async def book_many(
    client: httpx.AsyncClient,
    url: str,
    slots: Iterator[tuple[str, datetime]],
    count: int,
    answers: Answers,
    *,
    workers: int = 4,
    stop: asyncio.Event | None = None,
) -> None:
    """`count` bookings on distinct slots, `workers` at a time, every answer kept."""
    numbers = iter(range(count))
    lock = asyncio.Lock()

    async def worker() -> None:
        while stop is None or not stop.is_set():
            async with lock:
                n = next(numbers, None)
                if n is None:
                    return
                room, start = next(slots)
            answers.add(await send(client, "POST", url, json=booking_body(room, start, n)))

    await asyncio.gather(*(worker() for _ in range(workers)))
