"""The whole hub as real processes (four services, real Redis, a real SMTP server and SMS
gateway stub): the cross-service flows of DESIGN.md, each message arriving once."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import time, timedelta
from pathlib import Path

import pytest

from shared.calendar import at_local, utcnow
from tests.e2e.hub import Hub, open_meeting_day, running_hub
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow

TOKENS = {"booking": "e2e-booking", "desk": "e2e-desk", "cafe": "e2e-cafe", "admin": "e2e-admin"}
CAFE_PHONE = "+4700000003"
BOOKER_EMAIL = "leder@sjakklubben.example.org"
BOOKER_PHONE = "+4700000021"
BORROWER_PHONE = "+4700000031"


@pytest.fixture
async def hub(tmp_path: Path, redis_url: str, prefix: str) -> AsyncIterator[Hub]:
    overdue_soon = {"LOANS_OVERDUE_SCAN_SECONDS": "1"}
    async with running_hub(tmp_path, redis_url, prefix, TOKENS, overdue_soon) as made:
        yield made


async def test_room_with_catering_then_cancelled_and_an_overdue_loan(hub: Hub) -> None:
    # A club books a meeting room and asks for coffee and lunch.
    resources = (await hub.http.get(hub.url("booking", "/resources"))).json()
    room = next(r for r in resources if r["name"] == "Møterom 1")
    day = open_meeting_day()
    start = at_local(day, time(11, 0))
    body = {
        "resource_id": room["id"],
        "start": start.isoformat(),
        "end": (start + timedelta(hours=2)).isoformat(),
        "booker_type": "organisation",
        "organisation": {"number": "974760673", "name": "Strømsø sjakklubb"},
        "booker": {"name": "Kari Leder", "email": BOOKER_EMAIL, "phone": BOOKER_PHONE},
        "title": "Styremøte",
        "attendees": 8,
        "catering": {
            "lines": [
                {"item_id": "kaffe-te", "quantity": 8},
                {"item_id": "lunsj-baguette", "quantity": 8},
            ],
            "people": 8,
            "serve_at": start.isoformat(),
        },
    }
    created = await hub.http.post(hub.url("booking", "/bookings"), json=body)
    assert created.status_code == 201, created.text
    booking = created.json()
    assert booking["status"] == "confirmed"

    # The booker gets a confirmation email with an invitation; the café an SMS and an email.
    confirmation = await hub.mail.wait_for(
        lambda m: (
            BOOKER_EMAIL in m.to
            and any(a.content_type.startswith("text/calendar") for a in m.attachments)
        ),
        timeout=60,
    )
    assert "Møterom 1" in (confirmation.text or "")
    await hub.sms.wait_for(lambda s: s.to == CAFE_PHONE, timeout=60)
    await hub.mail.wait_for(lambda m: "kafe@example.org" in m.to, timeout=60)

    orders = await hub.http.get(
        hub.url("catering", "/orders"), headers=hub.staff("cafe"), params={"date": day.isoformat()}
    )
    assert orders.status_code == 200, orders.text
    [order] = [o for o in orders.json() if o.get("booking_id") == booking["id"]]
    assert order["status"] in ("placed", "accepted", "pending_acceptance")

    # The booking is cancelled: the order is cancelled and the café and booker are told.
    cancelled = await hub.http.post(
        hub.url("booking", f"/bookings/{booking['id']}/cancel"),
        headers={"X-Manage-Token": booking["manage_token"]},
        json={"reason": "Møtet er flyttet"},
    )
    assert cancelled.status_code == 200, cancelled.text

    async def order_cancelled() -> bool:
        got = await hub.http.get(
            hub.url("catering", f"/orders/{order['id']}"), headers=hub.staff("cafe")
        )
        return got.json()["status"] == "cancelled"

    await wait_for(order_cancelled, timeout=60, message="linked order cancelled")
    await wait_for(
        lambda: sum(1 for x in hub.sms.messages if x.to == CAFE_PHONE) >= 2,
        timeout=60,
        message="the café told of the cancellation",
    )

    def cancel_invitation(m) -> bool:  # type: ignore[no-untyped-def]
        calendars = [a for a in m.attachments if a.content_type.startswith("text/calendar")]
        return BOOKER_EMAIL in m.to and any(b"METHOD:CANCEL" in a.content for a in calendars)

    await hub.mail.wait_for(cancel_invitation, timeout=60)

    # A paper loan registered late, already overdue: the borrower gets an SMS.
    pcs = (
        await hub.http.get(
            hub.url("loans", "/items"), params={"kind": "pc"}, headers=hub.staff("desk")
        )
    ).json()
    loan = await hub.http.post(
        hub.url("loans", "/loans"),
        headers=hub.staff("desk"),
        json={
            "item_id": pcs[0]["id"],
            "borrower": {"name": "Ola Låner", "phone": BORROWER_PHONE},
            "started_at": (utcnow() - timedelta(days=6)).isoformat(),
            "due_date": (utcnow() - timedelta(days=4)).date().isoformat(),
        },
    )
    assert loan.status_code == 201, loan.text
    await hub.sms.wait_for(lambda s: s.to == BORROWER_PHONE, timeout=60)

    # Let notify finish whatever it still has queued, then count: nothing twice.
    async def drained() -> bool:
        got = await hub.http.get(hub.url("notify", "/notifications"), headers=hub.staff("admin"))
        rows = got.json()
        items = rows["items"] if isinstance(rows, dict) else rows
        return bool(items) and all(i["status"] not in ("queued", "sending") for i in items)

    await wait_for(drained, timeout=60, message="notify drained")
    sms_keys = Counter((s.to, s.text) for s in hub.sms.messages)
    assert all(n == 1 for n in sms_keys.values()), sms_keys
    mail_keys = Counter((tuple(m.to), m.subject) for m in hub.mail.messages)
    assert all(n == 1 for n in mail_keys.values()), mail_keys
    assert sum(1 for s in hub.sms.messages if s.to == BORROWER_PHONE) == 1
