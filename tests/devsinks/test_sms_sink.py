"""The SMS sink, driven over real HTTP in each provider's request shape."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from knutepunkt.devsinks import Fault, SmsSink
from knutepunkt.devsinks.http_server import HttpServer
from knutepunkt.devsinks.sms_providers import PROVIDERS
from knutepunkt.devsinks.testing import running_sms_sink
from knutepunkt.devsinks.waiting import wait_for_count
from shared.sms_text import sms_segments as sms_parts

# Placeholder numbers only, never a real person's.
NUMBER = "+4700000000"
SVEVE_NUMBER = "00000000"
TEXT = "Bestillingen din fra Café Jasmin er klar for henting."


async def send(http: httpx.AsyncClient, provider: str, reference: str) -> httpx.Response:
    """One SMS in the request shape the notify service uses for that SMS_PROVIDER."""
    if provider == "generic":
        body = {"to": NUMBER, "from": "Knutepunkt", "message": TEXT, "reference": reference}
        return await http.post("/sms", json=body)
    if provider == "linkmobility":
        body = {
            "source": "Knutepunkt",
            "destination": NUMBER,
            "userData": TEXT,
            "platformId": "COMMON_API",
            "platformPartnerId": "12345",
            "refId": reference,
            "deliveryReportGates": ["gate-1"],
        }
        return await http.post("/sms/send", json=body, auth=("knutepunkt", "hemmelig"))
    form = {
        "user": "knutepunkt",
        "passwd": "hemmelig",
        "to": SVEVE_NUMBER,
        "msg": TEXT,
        "from": "Knutepunkt",
        "ref": reference,
        "f": "json",
    }
    return await http.post("/SMS/SendMessage", data=form)


def gateway_id(provider: str, answer: httpx.Response) -> str:
    body = answer.json()
    if provider == "generic":
        return str(body["id"])
    if provider == "linkmobility":
        return str(body["messageId"])
    return str(body["response"]["ids"][0])


@asynccontextmanager
async def sink_and_client(**kwargs: Any) -> AsyncIterator[tuple[SmsSink, httpx.AsyncClient]]:
    async with running_sms_sink(**kwargs) as sms, httpx.AsyncClient(base_url=sms.url) as http:
        yield sms, http


@asynccontextmanager
async def callback_receiver() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A stand-in for notify's delivery-report endpoint: records what it is sent."""
    received: list[dict[str, Any]] = []
    app = FastAPI()

    @app.post("/reports")
    async def report(request: Request) -> dict[str, str]:
        received.append(await request.json())
        return {"status": "ok"}

    server = HttpServer(app)
    await server.start()
    try:
        yield f"{server.url}/reports", received
    finally:
        await server.stop()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_each_provider_shape_is_accepted_and_listed(provider: str) -> None:
    async with sink_and_client() as (sms, http):
        answer = await send(http, provider, reference=f"evt-1:cafe:{provider}")
        assert answer.status_code == {"generic": 202, "linkmobility": 200, "sveve": 200}[provider]
        sent_id = gateway_id(provider, answer)

        [received] = await sms.wait_for(1)
        assert received.id == sent_id
        assert received.provider == provider
        assert received.to == (SVEVE_NUMBER if provider == "sveve" else NUMBER)
        assert received.sender == "Knutepunkt"
        assert received.text == TEXT
        assert received.reference == f"evt-1:cafe:{provider}"
        assert received.received_at.utcoffset() is not None

        listing = (await http.get("/messages")).json()
        assert [(m["id"], m["provider"], m["text"]) for m in listing] == [(sent_id, provider, TEXT)]
        assert (await http.get(f"/messages/{sent_id}")).json()["reference"] == received.reference
        assert (await http.delete("/messages")).status_code == 204
        assert (await http.get("/messages")).json() == []


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_repeated_reference_is_answered_as_before_and_not_sent_again(
    provider: str,
) -> None:
    async with sink_and_client() as (sms, http):
        first = gateway_id(provider, await send(http, provider, "delivery-1"))
        again = gateway_id(provider, await send(http, provider, "delivery-1"))
        other = gateway_id(provider, await send(http, provider, "delivery-2"))
        assert again == first and other != first
        assert [m.reference for m in sms.messages] == ["delivery-1", "delivery-2"]
        assert sms.repeats == 1 and sms.attempts == 3
        assert (await http.get("/control/state")).json()["repeats"] == 1


