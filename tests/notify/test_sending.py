"""Deliveries go out once, are retried when the far side is down, and fail for good
when it refuses; with the real aiosmtpd catcher and the HTTP SMS stub."""

from __future__ import annotations

from email.message import EmailMessage

from knutepunkt.devsinks import Fault
from services.notify.domain import CHANNELS
from services.notify.timers import sender_of
from shared.events import Contact
from tests.notify.conftest import AUTH, Factory, Hub
from tests.notify.samples import sample
from tests.support.databases import sql_texts
from tests.support.streams import entries_read
from tests.support.waiting import wait_for

CUSTOMER = Contact(name="Kari Nordmann", email="kari@example.org", phone="+47 000 00 010")


async def test_an_order_reaches_the_cafe_and_the_customer_once_however_often_it_comes(
    hub: Factory,
) -> None:
    async with hub() as h:
        data = sample("OrderPlaced", customer=CUSTOMER)
        event_id = await h.publish(data)
        await h.republish(data, event_id)  # redelivered: same id
        rows = await wait_for(lambda: h.settled(event_id, 3), timeout=15)
        assert {(r["channel"], r["recipient_kind"]) for r in rows} == {
            ("sms", "staff"),
            ("email", "staff"),
            ("email", "person"),
        }
        assert all(r["status"] == "sent" and r["attempts"] == 1 for r in rows)
        mails = await h.mail.wait_for(2)
        assert sorted(m.rcpt_tos[0] for m in mails) == ["kafe@example.org", "kari@example.org"]
        [sms] = await h.sms.wait_for(1)
        assert sms.to == "+4700000003" and sms.reference in {r["id"] for r in rows}
        assert sms.text.startswith("Ny bestilling")
        # The duplicate was consumed too, and added nothing.
        await wait_for(lambda: _consumed(h, "catering.events", 2), timeout=10)
        sent = await wait_for(lambda: _of_type(h, "NotificationSent", 3), timeout=10)
        assert len(sent) == 3 and {o["data"]["source_event_id"] for o in sent} == {event_id}
        assert len(h.mail.messages) == 2 and len(h.sms.messages) == 1


async def _consumed(h, stream: str, entries: int) -> bool:  # type: ignore[no-untyped-def]
    read = await entries_read(h.redis, h.prefix + stream, "notify")
    pending = (await h.redis.xpending(h.prefix + stream, "notify"))["pending"]
    return read >= entries and int(pending) == 0


async def test_a_confirmation_email_carries_the_invitation_and_html(hub: Factory) -> None:
    async with hub() as h:
        data = sample("BookingConfirmed", booker=CUSTOMER, participants=[], auto_approved=False)
        event_id = await h.publish(data)
        await wait_for(lambda: h.settled(event_id, 2), timeout=15)
        mail = await h.mail.wait_for(lambda m: "kari@example.org" in m.rcpt_tos)
        assert mail.subject and mail.subject.startswith("Bookingen er bekreftet")
        assert mail.html and "<p>Hei Kari Nordmann,</p>" in mail.html
        invitation = mail.attachment("invitasjon.ics")
        assert invitation.content_type == "text/calendar"
        assert b"UID:booking-booking_id-1@knutepunkt" in invitation.content
        message: EmailMessage = mail.message
        assert message["X-Knutepunkt-Delivery"]
        [sms] = await h.sms.wait_for(1)
        assert sms.text.startswith("Bekreftet: Møterom 1")


async def test_smtp_down_for_a_while_is_retried_until_it_is_back(hub: Factory) -> None:
    async with hub() as h:
        await h.mail.down()
        event_id = await h.publish(sample("LoanReturned", borrower=CUSTOMER))

        async def retried() -> bool:
            rows = await h.notifications(event_id=event_id)
            return bool(rows) and rows[0]["attempts"] >= 3 and rows[0]["status"] == "queued"

        await wait_for(retried, timeout=15)
        [row] = await h.notifications(event_id=event_id)
        assert "SMTP unavailable" in row["last_error"]
        await h.mail.up()
        [mail] = await h.mail.wait_for(1, timeout=15)
        assert mail.rcpt_tos == ("kari@example.org",)
        [row] = await wait_for(lambda: h.settled(event_id, 1), timeout=10)
        assert row["status"] == "sent" and row["attempts"] >= 4
        assert not [o for o in await h.outcomes() if o["type"] == "NotificationFailed"]


