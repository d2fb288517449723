"""The end-to-end scenario against the published ports of a running compose stack:

1. a club books Møterom 1 with catering -> catering places the order -> the booker's
   confirmation email (with an .ics), the café's SMS and email, all seen in the dev sinks;
   the booking is cancelled -> the order is cancelled and the café told;
2. notify scaled to 2 replicas: more bookings, and no notification is delivered twice;
3. the redis container stopped and started while bookings keep coming (one booked while Redis
   is down): every booking still gets its notifications, each exactly once.

With --standin-services only the stack machinery (scale, restart, readiness) runs.
"""

from __future__ import annotations

import threading
import time

from deploy.hub_client import CAFE_PHONE, Booked, HubClient
from deploy.outcome import StepFailed
from deploy.stack import Stack
from deploy.timings import Timings

BUSINESS_SCENARIO_WIRED = True
READY_WITHIN = 120.0
DELIVERED_WITHIN = 90.0
# Redis down: a relay's or consumer's retry may wait out its backoff, and a message read but
# not acknowledged before the stop is reclaimed after CLAIM_IDLE_MS.
DELIVERED_AFTER_REDIS_WITHIN = 150.0
BOOKING_PACE_SECONDS = 0.5


class BookingLoop:
    """Bookings made one after another in a thread, while the main thread restarts Redis."""

    def __init__(self, client: HubClient) -> None:
        self.client = client
        self.booked: list[Booked] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bookings", daemon=True)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                label = f"loop {len(self.booked) + 1}"
                self.booked.append(self.client.book_room_with_catering(label))
                self._stop.wait(BOOKING_PACE_SECONDS)  # a pace, not a wait for a condition
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def __enter__(self) -> BookingLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        if self.error is not None and exc[0] is None:
            raise StepFailed(f"a booking during the Redis restart failed: {self.error}")


def restart_redis_while_booking(stack: Stack, client: HubClient, timings: Timings) -> list[Booked]:
    with BookingLoop(client) as loop:
        stack.wait_until("a booking before the stop", lambda: bool(loop.booked), within=30)
        began = time.monotonic()
        stack.podman("stop", "--time", "10", stack.container_name("redis"))
        # One booking certainly made while Redis is down: the API must not need it.
        down = client.book_room_with_catering("while redis is down")
        stack.podman("start", stack.container_name("redis"))
        stack.wait_ready(within=READY_WITHIN)
        timings.facts["redis down -> every service ready"] = f"{time.monotonic() - began:.1f} s"
        stack.wait_until("a booking after Redis is back", lambda: len(loop.booked) >= 3, 30)
    if loop.error is not None:
        raise StepFailed(f"a booking during the Redis restart failed: {loop.error}")
    return [*loop.booked, down]


def run_scenario(stack: Stack, timings: Timings, business: bool) -> None:
    if not business:
        print("PENDING: business steps of the scenario are not run in this mode", flush=True)
        with timings.step("scenario: notify scaled to 2"):
            stack.scale("notify", 2)
            stack.wait_ready(within=READY_WITHIN)
        with timings.step("scenario: redis restarted"):
            stack.restart("redis")
            stack.wait_ready(within=READY_WITHIN)
        return

    client = HubClient(stack)
    with timings.step("scenario: booking with catering -> order, notifications, cancel"):
        first = client.book_room_with_catering("first")
        client.wait_delivered([first], within=DELIVERED_WITHIN)
        order_id = client.order_id(first)
        assert order_id is not None  # wait_delivered found it
        client.cancel(first)
        stack.wait_until(
            "the linked order cancelled",
            lambda: client.order_status(order_id) == "cancelled",
            within=DELIVERED_WITHIN,
        )
        stack.wait_until(
            "the café told of the cancellation",
            lambda: any(
                s["to"] == CAFE_PHONE and s["text"].startswith("Avbestilt")
                for s in client.sms_messages()
            ),
            within=DELIVERED_WITHIN,
        )

    booked = [first]
    with timings.step("scenario: notify scaled to 2, each notification once") as info:
        stack.scale("notify", 2)
        stack.wait_ready(within=READY_WITHIN)
        scaled = [client.book_room_with_catering(f"scaled {n}") for n in range(1, 5)]
        client.wait_delivered(scaled, within=DELIVERED_WITHIN)
        booked += scaled
        mails, texts = client.assert_each_delivered_once()
        info["note"] = f"{len(booked)} bookings, {mails} emails, {texts} SMS"

    with timings.step("scenario: redis restarted mid-run, nothing lost") as info:
        during = restart_redis_while_booking(stack, client, timings)
        client.wait_delivered(during, within=DELIVERED_AFTER_REDIS_WITHIN)
        booked += during
        mails, texts = client.assert_each_delivered_once()
        info["note"] = f"{len(booked)} bookings, {mails} emails, {texts} SMS"