async def test_the_provider_answers_look_like_the_real_gateways() -> None:
    async with sink_and_client() as (_, http):
        link = (await send(http, "linkmobility", "r1")).json()
        assert link["resultCode"] == 1005
        assert link["description"] == "Queued"
        sveve = (await send(http, "sveve", "r2")).json()["response"]
        assert sveve["msgOkCount"] == 1
        assert sveve["stdSMSCount"] == 1
        assert isinstance(sveve["ids"][0], int)

        # Without f=json Sveve answers in XML; a query string works as well as a form.
        query = {"user": "u", "passwd": "p", "to": f"{SVEVE_NUMBER},12", "msg": "Hei"}
        xml = await http.get("/SMS/SendMessage", params=query)
        assert xml.headers["content-type"].startswith("text/xml")
        assert "<msgOkCount>1</msgOkCount>" in xml.text
        assert "<number>12</number>" in xml.text


@pytest.mark.parametrize(
    ("path", "request_kwargs", "status"),
    [
        ("/sms", {"json": {"message": "Hei"}}, 400),
        ("/sms", {"json": {"to": "90000000", "message": "Hei"}}, 400),
        ("/sms", {"content": b"not json", "headers": {"content-type": "application/json"}}, 400),
        ("/sms/send", {"json": {"destination": NUMBER, "userData": "Hei"}}, 401),
        (
            "/sms/send",
            {"json": {"destination": NUMBER, "userData": "Hei"}, "auth": ("u", "p")},
            400,
        ),
    ],
)
async def test_malformed_requests_get_a_clear_4xx_and_nothing_is_kept(
    path: str, request_kwargs: dict[str, Any], status: int
) -> None:
    async with sink_and_client() as (sms, http):
        answer = await http.post(path, **request_kwargs)
        assert answer.status_code == status
        assert answer.json()
        assert sms.messages == []
        assert sms.attempts == 1


async def test_sveve_refuses_inside_a_200_like_the_real_one() -> None:
    async with sink_and_client() as (sms, http):
        answer = await http.post(
            "/SMS/SendMessage", data={"to": SVEVE_NUMBER, "msg": "Hei", "f": "json"}
        )
        assert answer.status_code == 200
        assert answer.json()["response"]["msgOkCount"] == 0
        assert "passord" in answer.json()["response"]["fatalError"]
        assert sms.messages == []


async def test_expected_credentials_are_enforced_when_configured() -> None:
    from knutepunkt.devsinks.sms_providers import SinkAuth

    auth = SinkAuth(username="knutepunkt", password="riktig", token="t0k3n")
    async with sink_and_client(auth=auth) as (sms, http):
        assert (await send(http, "linkmobility", "r")).status_code == 401
        assert (await send(http, "generic", "r")).status_code == 401
        answer = await http.post(
            "/sms",
            json={"to": NUMBER, "message": "Hei"},
            headers={"authorization": "Bearer t0k3n"},
        )
        assert answer.status_code == 202
        assert len(sms.messages) == 1


async def test_injected_faults_are_answered_in_order_then_normal_again() -> None:
    async with sink_and_client() as (sms, http):
        sms.add_faults(500, 500, 429)
        statuses = [(await send(http, "generic", f"r{n}")).status_code for n in range(4)]
        assert statuses == [500, 500, 429, 202]
        assert sms.attempts == 4
        assert [m.reference for m in sms.messages] == ["r3"]
        assert sms.pending_faults == []


async def test_faults_can_be_queued_over_http_with_a_retry_after() -> None:
    async with sink_and_client() as (sms, http):
        queued = await http.post(
            "/control/faults", json={"responses": [503, {"status": 429, "retry_after": 7}]}
        )
        assert queued.status_code == 200
        assert len((await http.get("/control/faults")).json()["pending"]) == 2

        first = await send(http, "linkmobility", "r")
        second = await send(http, "linkmobility", "r")
        third = await send(http, "linkmobility", "r")
        assert (first.status_code, second.status_code, third.status_code) == (503, 429, 200)
        assert second.headers["retry-after"] == "7"
        assert len(sms.messages) == 1

        refused = await http.post("/control/faults", json={"responses": [500, 99]})
        assert refused.status_code == 422
        assert sms.pending_faults == []
        sms.add_faults(Fault(500))
        assert (await http.delete("/control/faults")).status_code == 204
        assert (await send(http, "sveve", "r")).status_code == 200


async def test_down_refuses_connections_and_up_serves_again_on_the_same_port() -> None:
    async with sink_and_client() as (sms, http):
        assert (await send(http, "generic", "before")).status_code == 202
        port = sms.port
        await sms.down()
        with pytest.raises(httpx.ConnectError):
            await send(http, "generic", "while-down")
        await sms.up()
        assert sms.port == port
        assert (await send(http, "generic", "after")).status_code == 202
        assert [m.reference for m in sms.messages] == ["before", "after"]