async def test_a_permanent_550_fails_at_once_without_retries(hub: Factory) -> None:
    async with hub() as h:
        h.mail.set_mode("permfail")
        event_id = await h.publish(sample("LoanReturned", borrower=CUSTOMER))
        [row] = await wait_for(lambda: h.settled(event_id, 1), timeout=15)
        assert row["status"] == "failed" and row["attempts"] == 1
        assert row["last_error"].startswith("SMTP 550")
        [failed] = await wait_for(lambda: _of_type(h, "NotificationFailed"), timeout=10)
        assert failed["data"]["permanent"] is True
        assert failed["data"]["delivery_id"] == row["id"]
        assert h.mail.attempts == 1 and h.mail.messages == []


async def test_transient_failures_give_up_after_the_limit(hub: Factory) -> None:
    async with hub(max_attempts=3) as h:
        h.mail.set_mode("tempfail")
        event_id = await h.publish(sample("LoanReturned", borrower=CUSTOMER))
        [row] = await wait_for(lambda: h.settled(event_id, 1), timeout=15)
        assert row["status"] == "failed" and row["attempts"] == 3
        assert h.mail.attempts == 3
        [failed] = await wait_for(lambda: _of_type(h, "NotificationFailed"), timeout=10)
        assert failed["data"]["permanent"] is False and "451" in failed["data"]["reason"]
        # Staff can send it again once the far side is fixed.
        h.mail.set_mode("ok")
        response = await h.client.post(f"/notifications/{row['id']}/retry", headers=AUTH)
        assert response.status_code == 200 and response.json()["status"] == "queued"
        await h.mail.wait_for(1)
        [row] = await wait_for(lambda: h.settled(event_id, 1), timeout=10)
        assert row["status"] == "sent"


async def _of_type(h, event_type: str, at_least: int = 1) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    found = [o for o in await h.outcomes() if o["type"] == event_type]
    return found if len(found) >= at_least else []


async def both_loops_idle(h: Hub) -> None:
    """Until the sender's loops both wait for work, so that what falls due is handed over."""
    sender = sender_of(h.service.runtime)

    def idle() -> bool:
        offer = sender.hand_off()
        return offer is not None and offer.channels == frozenset(CHANNELS)

    await wait_for(idle, timeout=10)


async def test_a_slow_sms_gateway_holds_up_no_email(hub: Factory) -> None:
    """Texts and emails are sent by loops of their own: an email that falls due while a
    text waits on a slow gateway goes at once, not when the text's batch is done. An
    email handed over with a text goes after the text's request, but does not wait for
    its answer beyond a moment."""
    # No polls: a loop wakes only for work, so none is busy claiming when the event comes.
    async with hub(poll_seconds=30) as h:
        await both_loops_idle(h)
        h.sms.add_faults(Fault(200, delay=8))  # answers normally, 8 s late
        confirmed = sample(
            "BookingConfirmed", booker=CUSTOMER, participants=[], auto_approved=False
        )
        first = await h.publish(confirmed)
        await h.mail.wait_for(lambda m: "kari@example.org" in m.rcpt_tos, timeout=15)
        assert h.sms.attempts == 1 and h.sms.messages == []  # its text asked, not answered
        other = Contact(name="Ola Nordmann", email="ola@example.org", phone="+47 000 00 011")
        await h.publish(sample("LoanReturned", borrower=other))
        await h.mail.wait_for(lambda m: "ola@example.org" in m.rcpt_tos, timeout=15)
        assert h.sms.messages == []  # the slow text is still waiting for its answer
        rows = await h.notifications(event_id=first)
        assert [r["status"] for r in rows if r["channel"] == "sms"] == ["sending"]
        [sms] = await h.sms.wait_for(1, timeout=15)
        assert sms.text.startswith("Bekreftet")
        await wait_for(lambda: h.settled(first, 2), timeout=15)


