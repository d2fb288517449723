"""The ops commands against one real hub (real processes, embedded Redis): status, events
tail, dead letters, the demo day, docs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from shared.events import (
    BOOKING_STREAM,
    CATERING_STREAM,
    CONSUMERS,
    LOANS_STREAM,
    NOTIFY_STREAM,
    PRODUCERS,
    PoisonEvent,
    decode_entry,
    dlq_stream,
    encode_entry,
)
from shared.settings import SERVICES, parse_staff_tokens
from tests.faults.load import booking_body, free_slots
from tests.ops import events
from tests.ops.conftest import RunningHub
from tests.support.processes import ROOT
from tests.support.waiting import wait_for_sync

pytestmark = pytest.mark.slow


def _status(hub: RunningHub, *args: str) -> tuple[int, dict[str, Any]]:
    result = hub.run("status", "--json", *args)
    return result.exit_code, json.loads(result.stdout)


def _healthy(hub: RunningHub) -> bool:
    return _status(hub)[0] == 0


def _caught_up(hub: RunningHub, stream: str, after: bytes | str) -> bool:
    """Every group of `stream` has read past `after` and acknowledged everything."""
    after = after.decode() if isinstance(after, bytes) else after
    for group in hub.redis.xinfo_groups(stream):
        last = group["last-delivered-id"].decode()
        if group["pending"] or _id(last) < _id(after):
            return False
    return True


def _id(entry_id: str) -> tuple[int, int]:
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


def _admin(hub: RunningHub) -> dict[str, str]:
    tokens = parse_staff_tokens(hub.summary.staff_tokens)
    token = next(t for t, roles in tokens.items() if "admin" in roles)
    return {"Authorization": f"Bearer {token}"}


def _deliveries(hub: RunningHub, event_id: str) -> list[dict[str, Any]]:
    url = f"{hub.summary.service_urls['notify']}/notifications"
    response = httpx.get(url, params={"event_id": event_id}, headers=_admin(hub), timeout=5)
    assert response.status_code == 200, response.text
    return list(response.json())


@contextlib.contextmanager
def _paused(pid: int) -> Iterator[None]:
    """The service stops answering (SIGSTOP) without exiting, which would end the hub."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_status_healthy_then_a_stopped_service_then_a_dead_letter(hub: RunningHub) -> None:
    wait_for_sync(lambda: _healthy(hub), 30, interval=0.5, message="hub healthy")
    code, found = _status(hub)
    assert code == 0 and found["healthy"] and found["problems"] == []
    assert {s["name"]: s["ready"] for s in found["services"]} == dict.fromkeys(
        ("booking", "loans", "catering", "notify"), True
    )
    assert all(s["version"] and s["outbox_backlog"] is not None for s in found["services"])
    streams = {s["name"]: s for s in found["streams"]}
    assert set(streams) == set(PRODUCERS)
    for stream, groups in CONSUMERS.items():
        assert {g["name"] for g in streams[stream]["groups"]} == set(groups)
    plain = hub.run("status")
    assert plain.exit_code == 0 and "healthy" in plain.stdout and "notify" in plain.stdout

    # notify stops answering, and an event for it waits on loans.events.
    with _paused(hub.summary.pids["notify"]):
        hub.redis.xadd(LOANS_STREAM, encode_entry(events.loan_returned()))
        # A blocked XREADGROUP is served by Redis even while the process is stopped, so
        # the event is either still unread (lag) or delivered and unacknowledged (pending).
        limits = ("--max-lag", "0", "--max-pending-age", "0")
        code, found = _status(hub, "--timeout", "1", *limits)
        text = hub.run("status", "--timeout", "1")
    assert code == 1, found
    assert any(p.startswith("notify: not reachable") for p in found["problems"]), found
    assert [p for p in found["problems"] if p.startswith("loans.events: group notify ")], found
    assert text.exit_code == 1 and "notify: not reachable" in text.stdout
    wait_for_sync(lambda: _healthy(hub), 30, interval=0.5, message="healthy again")

    # An entry no consumer can read: each group dead-letters it at once.
    hub.redis.xadd(BOOKING_STREAM, {"__data__": "not json"})
    dlq = dlq_stream(BOOKING_STREAM)
    wait_for_sync(lambda: hub.redis.xlen(dlq) == 2, 30, interval=0.2, message="2 dead letters")
    code, found = _status(hub)
    assert code == 1
    assert "booking.events: 2 dead letter(s) in booking.events.dlq" in found["problems"]

    listed = hub.run_json("dlq", "list")
    assert sorted(d["group"] for d in listed) == ["catering", "notify"]
    shown = hub.run_json("dlq", "show", listed[0]["id"])
    assert shown["group"] == listed[0]["group"] and "not a valid envelope" in shown["error"]
    assert shown["deliveries"] == 1 and shown["event"] == {"__data__": "not json"}
    for letter in listed:
        assert hub.run_json("dlq", "purge", letter["id"])["purged"] is True
    assert hub.redis.xlen(dlq) == 0
    assert _status(hub)[0] == 0
    missing = hub.run("dlq", "show", listed[0]["id"])
    assert missing.exit_code == 2 and "no dead letter" in missing.output


