"""The mail catcher, driven by a real SMTP client (aiosmtplib) and read back three ways."""

from __future__ import annotations

import email.policy
import logging
from datetime import timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid
from pathlib import Path

import aiosmtplib
import httpx
import pytest

from knutepunkt.devsinks.mail import MailCatcher
from knutepunkt.devsinks.testing import running_mail_catcher

BOARD = "styret@example.org"
TREASURER = "kasserer@example.org"
ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Knutepunkt//test//NO\r\nBEGIN:VEVENT\r\n"
    "UID:booking-42@knutepunkt.example.org\r\nDTSTART:20270115T090000Z\r\n"
    "DTEND:20270115T110000Z\r\nSUMMARY:Møterom 1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def confirmation(subject: str = "Bookingen din er bekreftet") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Knutepunkt Strømsø <noreply@example.org>"
    message["To"] = BOARD
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="knutepunkt.example.org")
    message.set_content("Hei!\nMøterom 1 er booket torsdag 15. januar kl. 10–12.\n")
    message.add_alternative("<p>Hei!</p><p>Møterom 1 er booket.</p>", subtype="html")
    message.add_attachment(ICS.encode(), maintype="text", subtype="calendar", filename="invite.ics")
    return message


async def send(mail: MailCatcher, message: EmailMessage, **kwargs: object) -> None:
    await aiosmtplib.send(message, hostname=mail.host, port=mail.port, **kwargs)  # type: ignore[arg-type]


async def test_a_multipart_email_is_kept_in_memory_on_disk_and_over_http(tmp_path: Path) -> None:
    async with running_mail_catcher(folder=tmp_path) as mail:
        sent = confirmation()
        # The treasurer is a Bcc: only the envelope knows about them.
        await send(mail, sent, recipients=[BOARD, TREASURER])

        [received] = await mail.wait_for(1)
        assert received.message_id == sent["Message-ID"]
        assert received.to == (BOARD, TREASURER)
        assert received.header_to == (BOARD,)
        assert received.header_from == "Knutepunkt Strømsø <noreply@example.org>"
        assert received.subject == "Bookingen din er bekreftet"
        assert received.text == "Hei!\nMøterom 1 er booket torsdag 15. januar kl. 10–12.\n"
        assert received.has_html
        assert received.html is not None and "<p>Møterom 1 er booket.</p>" in received.html
        [invite] = received.attachments
        assert (invite.filename, invite.content_type) == ("invite.ics", "text/calendar")
        assert b"DTSTART:20270115T090000Z" in invite.content
        assert received.received_at.utcoffset() == timedelta(0)

        assert received.eml_path is not None and received.eml_path.parent == tmp_path
        from_disk = BytesParser(policy=email.policy.default).parsebytes(
            received.eml_path.read_bytes()
        )
        assert from_disk["Message-ID"] == sent["Message-ID"]

        assert mail.http_url is not None
        async with httpx.AsyncClient(base_url=mail.http_url) as http:
            listing = (await http.get("/messages")).json()
            assert [m["id"] for m in listing] == [received.id]
            summary = listing[0]
            assert summary["to"] == [BOARD, TREASURER]
            assert summary["subject"] == "Bookingen din er bekreftet"
            assert summary["has_html"] is True
            assert summary["attachments"] == [
                {
                    "filename": "invite.ics",
                    "content_type": "text/calendar",
                    "size": len(ICS.encode()),
                }
            ]
            assert "text" not in summary

            one = await http.get(f"/messages/{received.id}")
            assert one.status_code == 200
            assert one.json()["text"] == received.text
            assert one.json()["html"] == received.html
            raw = await http.get(f"/messages/{received.id}/raw")
            assert raw.content == received.eml_path.read_bytes()
            assert (await http.get(f"/messages/{received.id + 1}")).status_code == 404

            assert (await http.delete("/messages")).status_code == 204
            assert (await http.get("/messages")).json() == []
        assert mail.messages == []
        assert received.eml_path.exists()


async def test_messages_are_listed_oldest_first_and_ids_keep_counting_after_a_clear() -> None:
    async with running_mail_catcher() as mail:
        for n in range(3):
            await send(mail, confirmation(f"Melding {n}"))
        received = await mail.wait_for(3)
        assert [m.subject for m in received] == ["Melding 0", "Melding 1", "Melding 2"]
        assert [m.id for m in received] == [1, 2, 3]

        mail.clear()
        await send(mail, confirmation("Etter tømming"))
        later = await mail.wait_for(lambda m: m.subject == "Etter tømming")
        assert later.id == 4
        assert mail.attempts == 4


