"""The compose scenario's checks against canned sink answers (no container): a missing
message is reported missing, and a message delivered twice fails the run."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.hub_client import CAFE_EMAIL, CAFE_PHONE, Booked, HubClient, org_number
from deploy.outcome import StepFailed
from deploy.stack import Stack
from services.booking.domain import normalise_org_number

ORDER_ID = "0b6f3a52-8e7e-4c4b-9d8e-3f3c1b1f0a11"
BOOKED = Booked("first", "b-1", "m-1", date(2031, 3, 4), "leder0@klubb0.example.org")


class CannedStack(Stack):
    def notify_urls(self) -> list[str]:
        return ["http://notify.test"]


def sinks(mails: list[dict[str, Any]], sms: list[dict[str, Any]]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url.startswith("http://mail.test/messages/"):
            found = [m for m in mails if url.endswith(f"/{m['id']}")]
            return httpx.Response(200, json={"text": found[0]["text"]})
        routes: dict[str, Any] = {
            "http://mail.test/messages": mails,
            "http://sms.test/messages": sms,
            "http://catering.test/orders": [
                {"id": ORDER_ID, "booking_id": BOOKED.id, "status": "placed"}
            ],
        }
        if request.url.path == "/notifications":
            return httpx.Response(200, json=[])
        return httpx.Response(200, json=routes[url])

    return httpx.MockTransport(answer)


def client(mails: list[dict[str, Any]], sms: list[dict[str, Any]]) -> HubClient:
    stack = CannedStack(
        podman=None,  # type: ignore[arg-type]
        repo=Path("."),
        project_dir=Path("."),
        project="test",
        variables={
            "STAFF_TOKENS": "t1:desk,t2:cafe,t3:admin+booking",
            "MAIL_HTTP_PORT": "1",
            "SMS_HTTP_PORT": "2",
            "CATERING_HTTP_PORT": "3",
        },
    )
    hub = HubClient(stack, http=httpx.Client(transport=sinks(mails, sms)))
    hosts = {"mail": "mail.test", "sms": "sms.test", "catering": "catering.test"}
    stack.base_url = lambda name: f"http://{hosts[name]}"  # type: ignore[method-assign]
    return hub


def mail(n: int, to: str, subject: str, text: str = "", ics: bool = False) -> dict[str, Any]:
    attachments = [{"content_type": "text/calendar; method=PUBLISH"}] if ics else []
    return {"id": n, "to": [to], "subject": subject, "text": text, "attachments": attachments}


ALL_MAIL = [
    mail(1, BOOKED.booker_email, "Bookingen er bekreftet: Møterom 1 tirsdag 4. mars", ics=True),
    mail(2, CAFE_EMAIL, "Ny bestilling: 8 pers., henting", f"Hei\nReferanse: {ORDER_ID}\n"),
]
CAFE_SMS = {"to": CAFE_PHONE, "text": "Ny bestilling: henting tir. 4.3. kl. 11:00, 8 pers."}


def test_everything_there_is_found() -> None:
    assert client(ALL_MAIL, [CAFE_SMS]).missing_for(BOOKED) == []


def test_each_missing_message_is_named() -> None:
    without_ics = [{**ALL_MAIL[0], "attachments": []}, ALL_MAIL[1]]
    other_order = [ALL_MAIL[0], {**ALL_MAIL[1], "text": "Referanse: another"}]
    other_day = {**CAFE_SMS, "text": CAFE_SMS["text"].replace("4.3.", "5.3.")}
    assert client(without_ics, [CAFE_SMS]).missing_for(BOOKED) == [
        "the booker's confirmation email with an .ics"
    ]
    assert client(other_order, [CAFE_SMS]).missing_for(BOOKED) == ["the café's email"]
    assert client(ALL_MAIL, [other_day]).missing_for(BOOKED) == ["the café's SMS"]


def test_a_message_delivered_twice_fails() -> None:
    assert client(ALL_MAIL, [CAFE_SMS]).assert_each_delivered_once() == (2, 1)
    with pytest.raises(StepFailed, match="more than once"):
        client(ALL_MAIL, [CAFE_SMS, dict(CAFE_SMS)]).assert_each_delivered_once()
    with pytest.raises(StepFailed, match="more than once"):
        client([*ALL_MAIL, {**ALL_MAIL[0], "id": 3}], [CAFE_SMS]).assert_each_delivered_once()


def test_organisation_numbers_are_valid_and_distinct() -> None:
    numbers = [org_number(serial) for serial in range(50)]
    assert len(set(numbers)) == 50
    assert [normalise_org_number(n) for n in numbers] == numbers
