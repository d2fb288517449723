"""The story of the demo day, step by step. Each step makes its calls and says which
events it expects on which stream, so the report can tell what happened."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from knutepunkt.ops.demo import requests as rq
from knutepunkt.ops.output import oslo_time
from knutepunkt.ops.target import Target
from shared.calendar import CAFE_HOURS, Calendar, local_date
from shared.events import BOOKING_STREAM, CATERING_STREAM, LOANS_STREAM

LEAD_WORKING_DAYS = 3  # past the café's two working days and the rooms' cancel deadline
MAX_DAY_SHIFTS = 30  # a busy hub (or an earlier demo): try later days
# The café wants take-away orders 30 minutes ahead; the margin covers the demo's own run.
TAKEAWAY_LEAD = timedelta(minutes=45)
QUARTER = timedelta(minutes=15)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Refused(Exception):
    """The hub said no (4xx) for a reason a real day has too: shown, not fatal."""


class Broken(Exception):
    """The hub failed (5xx, or an answer the demo cannot read)."""


@dataclass(frozen=True)
class Expected:
    stream: str
    type: str | None  # None: any event about the subject (an outcome the demo cannot know)
    subject: str


@dataclass
class StepResult:
    label: str
    status: str = "done"  # done | refused | skipped | failed
    detail: str = ""


@dataclass
class DayState:
    day: date
    calendar: Calendar
    now: datetime  # the hub's clock when the demo began (a demo clock's with `up --at`)
    ids: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    expected: list[Expected] = field(default_factory=list)
    subjects: set[str] = field(default_factory=set)
    held_back: list[str] = field(default_factory=list)  # what the hour prevented

    def hold_back(self, what: str) -> None:
        if what not in self.held_back:
            self.held_back.append(what)

    def expect(self, stream: str, type_: str | None, subject: str) -> None:
        self.expected.append(Expected(stream, type_, subject))
        self.subjects.add(subject)


class Hub:
    def __init__(self, target: Target, client: httpx.AsyncClient) -> None:
        self.target = target
        self.client = client

    async def call(self, call: rq.Call) -> dict[str, Any]:
        headers = dict(call.headers)
        if call.staff_role:
            headers.update(self.target.staff_headers(call.staff_role))
        url = self.target.urls[call.service] + call.path
        response = await self.client.request(call.method, url, json=call.body, headers=headers)
        if 400 <= response.status_code < 500:
            raise Refused(f"{response.status_code}: {_reason(response)}")
        if response.status_code >= 300:
            raise Broken(f"{call.service} {call.method} {call.path}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise Broken(f"{call.service} {call.path}: not JSON") from exc
        return body if isinstance(body, dict) else {"items": body}


def _reason(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text[:200]
    return str(detail)[:300]


def first_day(calendar: Calendar, now: datetime) -> date:
    return calendar.add_working_days(local_date(now), LEAD_WORKING_DAYS)


def last_open_moment(calendar: Calendar, now: datetime) -> datetime:
    """A time the desk was open, before now (for loans registered from the paper log)."""
    day = local_date(now)
    for _ in range(30):
        for start, end in reversed(calendar.open_intervals(day)):
            if start < now:
                return min(start + timedelta(minutes=20), now - timedelta(minutes=1), end)
        day -= timedelta(days=1)
    return now - timedelta(days=1)


# -- the steps ------------------------------------------------------------------------------


async def book_chess_club(hub: Hub, s: DayState) -> str:
    # The first booking picks the day: a day taken by an earlier demo moves us on.
    for _ in range(MAX_DAY_SHIFTS):
        try:
            booking = await hub.call(rq.chess_club(s.day))
            break
        except Refused as exc:
            if not str(exc).startswith("409"):
                raise
            s.day = s.calendar.add_working_days(s.day, 1)
    else:
        raise Refused(f"no free morning in Møterom 1 in {MAX_DAY_SHIFTS} working days")
    s.ids["chess"] = booking["id"]
    s.expect(BOOKING_STREAM, "BookingConfirmed", booking["id"])
    return f"Møterom 1, {s.day.isoformat()} 10:00–11:30, {booking['status']}"


async def book_hiking_club(hub: Hub, s: DayState) -> str:
    booking = await hub.call(rq.hiking_club(s.day))
    s.ids["hiking"], s.tokens["hiking"] = booking["id"], booking["manage_token"]
    s.expect(BOOKING_STREAM, "BookingConfirmed", booking["id"])
    return f"Møterom 2, 12:00–13:00, {booking['status']}"


async def book_with_lunch(hub: Hub, s: DayState) -> str:
    booking = await hub.call(rq.volunteers_with_lunch(s.day))
    s.ids["volunteers"] = booking["id"]
    s.expect(BOOKING_STREAM, "BookingConfirmed", booking["id"])
    # Catering turns the request into an order (or refuses it): either way, an event.
    s.expect(CATERING_STREAM, None, booking["id"])
    return "Møterom 1, 12:00–14:00, coffee and lunch for 10 from Café Jasmin"


async def request_party(hub: Hub, s: DayState) -> str:
    booking = await hub.call(rq.birthday_party(s.day))
    s.ids["party"] = booking["id"]
    s.expect(BOOKING_STREAM, "BookingRequested", booking["id"])
    return f"Gymsalen 17:00–19:00, {booking['status']} (waits for a booking officer)"


async def approve_party(hub: Hub, s: DayState) -> str:
    if "party" not in s.ids:
        raise Skip("no party booking to approve")
    booking = await hub.call(rq.approve(s.ids["party"]))
    s.expect(BOOKING_STREAM, "BookingConfirmed", booking["id"])
    return f"approved: {booking['status']}"


async def cancel_hiking(hub: Hub, s: DayState) -> str:
    if "hiking" not in s.ids:
        raise Skip("no hiking club booking to cancel")
    booking = await hub.call(rq.cancel_by_owner(s.ids["hiking"], s.tokens["hiking"]))
    s.expect(BOOKING_STREAM, "BookingCancelled", booking["id"])
    return "cancelled by the club with its manage token"


def _lend(key: str, kind: str, name: str, n: int) -> Callable[[Hub, DayState], Awaitable[str]]:
    async def step(hub: Hub, s: DayState) -> str:
        open_now = s.calendar.is_open_at(s.now)
        started = None if open_now else last_open_moment(s.calendar, s.now)
        if not open_now:
            s.hold_back("lending at the desk (loans come from the paper log instead)")
        loan = await hub.call(rq.lend(kind, name, n, started))
        s.ids[key] = loan["id"]
        s.expect(LOANS_STREAM, "LoanStarted", loan["id"])
        how = "at the desk" if open_now else "from the paper log (the desk is closed now)"
        return f"{loan['item_label']} lent {how}, due {oslo_time(loan['due_at'])}"

    return step


def _return(key: str) -> Callable[[Hub, DayState], Awaitable[str]]:
    async def step(hub: Hub, s: DayState) -> str:
        if key not in s.ids:
            raise Skip("nothing lent to return")
        if not s.calendar.is_open_at(s.now):
            s.hold_back("returns at the desk")
            raise Skip("the desk is closed now: returns wait until it opens")
        loan = await hub.call(rq.give_back(s.ids[key]))
        s.expect(LOANS_STREAM, "LoanReturned", loan["id"])
        return f"{loan['item_label']} returned"

    return step


def takeaway_pickup_today(now: datetime) -> datetime | None:
    """A pick-up time later today while the café is open now and still then (None if not)."""
    cafe = Calendar(CAFE_HOURS)
    if not cafe.is_open_at(now):
        return None
    earliest = now + TAKEAWAY_LEAD
    pickup = earliest + (EPOCH - earliest) % QUARTER  # the next quarter hour
    if local_date(pickup) != local_date(now):
        return None
    if cafe.closed_reason(pickup, pickup + timedelta(minutes=1)) is not None:
        return None
    return pickup


async def order_takeaway(hub: Hub, s: DayState) -> str:
    pickup = takeaway_pickup_today(s.now)
    if pickup is None:
        s.hold_back("a take-away for today (ordered for a later day instead)")
        order = await hub.call(rq.takeaway(s.day))
        when = f"pick-up {s.day.isoformat()} 11:30 (the café is closed now: not for today)"
    else:
        order = await hub.call(rq.takeaway_at(pickup))
        when = f"pick-up today {oslo_time(pickup, with_date=False)}"
    s.expect(CATERING_STREAM, "OrderPlaced", order["id"])
    return f"lentil soup and cinnamon buns, {when}, {order['status']}"


async def order_catering(hub: Hub, s: DayState) -> str:
    order = await hub.call(rq.catering_order(s.day))
    s.expect(CATERING_STREAM, "OrderPlaced", order["id"])
    if order["status"] == "pending_acceptance":
        accepted = await hub.call(rq.accept_order(order["id"]))
        s.expect(CATERING_STREAM, "OrderAccepted", order["id"])
        return f"coffee and fruit for 20, short notice, {accepted['status']} by the café"
    return f"coffee and fruit for 20, {order['status']}"


class Skip(Exception):
    """The step does not apply now (the reason is shown)."""


STEPS: list[tuple[str, Callable[[Hub, DayState], Awaitable[str]]]] = [
    ("Strømsø Sjakklubb books a meeting room", book_chess_club),
    ("Drammen Turlag books the other room", book_hiking_club),
    ("Frivilligsentralen books a room with lunch", book_with_lunch),
    ("A birthday party asks for Gymsalen", request_party),
    ("The booking officer approves the party", approve_party),
    ("A PC is lent at the citizens' desk", _lend("pc", "pc", "Leif Olsen", 31)),
    ("A planter box goes to Strømsøhagen", _lend("box1", "planter_box", "Nina Berg", 32)),
    ("Another planter box goes out", _lend("box2", "planter_box", "Omar Haddad", 33)),
    ("A take-away order for lunch", order_takeaway),
    ("A catering order for a neighbourhood meeting", order_catering),
    ("Drammen Turlag cancels its meeting", cancel_hiking),
    ("The PC comes back", _return("pc")),
    ("A planter box comes back", _return("box1")),
]


async def run_step(
    hub: Hub, state: DayState, label: str, step: Callable[[Hub, DayState], Awaitable[str]]
) -> StepResult:
    try:
        return StepResult(label, "done", await step(hub, state))
    except Skip as exc:
        return StepResult(label, "skipped", str(exc))
    except Refused as exc:
        return StepResult(label, "refused", str(exc))
    except Broken as exc:
        return StepResult(label, "failed", str(exc))