def test_status_without_redis_is_a_connection_error(hub: RunningHub) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once the socket is closed
    result = hub.run("status", "--json", REDIS_URL=f"redis://127.0.0.1:{port}/0")
    assert result.exit_code == 2
    assert "cannot reach Redis" in result.output


def test_a_command_in_another_terminal_finds_the_running_hub_through_its_file(
    hub: RunningHub,
) -> None:
    """`knutepunkt up` in one terminal, `knutepunkt …` in another with nothing set: the
    launcher's file says where its Redis is (on a free port), where the services are, and
    the staff tokens it made."""
    unset: dict[str, str | None] = dict.fromkeys(
        ("REDIS_URL", "STREAM_PREFIX", "STAFF_TOKENS", *(f"{n.upper()}_URL" for n in SERVICES))
    )
    path = hub.var_dir / "hub.env"
    assert path.stat().st_mode & 0o777 == 0o600, "it holds the staff tokens"
    wait_for_sync(lambda: _healthy(hub), 30, interval=0.5, message="hub healthy")
    status = hub.run("status", "--json", **unset)
    assert status.exit_code == 0, status.output
    found = json.loads(status.stdout)
    assert {s["name"]: s["url"] for s in found["services"]} == hub.summary.service_urls
    assert found["healthy"], found["problems"]
    # The admin's token, from the file: each service answers the export.
    export = hub.run("person", "export", "--email", "ingen@example.org", **unset)
    assert export.exit_code == 0, export.output
    assert json.loads(export.stdout)["complete"] is True
    # Nothing to go by: the ops commands say so rather than guess.
    elsewhere = hub.run("person", "export", "--email", "ingen@example.org", **unset,
                        KNUTEPUNKT_VAR_DIR=str(hub.var_dir / "none"))  # fmt: skip
    assert elsewhere.exit_code == 2 and "STAFF_TOKENS" in elsewhere.output


def test_tail_shows_a_new_event_and_joins_no_group(hub: RunningHub) -> None:
    groups_before = hub.groups()
    argv = [sys.executable, "-c", "from knutepunkt.cli import main; main()", "events", "tail"]
    argv += ["--stream", BOOKING_STREAM, "--count", "1", "--timeout", "60"]
    tail = subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**os.environ, **hub.env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert tail.stderr
        assert tail.stderr.readline().startswith("following booking.events (new events)")
        before = hub.redis.xrevrange(BOOKING_STREAM, count=1)
        envelope = events.booking_confirmed()
        hub.redis.xadd(BOOKING_STREAM, encode_entry(envelope))
        out, err = tail.communicate(timeout=60)
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait(10)
    assert tail.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 1, out
    line = lines[0]
    assert "BookingConfirmed" in line and BOOKING_STREAM in line
    assert f"subject={envelope.data['booking_id']}" in line
    assert f"correlation={envelope.correlationid}" in line
    assert events.EMAIL not in line and events.PHONE not in line and "Testesen" not in line
    assert hub.groups() == groups_before
    assert {s: set(g) for s, g in CONSUMERS.items() if g} == {
        s: g for s, g in hub.groups().items() if g
    }

    # From a given id, as JSON Lines, with the personal data asked for.
    since = before[0][0].decode() if before else "0"
    result = hub.run(
        "events",
        "tail",
        "--stream",
        BOOKING_STREAM,
        "--from",
        since,
        "--count",
        "1",
        "--timeout",
        "10",
        "--type",
        "BookingConfirmed",
        "--show-personal-data",
        "--json",
    )
    assert result.exit_code == 0, result.output
    seen = json.loads(result.stdout.splitlines()[0])
    assert seen["id"] == envelope.id and seen["data"]["booker"]["email"] == events.EMAIL


