"""The hub's public HTTP surface as the compose scenario uses it: booking, catering and notify
on their published ports, and the dev profile's sinks (mail catcher, SMS sink).

Every booking gets a day of its own (one meeting a day in Møterom 1, 11:00-13:00), its own
organisation and its own booker, so that every message the hub sends for it (subjects and SMS
texts carry the date) is told apart from the others', and a duplicate is a real duplicate.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from deploy.outcome import StepFailed
from deploy.stack import Stack

OSLO = ZoneInfo("Europe/Oslo")
ROOM = "Møterom 1"
# deploy/compose-test-staff.yaml: the café's contacts (placeholders).
CAFE_EMAIL = "kafe@example.org"
CAFE_PHONE = "+4700000003"
# Far enough ahead for the café's two working days of lead time, whatever today is.
FIRST_DAY_AHEAD = 7
PEOPLE = 8


def org_number(serial: int) -> str:
    """A valid (MOD11) Norwegian organisation number, distinct per serial: the weekly free
    hours are counted per organisation."""
    weights = (3, 2, 7, 6, 5, 4, 3, 2)
    for base in itertools.count(91_000_000 + serial * 10):
        digits = str(base)
        check = 11 - sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
        if check != 10:
            return digits + str(0 if check == 11 else check)
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Booked:
    label: str
    id: str
    manage_token: str
    day: date
    booker_email: str

    @property
    def short_day(self) -> str:
        """As notify's SMS texts write the date (`dato_kort`): '3.12.'."""
        return f"{self.day.day}.{self.day.month}."


