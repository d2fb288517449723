"""The end-to-end scenario against the published ports of a running compose stack:

1. a club books a meeting room with catering -> OrderPlaced -> the café's staff get an email
   and an SMS, seen in the dev profile's sinks;
2. notify scaled to 2 replicas: more bookings, and no notification is delivered twice;
3. the redis container restarted mid-run: nothing is lost.

The stack machinery around it (scale, restart, readiness) runs in every mode; the business
calls are wired once the services' APIs are settled (BUSINESS_SCENARIO_WIRED).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from deploy.stack import Stack
from deploy.timings import Timings

BUSINESS_SCENARIO_WIRED = False
READY_WITHIN = 120.0


@dataclass
class HubClient:
    """The hub's public HTTP surface as the scenario uses it."""

    stack: Stack

    def mail_messages(self) -> list[dict[str, object]]:
        return list(httpx.get(f"{self.stack.base_url('mail')}/messages", timeout=5).json())

    def sms_messages(self) -> list[dict[str, object]]:
        return list(httpx.get(f"{self.stack.base_url('sms')}/messages", timeout=5).json())

    def book_room_with_catering(self, label: str) -> str:
        """Book a meeting room with coffee and lunch; the booking's id."""
        raise NotImplementedError("final phase of issue 8")

    def wait_for_cafe_notifications(self, booking_id: str, within: float) -> None:
        """Until the café's email and SMS for this booking's order are in the sinks."""
        raise NotImplementedError("final phase of issue 8")

    def assert_each_delivered_once(self, booking_ids: list[str]) -> None:
        raise NotImplementedError("final phase of issue 8")


def run_scenario(stack: Stack, timings: Timings, business: bool) -> None:
    client = HubClient(stack)
    booked: list[str] = []
    if not business:
        print("PENDING: business steps of the scenario are not run in this mode", flush=True)

    with timings.step("scenario: booking with catering -> notifications"):
        if business:
            booked.append(client.book_room_with_catering("first"))
            client.wait_for_cafe_notifications(booked[-1], within=60)

    with timings.step("scenario: notify scaled to 2"):
        stack.scale("notify", 2)
        stack.wait_ready(within=READY_WITHIN)
        if business:
            booked += [client.book_room_with_catering(f"scaled {n}") for n in range(4)]
            for booking_id in booked:
                client.wait_for_cafe_notifications(booking_id, within=60)
            client.assert_each_delivered_once(booked)

    with timings.step("scenario: redis restarted mid-run"):
        if business:
            booked.append(client.book_room_with_catering("before redis restart"))
        stack.restart("redis")
        if business:
            booked.append(client.book_room_with_catering("during redis restart"))
        stack.wait_ready(within=READY_WITHIN)
        if business:
            booked.append(client.book_room_with_catering("after redis restart"))
            for booking_id in booked:
                client.wait_for_cafe_notifications(booking_id, within=90)
            client.assert_each_delivered_once(booked)