def test_dlq_replay_applies_the_event_once_for_its_group_only(hub: RunningHub) -> None:
    dlq = dlq_stream(BOOKING_STREAM)
    # The café would place an order for this confirmation: only notify may see the replay.
    envelope = events.booking_confirmed(with_catering=True)
    fields = events.dead_letter_fields(envelope, "notify", "RuntimeError: SMTP was down")
    hub.redis.xadd(dlq, fields)
    listed = hub.run_json("dlq", "list", "--stream", BOOKING_STREAM)
    assert [(d["group"], d["event_id"], d["type"]) for d in listed] == [
        ("notify", envelope.id, "BookingConfirmed")
    ]
    shown = hub.run("dlq", "show", listed[0]["id"])
    assert shown.exit_code == 0
    for part in ("SMTP was down", "notify", "deliveries  5", envelope.id):
        assert part in shown.stdout, shown.stdout
    assert events.EMAIL not in shown.stdout and events.PHONE not in shown.stdout
    assert _status(hub)[0] == 1

    replayed = hub.run_json("dlq", "replay", listed[0]["id"])
    assert [r["group"] for r in replayed] == ["notify"]
    assert hub.redis.xlen(dlq) == 0
    new_id = replayed[0]["replayed_as"]
    wait_for_sync(lambda: _caught_up(hub, BOOKING_STREAM, new_id), 30, interval=0.2)
    applied = wait_for_sync(lambda: _deliveries(hub, envelope.id), 30, interval=0.2)
    assert {d["event_type"] for d in applied} == {"BookingConfirmed"}
    wait_for_sync(lambda: _healthy(hub), 30, interval=0.5, message="healthy after replay")
    orders = [decode_entry(f, 1 << 20) for _, f in hub.redis.xrange(CATERING_STREAM)]
    assert not [e for e in orders if e.data.get("booking_id") == envelope.data["booking_id"]]

    # The same dead letter again, replayed by its event id: the inbox keeps it at once.
    hub.redis.xadd(dlq, fields)
    again = hub.run_json("dlq", "replay", envelope.id)
    wait_for_sync(lambda: _caught_up(hub, BOOKING_STREAM, again[0]["replayed_as"]), 30)
    assert len(_deliveries(hub, envelope.id)) == len(applied)
    assert hub.run_json("dlq", "replay", "--all", "--stream", BOOKING_STREAM) == []
    usage = hub.run("dlq", "replay")
    assert usage.exit_code == 2


def test_demo_plays_a_day_and_its_counts_match_the_streams(hub: RunningHub) -> None:
    result = hub.run("demo", "--json", "--settle-timeout", "90")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["settled"] and summary["missing"] == []
    steps = {s["label"]: s for s in summary["steps"]}
    assert not [s for s in steps.values() if s["status"] == "failed"], steps
    for label in (
        "Strømsø Sjakklubb books a meeting room",
        "Frivilligsentralen books a room with lunch",
        "A birthday party asks for Gymsalen",
        "The booking officer approves the party",
        "A PC is lent at the citizens' desk",
        "A take-away order for lunch",
        "A catering order for a neighbourhood meeting",
        "Drammen Turlag cancels its meeting",
    ):
        assert steps[label]["status"] == "done", steps[label]

    held: dict[str, dict[str, int]] = {}
    for stream, marker in summary["since"].items():
        entries = hub.redis.xrange(stream, min=f"({marker}")
        held[stream] = dict(Counter(decode_entry(f, 1 << 20).type for _, f in entries))
    for stream in (BOOKING_STREAM, LOANS_STREAM, CATERING_STREAM):
        assert summary["events"][stream] == held[stream], stream
    for kind, n in summary["events"][NOTIFY_STREAM].items():
        assert held[NOTIFY_STREAM].get(kind, 0) >= n  # sending goes on after the report
    assert summary["demo_events"][BOOKING_STREAM] == summary["expected"][BOOKING_STREAM]
    assert summary["expected"][BOOKING_STREAM] == {
        "BookingCancelled": 1,
        "BookingConfirmed": 4,
        "BookingRequested": 1,
    }
    for stream, counts in summary["expected"].items():
        for kind, n in counts.items():
            assert summary["demo_events"][stream].get(kind, 0) >= n, (stream, kind)
    # The booking with lunch became an order at the café.
    assert summary["demo_events"][CATERING_STREAM].get("OrderPlaced", 0) >= 3
    notes = summary["notifications"]
    assert notes["total"] > 0 and notes["total"] == sum(notes["by_channel"].values())
    assert "BookingConfirmed" in notes["by_event_type"]

    text = hub.run("demo", "--settle-timeout", "90")
    assert text.exit_code == 0, text.output
    assert "A day at Knutepunkt Strømsø" in text.stdout and "Notifications" in text.stdout
    assert "example.org" not in text.stdout