async def test_a_delivery_report_is_posted_to_the_callback_on_request() -> None:
    async with callback_receiver() as (callback_url, reports), sink_and_client() as (sms, http):
        sent_id = gateway_id("generic", await send(http, "generic", "evt-9:desk:sms"))

        answer = await http.post(
            "/control/deliver",
            json={"id": sent_id, "status": "delivered", "callback_url": callback_url},
        )
        assert answer.status_code == 200
        assert answer.json()["callback_status"] == 200
        assert reports == [
            {
                "id": sent_id,
                "reference": "evt-9:desk:sms",
                "status": "delivered",
                "provider": "generic",
            }
        ]
        assert sms.get(sent_id).status == "delivered"

        assert await sms.deliver(sent_id, "failed", callback_url) == 200
        assert reports[-1]["status"] == "failed"
        assert sms.get(sent_id).status == "failed"

        unknown = await http.post(
            "/control/deliver", json={"id": "nope", "callback_url": callback_url}
        )
        assert unknown.status_code == 404
        nowhere = await http.post("/control/deliver", json={"id": sent_id})
        assert nowhere.status_code == 422


async def test_an_unreachable_callback_is_a_502_on_the_control_api() -> None:
    # A bound socket that never listens: connections to it are refused.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{closed.getsockname()[1]}/reports"
        async with sink_and_client() as (sms, http):
            sent_id = gateway_id("generic", await send(http, "generic", "r"))
            answer = await http.post(
                "/control/deliver", json={"id": sent_id, "callback_url": dead_url}
            )
            assert answer.status_code == 502
            assert sms.get(sent_id).status == "accepted"
            assert sms.get(sent_id).reports[0]["error"] == "ConnectError"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_auto_reports_go_to_the_configured_callback(provider: str) -> None:
    async with (
        callback_receiver() as (callback_url, reports),
        sink_and_client(report_url=callback_url, auto_report="delivered") as (_, http),
    ):
        sent_id = gateway_id(provider, await send(http, provider, "evt-3:cafe:sms"))
        [report] = await wait_for_count(lambda: reports, 1, 5.0, "reports")
    assert report == {
        "id": sent_id,
        "reference": "evt-3:cafe:sms",
        "status": "delivered",
        "provider": provider,
    }


async def test_a_generic_request_may_name_its_own_callback() -> None:
    async with (
        callback_receiver() as (callback_url, reports),
        sink_and_client(auto_report="failed") as (_, http),
    ):
        body = {"to": NUMBER, "message": "Hei", "reference": "r", "callback_url": callback_url}
        sent = await http.post("/sms", json=body)
        [report] = await wait_for_count(lambda: reports, 1, 5.0, "reports")
    assert report["id"] == sent.json()["id"]
    assert report["status"] == "failed"


async def test_accepted_sms_are_appended_to_a_json_lines_file(tmp_path: Path) -> None:
    log_file = tmp_path / "sinks" / "sms.jsonl"
    async with sink_and_client(log_file=log_file) as (_, http):
        for provider in PROVIDERS:
            await send(http, provider, f"ref-{provider}")
    lines = [json.loads(line) for line in log_file.read_text(encoding="utf-8").splitlines()]
    assert [(line["provider"], line["reference"], line["text"]) for line in lines] == [
        (provider, f"ref-{provider}", TEXT) for provider in PROVIDERS
    ]


async def test_numbers_and_texts_stay_out_of_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with sink_and_client() as (_, http):
        for provider in PROVIDERS:
            await send(http, provider, "evt-5:desk:sms")
        await http.get("/SMS/SendMessage", params={"user": "u", "passwd": "p", "to": "12"})
    assert "sms received provider=generic" in caplog.text
    assert "ref=evt-5:desk:sms chars=53" in caplog.text
    for personal in (NUMBER, SVEVE_NUMBER, TEXT, "hemmelig"):
        assert personal not in caplog.text


@pytest.mark.parametrize(
    ("text", "parts"),
    [("a" * 160, 1), ("a" * 161, 2), ("æøå" * 60, 2), ("€" * 80, 1), ("€" * 81, 2), ("😀" * 35, 1)],
)
def test_sms_parts_follow_gsm_and_ucs2_lengths(text: str, parts: int) -> None:
    assert sms_parts(text) == parts
