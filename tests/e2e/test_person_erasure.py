"""A person's data through its whole life, on the whole hub as real processes (four services,
real Redis, SQLite, a real SMTP server and SMS gateway stub): seed one person everywhere (a
booking with catering, a sign-up, a loan, an order, the messages they caused, a dead letter
of one of their events), export it, erase them with a service stopped, restart it, and
search every table, stream entry, dead letter, delivery row and service log for their name,
phone and email: no hit. Another person's data is untouched and a replay of their dead
letter delivers."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from knutepunkt.ops.person import erase_all, still_pending
from shared.calendar import at_local, utcnow
from shared.events import BOOKING_STREAM, Envelope, dlq_stream, encode_entry
from shared.messaging import dead_letters, dlq
from shared.messaging.redis import StreamNames, as_entries, as_str
from tests.e2e.hub import SERVICES, Hub, open_meeting_day, running_hub
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow

TOKENS = {"booking": "pe-booking", "desk": "pe-desk", "cafe": "pe-cafe", "admin": "pe-admin"}
KARI = {"name": "Kari Slettemann", "email": "kari.slettemann@example.org", "phone": "+4700000077"}
PER = {"name": "Per Beholdsen", "email": "per.beholdsen@example.org", "phone": "+4700000088"}
KARI_TRACES = (
    "kari slettemann",
    "slettemann",
    "kari.slettemann@example.org",
    "+4700000077",
    "00000077",
    "000 00 077",
)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def hub(tmp_path: Path, redis_url: str, prefix: str) -> AsyncIterator[Hub]:
    quiet = {
        "ERASURE_POLL_SECONDS": "1",
        "NOTIFY_DIGEST_DESK_ENABLED": "false",
        "NOTIFY_DIGEST_CAFE_ENABLED": "false",
        "NOTIFY_DIGEST_BOOKING_ENABLED": "false",
    }
    async with running_hub(tmp_path, redis_url, prefix, TOKENS, quiet) as made:
        yield made


async def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def seed(hub: Hub) -> dict[str, Any]:
    """Kari everywhere, Per beside her."""
    rooms = (await hub.http.get(hub.url("booking", "/resources"))).json()
    room1 = next(r for r in rooms if r["name"] == "Møterom 1")
    room2 = next(r for r in rooms if r["name"] == "Møterom 2")
    day = open_meeting_day()
    start = at_local(day, time(11, 0))
    kari_booking = await _created(
        await hub.http.post(
            hub.url("booking", "/bookings"),
            json={
                "resource_id": room1["id"],
                "start": start.isoformat(),
                "end": (start + timedelta(hours=2)).isoformat(),
                "booker_type": "person",
                "booker": KARI,
                "title": "Kari Slettemanns bursdag",
                "attendees": 6,
                "catering": {
                    "lines": [{"item_id": "kaffe-te", "quantity": 6}],
                    "people": 6,
                    "serve_at": start.isoformat(),
                    "note": "Kari Slettemann er allergisk mot nøtter",
                },
            },
        )
    )
    course = await _created(
        await hub.http.post(
            hub.url("booking", "/bookings"),
            json={
                "resource_id": room2["id"],
                "start": start.isoformat(),
                "end": (start + timedelta(hours=2)).isoformat(),
                "booker_type": "person",
                "booker": PER,
                "title": "Datakurs for nybegynnere",
                "public": True,
                "signup_capacity": 10,
            },
        )
    )
    signup = await _created(
        await hub.http.post(
            hub.url("booking", f"/activities/{course['id']}/registrations"),
            json={"name": KARI["name"], "email": KARI["email"], "phone": KARI["phone"]},
        )
    )
    pcs = (
        await hub.http.get(
            hub.url("loans", "/items"), params={"kind": "pc"}, headers=hub.staff("desk")
        )
    ).json()
    loan = await _created(
        await hub.http.post(
            hub.url("loans", "/loans"),
            headers=hub.staff("desk"),
            json={
                "item_id": pcs[0]["id"],
                "borrower": {"name": KARI["name"], "phone": KARI["phone"], "email": KARI["email"]},
                "started_at": (utcnow() - timedelta(days=6)).isoformat(),
                "due_date": (utcnow() - timedelta(days=4)).date().isoformat(),
            },
        )
    )
    order = await _created(
        await hub.http.post(
            hub.url("catering", "/orders"),
            json={
                "kind": "takeaway",
                "pickup_at": at_local(day, time(13, 0)).isoformat(),
                "lines": [{"item_id": "kanelbolle", "quantity": 1}],
                "customer": KARI,
                "note": "Kari Slettemann henter selv",
            },
        )
    )
    return {
        "booking": kari_booking,
        "course": course,
        "signup": signup,
        "loan": loan,
        "order": order,
    }


async def drained(hub: Hub) -> bool:
    got = await hub.http.get(hub.url("notify", "/notifications"), headers=hub.staff("admin"))
    rows = got.json()
    items = rows["items"] if isinstance(rows, dict) else rows
    return bool(items) and all(i["status"] not in ("queued", "sending") for i in items)


async def dead_letter_of(redis: Redis, names: StreamNames, email: str) -> str:
    """A copy of the person's BookingConfirmed under a new id, dead-lettered by notify as a
    handler error would (notify never handled this copy: a replay of it delivers)."""
    for _id, raw in as_entries(await redis.xrange(names(BOOKING_STREAM))):
        envelope = Envelope.model_validate_json(raw[b"__data__"])
        if envelope.type == "BookingConfirmed" and envelope.data["booker"]["email"] == email:
            copy = envelope.model_copy(update={"id": envelope.id + "-dl"})
            fields = {k.encode(): v.encode() for k, v in encode_entry(copy).items()}
            record = dead_letters.record(
                fields,
                stream=BOOKING_STREAM,
                entry_id=as_str(_id),
                group="notify",
                consumer="notify-x",
                error="TimeoutError: the SMTP server did not answer",
                deliveries=5,
            )
            await redis.xadd(dlq_stream(names(BOOKING_STREAM)), record)
            return copy.id
    raise AssertionError(f"no BookingConfirmed for {email}")


def search_databases(hub: Hub, traces: tuple[str, ...]) -> tuple[int, int, int, list[str]]:
    """(tables, rows, values searched, hits) over every table of every service's database."""
    tables = rows = values = 0
    hits: list[str] = []
    for service in SERVICES:
        with sqlite3.connect(hub.database(service)) as db:
            names = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for table in names:
                tables += 1
                for found in db.execute(f'SELECT * FROM "{table}"'):
                    rows += 1
                    for value in found:
                        values += 1
                        text = (
                            value.decode(errors="replace")
                            if isinstance(value, bytes)
                            else str(value)
                        )
                        if any(t in text.lower() for t in traces):
                            hits.append(f"{service}.{table}: {text[:120]}")
    return tables, rows, values, hits