def test_docs_writes_asyncapi_and_openapi(hub: RunningHub, tmp_path: Path) -> None:
    result = hub.run("docs", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    asyncapi = yaml.safe_load((tmp_path / "asyncapi.yaml").read_text())
    assert set(asyncapi["channels"]) == set(PRODUCERS)
    for service in ("booking", "loans", "catering", "notify"):
        openapi = json.loads((tmp_path / "openapi" / f"{service}.json").read_text())
        assert openapi["paths"]


def test_outbox_republish_sends_the_window_again_and_nothing_is_applied_twice(
    hub: RunningHub,
) -> None:
    room, start = next(free_slots(first_ahead=30))
    created = httpx.post(
        f"{hub.summary.service_urls['booking']}/bookings",
        json=booking_body(room, start, 1, catering=False),
        timeout=15,
    )
    assert created.status_code == 201, created.text
    booking_id = created.json()["id"]

    def events_of(entries: list[Any]) -> list[Any]:
        found = []
        for _id, fields in entries:
            with contextlib.suppress(PoisonEvent):  # earlier tests leave poison there
                found.append(decode_entry(fields, 1 << 20))
        return found

    def confirmation() -> str | None:
        for event in events_of(hub.redis.xrange(BOOKING_STREAM)):
            if event.subject == booking_id and event.type == "BookingConfirmed":
                return event.id
        return None

    event_id = wait_for_sync(confirmation, 30, interval=0.2, message="published")
    applied = wait_for_sync(lambda: _deliveries(hub, event_id), 30, interval=0.2)
    last = hub.redis.xrevrange(BOOKING_STREAM, count=1)[0][0]

    done = hub.run_json("outbox", "republish", "--since", "10m")
    by_service = {s["service"]: s for s in done["services"]}
    assert set(by_service) == set(SERVICES) and done["ok"]
    assert all(s["complete"] and s["problem"] is None for s in by_service.values())
    assert by_service["booking"]["streams"].get(BOOKING_STREAM, 0) >= 1
    after = hub.redis.xrange(BOOKING_STREAM, min=f"({last.decode()}")
    assert event_id in [e.id for e in events_of(after)]  # the same event, sent again
    newest = hub.redis.xrevrange(BOOKING_STREAM, count=1)[0][0]
    wait_for_sync(lambda: _caught_up(hub, BOOKING_STREAM, newest), 30, interval=0.2)
    assert len(_deliveries(hub, event_id)) == len(applied)  # notify's inbox dropped it

    only = hub.run_json("outbox", "republish", "--since", "10m", "--service", "loans")
    assert [s["service"] for s in only["services"]] == ["loans"]
    assert hub.run("outbox", "republish", "--since", "2027-03-15T10:30").exit_code == 2
    assert hub.run("outbox", "republish", "--since", "soon").exit_code == 2
    assert hub.run("outbox", "republish", "--since", "1h", "--service", "x").exit_code == 2
    no_admin = hub.run("outbox", "republish", "--since", "1h", STAFF_TOKENS="t:desk")
    assert no_admin.exit_code == 2


def test_outbox_republish_endpoint_is_for_the_admin_role(hub: RunningHub) -> None:
    url = f"{hub.summary.service_urls['catering']}/admin/outbox/republish"
    since = {"since": "2027-03-15T10:30:00+01:00"}
    tokens = parse_staff_tokens(hub.summary.staff_tokens)
    desk = next(t for t, roles in tokens.items() if "admin" not in roles)
    assert httpx.post(url, json=since, timeout=5).status_code == 401
    denied = httpx.post(url, json=since, headers={"Authorization": f"Bearer {desk}"}, timeout=5)
    assert denied.status_code == 403
    assert denied.headers["content-type"].startswith("application/problem+json")
    naive = httpx.post(url, json={"since": "2027-03-15T10:30"}, headers=_admin(hub), timeout=5)
    assert naive.status_code == 422
    backwards = {"since": "2027-03-15T10:30:00Z", "until": "2027-03-14T10:30:00Z"}
    wrong = httpx.post(url, json=backwards, headers=_admin(hub), timeout=5)
    assert wrong.status_code == 422 and "until" in wrong.json()["detail"]
    ok = httpx.post(url, json=since, headers=_admin(hub), timeout=15)
    assert ok.status_code == 200 and ok.json()["service"] == "catering"