async def test_a_text_for_an_idle_sender_goes_without_a_claim_and_a_busy_one_queues(
    hub: Factory,
) -> None:
    """The consumer's transaction claims what it makes due for the idle sender and hands
    it over at commit: the text goes with no claim of its own. A text that falls due while
    its loop is busy waits in the queue and is claimed as usual when the loop is free."""
    # No polls: a loop wakes only for work, so none is busy claiming when the event comes.
    async with hub(poll_seconds=30) as h:
        await both_loops_idle(h)
        with sql_texts(h.service.runtime.db, {"claims": "attempts + "}) as texts:
            first = await h.publish(sample("OrderReady", customer=CUSTOMER))
            [row] = await wait_for(lambda: h.settled(first, 1), timeout=15)
            assert (row["status"], row["attempts"]) == ("sent", 1)
            assert texts["claims"] == set()

            h.sms.add_faults(Fault(200, delay=2))  # the next text holds its loop two seconds
            slow = await h.publish(sample("OrderReady", customer=CUSTOMER))
            await wait_for(lambda: h.sms.attempts >= 2, timeout=15)
            later = Contact(name="Ola Nordmann", phone="+47 000 00 011")
            queued = await h.publish(sample("OrderReady", customer=later))
            [waiting] = await wait_for(lambda: h.notifications(event_id=queued), timeout=15)
            assert waiting["status"] == "queued"
            await wait_for(lambda: h.settled(slow, 1), timeout=15)
            [row] = await wait_for(lambda: h.settled(queued, 1), timeout=15)
            assert (row["status"], row["attempts"]) == ("sent", 1)
            assert len(texts["claims"]) == 1
        assert [m.to for m in h.sms.messages] == ["+4700000010", "+4700000010", "+4700000011"]


async def test_sms_gateway_500_then_200_and_a_delivery_report(hub: Factory) -> None:
    async with hub() as h:
        h.sms.add_faults(500)
        event_id = await h.publish(sample("ReservationReady", borrower=CUSTOMER))
        [sms] = await h.sms.wait_for(1, timeout=15)
        assert h.sms.attempts == 2
        [row] = await wait_for(lambda: h.settled(event_id, 1), timeout=10)
        assert row["status"] == "sent" and row["attempts"] == 2
        assert row["provider_ref"] == sms.id and sms.reference == row["id"]
        report = {"id": sms.id, "reference": sms.reference, "status": "delivered"}
        response = await h.client.post("/sms/delivery-reports", json=report)
        assert response.status_code == 200, response.text
        assert response.json() == {"id": row["id"], "status": "delivered"}
        [row] = await h.notifications(event_id=event_id)
        assert row["status"] == "delivered" and row["delivered_at"]
        again = await h.client.post("/sms/delivery-reports", json=report)
        assert again.json()["status"] == "delivered"


async def test_an_sms_gateway_400_is_permanent(hub: Factory) -> None:
    async with hub() as h:
        h.sms.add_faults(400)
        event_id = await h.publish(sample("ReservationReady", borrower=CUSTOMER))
        [row] = await wait_for(lambda: h.settled(event_id, 1), timeout=15)
        assert row["status"] == "failed" and row["attempts"] == 1
        assert h.sms.attempts == 1


async def test_a_failed_delivery_report_marks_it_failed(hub: Factory) -> None:
    async with hub(sms_provider="linkmobility") as h:
        event_id = await h.publish(sample("ReservationReady", borrower=CUSTOMER))
        [sms] = await h.sms.wait_for(1, timeout=15)
        assert sms.provider == "linkmobility" and sms.to == "+4700000010"
        await wait_for(lambda: h.settled(event_id, 1), timeout=10)
        response = await h.client.post(
            "/sms/delivery-reports", json={"refId": sms.reference, "resultCode": 1005}
        )
        assert response.json()["status"] == "failed"
        [failed] = await wait_for(lambda: _of_type(h, "NotificationFailed"), timeout=10)
        assert failed["data"]["permanent"] is True


async def test_sveve_shape(hub: Factory) -> None:
    async with hub(sms_provider="sveve") as h:
        event_id = await h.publish(sample("ReservationReady", borrower=CUSTOMER))
        [sms] = await h.sms.wait_for(1, timeout=15)
        assert sms.provider == "sveve" and sms.reference
        [row] = await wait_for(lambda: h.settled(event_id, 1), timeout=10)
        assert row["provider_ref"] == sms.id