@dataclass
class HubClient:
    stack: Stack
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=15))
    _days: itertools.count[int] = field(default_factory=lambda: itertools.count(FIRST_DAY_AHEAD))
    _serials: itertools.count[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _orders: dict[str, str] = field(default_factory=dict)  # booking id -> order id
    _mail_text: dict[int, str] = field(default_factory=dict)  # mail id -> text

    # --- the sinks -------------------------------------------------------------------------

    def mail_messages(self) -> list[dict[str, Any]]:
        return list(self.http.get(f"{self.stack.base_url('mail')}/messages").json())

    def sms_messages(self) -> list[dict[str, Any]]:
        return list(self.http.get(f"{self.stack.base_url('sms')}/messages").json())

    def mail_text(self, message_id: int) -> str:
        if message_id not in self._mail_text:
            url = f"{self.stack.base_url('mail')}/messages/{message_id}"
            self._mail_text[message_id] = self.http.get(url).json().get("text") or ""
        return self._mail_text[message_id]

    # --- staff -----------------------------------------------------------------------------

    def staff(self, role: str) -> dict[str, str]:
        for entry in self.stack.variables["STAFF_TOKENS"].split(","):
            token, _, roles = entry.partition(":")
            if role in roles.split("+"):
                return {"Authorization": f"Bearer {token}"}
        raise StepFailed(f"STAFF_TOKENS has no {role} token")

    # --- booking ---------------------------------------------------------------------------

    def _next_open_weekday(self) -> date:
        with self._lock:
            while True:
                day = datetime.now(OSLO).date() + timedelta(days=next(self._days))
                if day.weekday() < 5:
                    return day

    def book_room_with_catering(self, label: str) -> Booked:
        """Book Møterom 1 with coffee and lunch on a day of its own; a public holiday (the
        hub is closed) moves it to the next weekday."""
        with self._lock:
            serial = next(self._serials)
        booker_email = f"leder{serial}@klubb{serial}.example.org"
        refusals: list[str] = []
        for _ in range(6):
            day = self._next_open_weekday()
            start = datetime(day.year, day.month, day.day, 11, tzinfo=OSLO)
            body = {
                "resource_id": "moterom-1",
                "start": start.isoformat(),
                "end": (start + timedelta(hours=2)).isoformat(),
                "booker_type": "organisation",
                "organisation": {"number": org_number(serial), "name": f"Testklubb {serial}"},
                "booker": {
                    "name": f"Kari Leder {serial}",
                    "email": booker_email,
                    "phone": f"+47 000 01 {serial:03d}",
                },
                "title": f"Styremøte ({label})",
                "attendees": PEOPLE,
                "catering": {
                    "lines": [
                        {"item_id": "kaffe-te", "quantity": PEOPLE},
                        {"item_id": "lunsj-baguette", "quantity": PEOPLE},
                    ],
                    "people": PEOPLE,
                    "serve_at": start.isoformat(),
                },
            }
            try:
                answer = self.http.post(f"{self.stack.base_url('booking')}/bookings", json=body)
            except httpx.HTTPError as exc:
                raise StepFailed(f"booking {label!r}: {type(exc).__name__}: {exc}") from exc
            if answer.status_code == 422 and ("closed" in answer.text or "holiday" in answer.text):
                refusals.append(f"{day}: {answer.text[:200]}")
                continue
            if answer.status_code != 201:
                raise StepFailed(f"booking {label!r}: {answer.status_code} {answer.text[:500]}")
            created = answer.json()
            if created.get("status") != "confirmed":
                raise StepFailed(f"booking {label!r} is {created.get('status')}, not confirmed")
            return Booked(label, created["id"], created["manage_token"], day, booker_email)
        raise StepFailed(f"booking {label!r}: no open day found: {refusals}")

    def cancel(self, booked: Booked) -> None:
        answer = self.http.post(
            f"{self.stack.base_url('booking')}/bookings/{booked.id}/cancel",
            headers={"X-Manage-Token": booked.manage_token},
            json={"reason": "Møtet er flyttet"},
        )
        if answer.status_code != 200:
            raise StepFailed(f"cancel {booked.label!r}: {answer.status_code} {answer.text[:300]}")

    # --- catering --------------------------------------------------------------------------

    def order_id(self, booked: Booked) -> str | None:
        """The café's order for this booking, once catering has placed it."""
        if booked.id not in self._orders:
            answer = self.http.get(
                f"{self.stack.base_url('catering')}/orders", headers=self.staff("cafe")
            )
            answer.raise_for_status()
            for order in answer.json():
                if order.get("booking_id") and order["status"] != "rejected":
                    self._orders[order["booking_id"]] = order["id"]
        return self._orders.get(booked.id)

    def order_status(self, order_id: str) -> str:
        answer = self.http.get(
            f"{self.stack.base_url('catering')}/orders/{order_id}", headers=self.staff("cafe")
        )
        answer.raise_for_status()
        return str(answer.json()["status"])

    # --- what was delivered ----------------------------------------------------------------

    def missing_for(self, booked: Booked) -> list[str]:
        """What the scenario expects for one booking and the sinks do not hold yet."""
        order_id = self.order_id(booked)
        if order_id is None:
            return ["the café's order (GET /orders)"]
        mails, sms = self.mail_messages(), self.sms_messages()
        missing = []
        if not any(
            booked.booker_email in m["to"]
            and (m["subject"] or "").startswith("Bookingen er bekreftet")
            and any(a["content_type"].startswith("text/calendar") for a in m["attachments"])
            for m in mails
        ):
            missing.append("the booker's confirmation email with an .ics")
        if not any(
            s["to"] == CAFE_PHONE
            and s["text"].startswith("Ny bestilling")
            and f" {booked.short_day} kl. 11:00" in s["text"]
            for s in sms
        ):
            missing.append("the café's SMS")
        if not any(
            CAFE_EMAIL in m["to"]
            and (m["subject"] or "").startswith("Ny bestilling")
            and f"Referanse: {order_id}" in self.mail_text(m["id"])
            for m in mails
        ):
            missing.append("the café's email")
        return missing

    def wait_delivered(self, bookings: list[Booked], within: float) -> None:
        """Until every booking's order is placed and its notifications are in the sinks."""
        missing: dict[str, list[str]] = {}

        def all_there() -> bool:
            missing.clear()
            for booked in bookings:
                gaps = self.missing_for(booked)
                if gaps:
                    missing[f"{booked.label} ({booked.day})"] = gaps
            return not missing

        try:
            self.stack.wait_until("notifications delivered", all_there, within)
        except StepFailed as exc:
            raise StepFailed(f"{exc}; still missing: {missing}") from exc

    def notify_drained(self) -> bool:
        """Nothing queued or being sent; a failed delivery fails the run."""
        url = f"{self.stack.notify_urls()[0]}/notifications"
        counts = {}
        for status in ("queued", "sending", "failed"):
            answer = self.http.get(
                url, params={"status": status, "limit": 5}, headers=self.staff("admin")
            )
            answer.raise_for_status()
            counts[status] = len(answer.json())
        if counts["failed"]:
            raise StepFailed(f"notify has failed deliveries: {self.http.get(url).text[:500]}")
        return counts["queued"] == counts["sending"] == 0

    def assert_each_delivered_once(self) -> tuple[int, int]:
        """Every message in the sinks, keyed by (recipient, subject) or (recipient, text), is
        there exactly once; (emails, SMS) counted."""
        self.stack.wait_until("notify drained", self.notify_drained, within=60)
        mails = Counter((tuple(m["to"]), m["subject"]) for m in self.mail_messages())
        texts = Counter((s["to"], s["text"]) for s in self.sms_messages())
        twice = [key for key, n in (mails | texts).items() if n > 1]
        if twice:
            shown = [(k[1] if "@" not in str(k[0]) else "(email) " + str(k[1])) for k in twice]
            raise StepFailed(f"{len(twice)} notifications delivered more than once: {shown}")
        return sum(mails.values()), sum(texts.values())