async def test_a_message_sent_twice_is_kept_twice_and_its_message_id_counted() -> None:
    async with running_mail_catcher() as mail:
        again = confirmation("To ganger")
        for message in (again, again, confirmation("En gang")):
            await send(mail, message)
        await mail.wait_for(3)
        assert mail.repeated_message_ids() == {again["Message-ID"]: 2}


@pytest.mark.parametrize(("mode", "code"), [("tempfail", 451), ("permfail", 550)])
async def test_a_refusing_mode_answers_rcpt_with_its_code(mode: str, code: int) -> None:
    async with running_mail_catcher(http=False) as mail:
        mail.set_mode(mode)  # type: ignore[arg-type]
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await send(mail, confirmation())
        assert [r.code for r in refused.value.recipients] == [code]
        assert mail.attempts == 1
        assert mail.messages == []

        mail.set_mode("ok")
        await send(mail, confirmation())
        await mail.wait_for(1)
        assert mail.attempts == 2


async def test_a_mode_can_fail_at_data_instead() -> None:
    async with running_mail_catcher(http=False) as mail:
        mail.set_mode("tempfail", at="data")
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await send(mail, confirmation())
        assert refused.value.code == 451
        assert mail.messages == []


async def test_a_mode_limited_to_some_attempts_then_accepts_again() -> None:
    async with running_mail_catcher(http=False) as mail:
        mail.set_mode("tempfail", attempts=2)
        outcomes = []
        for _ in range(3):
            try:
                await send(mail, confirmation())
                outcomes.append(250)
            except aiosmtplib.SMTPRecipientsRefused as refused:
                outcomes.append(refused.recipients[0].code)
        assert outcomes == [451, 451, 250]
        assert mail.attempts == 3
        assert mail.mode == "ok"
        assert len(await mail.wait_for(1)) == 1


async def test_the_mode_can_be_set_and_read_over_http() -> None:
    async with running_mail_catcher() as mail:
        assert mail.http_url is not None
        async with httpx.AsyncClient(base_url=mail.http_url) as http:
            answer = await http.post("/control/mode", json={"mode": "permfail"})
            assert answer.status_code == 200
            assert answer.json()["mode"] == "permfail"
            assert (await http.post("/control/mode", json={"mode": "bounce"})).status_code == 422

            with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
                await send(mail, confirmation())
            state = (await http.get("/control/state")).json()
            assert state["attempts"] == 1
            assert state["messages"] == 0


async def test_down_refuses_connections_and_up_comes_back_on_the_same_port() -> None:
    async with running_mail_catcher(http=False) as mail:
        port = mail.port
        await mail.down()
        with pytest.raises(aiosmtplib.SMTPConnectError):
            await send(mail, confirmation(), timeout=5)
        await mail.up()
        assert mail.port == port
        await send(mail, confirmation())
        assert len(await mail.wait_for(1)) == 1


async def test_any_login_is_accepted_so_smtp_urls_with_credentials_work() -> None:
    async with running_mail_catcher(http=False) as mail:
        await send(mail, confirmation(), username="knutepunkt", password="hemmelig")
        assert len(await mail.wait_for(1)) == 1


async def test_waiting_gives_up_at_the_deadline_and_says_what_arrived() -> None:
    async with running_mail_catcher(http=False) as mail:
        await send(mail, confirmation())
        with pytest.raises(TimeoutError, match=r"expected 2 emails within 0\.05s, got 1"):
            await mail.wait_for(2, timeout=0.05)
        with pytest.raises(TimeoutError, match=r"1 received, none matched"):
            await mail.wait_for(lambda m: m.subject == "Noe annet", timeout=0.05)


async def test_addresses_and_subjects_stay_out_of_the_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_mail_catcher(http=False) as mail:
        await send(mail, confirmation(), recipients=[BOARD, TREASURER])
        await mail.wait_for(1)
    assert "mail received id=1 recipients=2" in caplog.text
    for personal in (BOARD, TREASURER, "noreply@example.org", "Bookingen din er bekreftet"):
        assert personal not in caplog.text


async def test_a_message_is_parsed_when_read_not_when_received() -> None:
    # Parsing in the SMTP thread before answering DATA cost most of the catcher's time.
    async with running_mail_catcher(http=False) as mail:
        await send(mail, confirmation())
        [received] = await mail.wait_for(1)
        assert "_parsed" not in vars(received)
        assert received.subject == "Bookingen din er bekreftet"
        assert "_parsed" in vars(received)
        assert received.message is received.message
