"""The HTTP API: access, clear 4xx, claims that never hand a delivery to two senders,
and a bounded schemathesis run (no 5xx)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import schemathesis
from sqlalchemy import insert

from services.notify import usecases
from services.notify.models import DeliveryRow
from services.notify.store import Store
from shared import access_log
from shared.db import Database
from shared.messaging.redis import StreamNames
from shared.unit_of_work import UnitsOfWork
from tests.notify.conftest import AUTH, Factory
from tests.notify.samples import sample
from tests.support.databases import sqlite_url
from tests.support.fuzz import fuzz_operations, operations_of
from tests.support.processes import service_process
from tests.support.servers import free_port
from tests.support.waiting import wait_for

EXAMPLES = 20


async def test_staff_only_with_clear_errors(hub: Factory) -> None:
    async with hub() as h:
        assert (await h.client.get("/notifications")).status_code == 401
        wrong = await h.client.get("/notifications", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        for token in ("tb", "td", "tc", "ta"):
            ok = await h.client.get("/notifications", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200
        missing = await h.client.get(f"/notifications/{uuid.uuid4()}", headers=AUTH)
        assert missing.status_code == 404
        bad = await h.client.get("/notifications?status=lost", headers=AUTH)
        assert bad.status_code == 422 and "status" in bad.json()["detail"]
        lookup = {"recipient": "+4700000020"}
        assert (await h.client.post("/preferences/lookup", json=lookup)).status_code == 401
        nonsense = await h.client.post(
            "/preferences/lookup", json={"recipient": "not-a-number"}, headers=AUTH
        )
        assert nonsense.status_code == 422
        search = await h.client.post("/notifications/search", json=lookup)
        assert search.status_code == 401
        for body in ({}, {"recipient": ""}, {"recipient": "a\x00@example.org"}, {**lookup, "x": 1}):
            bad_search = await h.client.post("/notifications/search", json=body, headers=AUTH)
            assert bad_search.status_code == 422, body
        # No address in a URL: the old forms are refused, not ignored or served.
        in_url = await h.client.get("/notifications?recipient=%2B4700000020", headers=AUTH)
        assert in_url.status_code == 422 and in_url.json()["code"] == "recipient_in_url"
        old_path = await h.client.get("/preferences/+4700000020", headers=AUTH)
        assert old_path.status_code in (404, 405)
        report = await h.client.post("/sms/delivery-reports", json={"status": "delivered"})
        assert report.status_code == 422
        unknown = await h.client.post(
            "/sms/delivery-reports", json={"reference": "x", "status": "delivered"}
        )
        assert unknown.status_code == 404


async def test_filters_detail_and_retry_only_when_failed(hub: Factory) -> None:
    async with hub() as h:
        event_id = await h.publish(sample("OrderPlaced"))
        rows = await wait_for(lambda: h.settled(event_id, 3), timeout=15)
        cafe = await h.notifications(recipient="kafe@example.org")
        assert [r["channel"] for r in cafe] == ["email"]
        by_phone = await h.notifications(recipient="+47 000 00 003")
        assert [r["channel"] for r in by_phone] == ["sms"]
        # A search by recipient is a POST that only reads: the access log says so.
        cafe_phone = access_log.identifiers(phones=["+4700000003"])

        async def searched() -> list[dict[str, str]]:
            entries = await access_log.entries(h.redis, StreamNames(h.prefix), cafe_phone)
            return [e for e in entries if e["what"] == "POST /notifications/search"]

        [entry] = await wait_for(searched, timeout=10)
        assert entry["action"] == "read"
        assert len(await h.notifications(event_id=event_id, status="sent")) == 3
        assert await h.notifications(status="failed") == []
        detail = await h.client.get(f"/notifications/{rows[0]['id']}", headers=AUTH)
        assert detail.status_code == 200 and detail.json()["body_text"]
        retry = await h.client.post(f"/notifications/{rows[0]['id']}/retry", headers=AUTH)
        assert retry.status_code == 409 and "sent" in retry.json()["detail"]


async def test_two_senders_never_claim_the_same_delivery(hub: Factory) -> None:
    # The running sender must not take this test's two for dead on a slow machine.
    async with hub(sender_stale_seconds=600) as h:
        runtime = h.service.runtime
        # Due only in a week: the running sender leaves them alone.
        later = datetime.now(UTC) + timedelta(days=400)
        now = runtime.now()
        rows = [
            {
                "id": str(uuid.uuid4()),
                "event_id": f"e{i}",
                "event_type": "OrderReady",
                "correlation_id": "c",
                "routes_version": 1,
                "template": "order_ready",
                "channel": "sms",
                "recipient": "+4700000099",
                "recipient_kind": "person",
                "recipient_name": "Test",
                "language": "nb",
                "urgent": True,
                "body_text": "x",
                "status": "queued",
                "attempts": 0,
                "next_attempt_at": later,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(60)
        ]
        async with runtime.db.transaction() as session:
            await session.execute(insert(DeliveryRow), rows)
        at = later + timedelta(seconds=1)
        # Two replicas, each with its own engine and sender instance, claiming twice at
        # the same moment, 25 at a time.
        replicas = [Database(runtime.settings.database_url) for _ in range(2)]
        real = datetime.now(UTC)
        try:
            units = [UnitsOfWork(db, runtime.tables, Store, lambda: at) for db in replicas]
            senders = [str(uuid.uuid4()) for _ in units]
            for unit, sender in zip(units, senders, strict=True):
                started = usecases.RegisterSender(sender, "test", 0, real)
                await unit.run(lambda uow, c=started: usecases.register_sender(uow, c))

            async def claim(unit: UnitsOfWork[Store], sender: str) -> list[DeliveryRow]:
                command = usecases.ClaimDue(sender, real, real + timedelta(seconds=120), 25)
                claimed = await unit.run(lambda uow: usecases.claim_due(uow, command))
                assert claimed is not None
                return claimed

            claims = await asyncio.gather(
                *(claim(u, s) for u, s in zip(units, senders, strict=True) for _ in range(2))
            )
        finally:
            for db in replicas:
                await db.dispose()
        ids = [row.id for batch in claims for row in batch]
        assert len(ids) == len(set(ids)) == 60
        assert all(row.attempts == 1 and row.status == "queued" for b in claims for row in b)


def test_openapi_fuzz_against_a_real_process_has_no_server_errors(
    redis_url: str, sync_prefix: str, tmp_path: Path
) -> None:
    env = {
        "REDIS_URL": redis_url,
        "STREAM_PREFIX": sync_prefix,
        "NOTIFY_DATABASE_URL": sqlite_url(tmp_path),
        "STAFF_TOKENS": "td:desk",
        "SMTP_URL": f"smtp://127.0.0.1:{free_port()}",
        "SMS_GATEWAY_URL": f"http://127.0.0.1:{free_port()}",
    }
    with service_process("notify", env, tmp_path) as proc:
        schema = schemathesis.openapi.from_url(f"{proc.url}/openapi.json")
        operations = operations_of(schema)
        assert len(operations) >= 7

        def call(case: schemathesis.Case, _: None) -> schemathesis.Response:
            # Half the cases as staff, so the rules behind the token are reached too.
            headers = AUTH if len(repr(case.body)) % 2 else {}
            return case.call(base_url=proc.url, headers=headers, timeout=10)

        server_errors = fuzz_operations(operations, call, examples=EXAMPLES).failures
        assert server_errors == [], server_errors
        assert proc.alive