async def search_streams(
    redis: Redis, prefix: str, traces: tuple[str, ...]
) -> tuple[int, int, list[str]]:
    streams = entries = 0
    hits: list[str] = []
    async for key in redis.scan_iter(match=f"{prefix}*", _type="STREAM"):
        streams += 1
        for entry_id, raw in as_entries(await redis.xrange(key)):
            entries += 1
            text = b" ".join(raw.values()).decode(errors="replace").lower()
            if any(t in text for t in traces):
                hits.append(f"{as_str(key)} {as_str(entry_id)}")
    return streams, entries, hits


def search_logs(hub: Hub, traces: tuple[str, ...]) -> tuple[int, int, list[str]]:
    files = lines = 0
    hits: list[str] = []
    for proc in hub.procs.values():
        files += 1
        for line in proc.log_path.read_text(errors="replace").splitlines():
            lines += 1
            if any(t in line.lower() for t in traces):
                hits.append(f"{proc.service}: {line[:160]}")
    return files, lines, hits


async def test_a_person_is_exported_and_erased_everywhere_and_another_is_not(
    hub: Hub, redis: Redis, prefix: str
) -> None:
    seeded = await seed(hub)
    await wait_for(lambda: drained(hub), timeout=90, message="notify drained")
    names = StreamNames(prefix)

    async def order_of_booking() -> bool:
        got = await hub.http.get(
            hub.url("catering", f"/orders/{seeded['order']['id']}"), headers=hub.staff("cafe")
        )
        return got.status_code == 200

    await wait_for(order_of_booking, timeout=30, message="the order is stored")
    await dead_letter_of(redis, names, KARI["email"])
    per_copy = await dead_letter_of(redis, names, PER["email"])

    # Access: every service's answer in one export, through the CLI as an admin runs it.
    out = hub.tmp / "innsyn"
    cli_env = {**hub.env, "STAFF_TOKENS": f"{TOKENS['admin']}:admin", "PATH": "/usr/bin:/bin"}
    for service, proc in hub.procs.items():
        cli_env[f"{service.upper()}_URL"] = proc.url
    ran = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-c",
            "from knutepunkt.cli import main; main()",
            "person",
            "export",
            "--email",
            KARI["email"],
            "--phone",
            KARI["phone"],
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    export = json.loads(out.with_suffix(".json").read_text())
    held = export["services"]
    assert export["complete"] and not export["missing"]
    assert [b["id"] for b in held["booking"]["bookings"]] == [seeded["booking"]["id"]]
    assert [r["id"] for r in held["booking"]["registrations"]] == [seeded["signup"]["id"]]
    assert [loan["id"] for loan in held["loans"]["loans"]] == [seeded["loan"]["id"]]
    orders = {o["id"] for o in held["catering"]["orders"]}
    assert seeded["order"]["id"] in orders and len(orders) == 2  # and the booking's catering
    assert len(held["notify"]["notifications"]) >= 3
    assert "Kari Slettemann" in out.with_suffix(".md").read_text()
    # ...and the staff's reads of her data: the café's look at her order, the admin's lists
    # of messages, the desk's check-out (a change).
    seen = {(e["service"], e["action"], e["what"]) for e in export["access_log"]}
    assert ("catering", "read", "GET /orders/{order_id}") in seen, seen
    assert ("notify", "read", "GET /notifications") in seen, seen
    assert ("loans", "change", "POST /loans") in seen, seen

    # The search finds her before the erasure: in each database, and in streams and dead
    # letters.
    *_counts, before = search_databases(hub, KARI_TRACES)
    assert {h.split(".")[0] for h in before} == set(SERVICES), before
    _s, _e, in_streams = await search_streams(redis, prefix, KARI_TRACES)
    assert any(".dlq" in h for h in in_streams) and any(".dlq" not in h for h in in_streams)

    # Erasure with catering stopped: the others are done at once, catering pending; once
    # started again it erases on its own (nobody asks it again).
    hub.procs["catering"].stop()
    kari = {"email": KARI["email"], "phone": KARI["phone"]}
    first = await erase_all(hub.target(), kari)
    assert first["services"]["catering"].startswith("pending: not answering"), first
    for service in ("booking", "loans", "notify"):
        assert "missing" not in first["answers"][service], first["answers"][service]
    left = await still_pending(hub.target())
    assert left["catering"] == [first["request_id"]]
    hub.procs["catering"].start(wait=False)
    await asyncio.to_thread(hub.procs["catering"].wait_ready, 120)

    async def all_done() -> bool:
        return not any((await still_pending(hub.target())).values())

    await wait_for(all_done, timeout=60, message="every service done")
    await wait_for(lambda: drained(hub), timeout=60, message="notify drained")

    # The search: every table, stream entry, dead letter, delivery row and log line.
    tables, rows, values, db_hits = search_databases(hub, KARI_TRACES)
    streams, entries, stream_hits = await search_streams(redis, prefix, KARI_TRACES)
    files, lines, log_hits = search_logs(hub, KARI_TRACES)
    print(
        f"\nerasure search: {tables} tables ({rows} rows, {values} values) in 4 databases, "
        f"{entries} entries in {streams} streams (dead letters included), {lines} log lines "
        f"in {files} service logs: {len(db_hits) + len(stream_hits) + len(log_hits)} hits"
    )
    assert not db_hits, db_hits
    assert not stream_hits, stream_hits
    assert not log_hits, log_hits

    # Per is untouched: his booking, and a replay of his dead letter delivers.
    _t, _r, _v, per_hits = search_databases(hub, (PER["email"],))
    assert any(h.startswith("booking.bookings") for h in per_hits)
    letters = await dlq.list_dead_letters(redis, names, [BOOKING_STREAM])
    [per_letter] = [x for x in letters if x.payload and per_copy in x.payload]
    await dlq.replay(redis, names, per_letter)

    async def per_told() -> bool:
        got = await hub.http.get(
            hub.url("notify", "/notifications"),
            headers=hub.staff("admin"),
            params={"event_id": per_copy},
        )
        body = got.json()
        items = body["items"] if isinstance(body, dict) else body
        return any(i["status"] == "sent" and i["recipient_kind"] == "person" for i in items)

    await wait_for(per_told, timeout=60, message="Per's replayed event delivered")
