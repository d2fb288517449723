"""`knutepunkt demo`: plays the day with a progress bar, then shows what happened."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Any

import httpx
import typer
from redis.asyncio import Redis
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from knutepunkt.ops.connection import target, with_redis
from knutepunkt.ops.demo import day, report
from knutepunkt.ops.demo import requests as rq
from knutepunkt.ops.health import ServiceHealth, service_health
from knutepunkt.ops.output import (
    HEALTHY,
    UNHEALTHY,
    USAGE,
    console,
    fail,
    oslo_time,
    print_json,
)
from knutepunkt.ops.target import Target
from shared.calendar import Calendar, utcnow

# More apart than two machines' clocks ever are: the hub runs on a demo clock.
DEMO_CLOCK_DRIFT = timedelta(minutes=2)


async def play(
    hub_target: Target, redis: Redis, settle_timeout: float, progress_console: Console
) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=15, trust_env=False) as client:
        health = await _health(hub_target, client)
        unready = [s.name for s in health if not s.ready]
        if unready:
            raise day.Refused(f"not ready: {', '.join(unready)}")
        since = await report.markers(redis, hub_target)
        now, demo_clock = hub_clock(health)
        calendar = Calendar()
        state = day.DayState(day=day.first_day(calendar, now), calendar=calendar, now=now)
        hub = day.Hub(hub_target, client)
        results: list[day.StepResult] = []
        columns = (TextColumn("{task.description:<48}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=progress_console, transient=False) as progress:
            task = progress.add_task("A day at Knutepunkt Strømsø", total=len(day.STEPS) + 1)
            for label, step in day.STEPS:
                progress.update(task, description=label)
                results.append(await day.run_step(hub, state, label, step))
                progress.advance(task)
            progress.update(task, description="Waiting for the services to catch up")
            settled, seen = await report.settle(
                redis, hub_target, client, since, state.expected, settle_timeout
            )
            progress.advance(task)
        mine = seen.of_subjects(state.subjects)
        rows = await hub.call(rq.notifications())
        notes = report.notification_summary(rows.get("items", []), {e.id for e in mine})
    expected: dict[str, dict[str, int]] = {}
    for x in state.expected:
        if x.type is not None:
            counts = expected.setdefault(x.stream, {})
            counts[x.type] = counts.get(x.type, 0) + 1
    demo_counts: dict[str, dict[str, int]] = {}
    for e in mine:
        stream = next(s for s, es in seen.events.items() if e in es)
        counts = demo_counts.setdefault(stream, {})
        counts[e.type] = counts.get(e.type, 0) + 1
    return {
        "day": state.day.isoformat(),
        "clock": {"hub": now.isoformat(), "demo": demo_clock},
        "held_back": state.held_back,
        "settled": settled,
        "steps": [asdict(r) for r in results],
        "since": since,
        "events": seen.counts(),
        "demo_events": demo_counts,
        "expected": expected,
        "missing": [asdict(x) for x in report.missing(seen, state.expected)],
        "notifications": notes,
    }


async def _health(hub_target: Target, client: httpx.AsyncClient) -> list[ServiceHealth]:
    return [await service_health(client, n, u) for n, u in hub_target.urls.items()]


def hub_clock(health: list[ServiceHealth]) -> tuple[datetime, bool]:
    """The hub's time, as the services tell it (the desk's first), and whether it is a demo
    clock (`knutepunkt up --at`); our own clock for a hub that does not tell."""
    ours = utcnow()
    for found in sorted(health, key=lambda s: s.name != "loans"):
        if found.clock:
            try:
                theirs = datetime.fromisoformat(found.clock)
            except ValueError:
                continue
            if theirs.tzinfo is not None:
                return theirs, abs(theirs - ours) > DEMO_CLOCK_DRIFT
    return ours, False


def render(out: Console, summary: dict[str, Any]) -> None:
    out.print(f"\n[bold]A day at Knutepunkt Strømsø: {summary['day']}[/]")
    clock = summary["clock"]
    kind = "a demo clock (knutepunkt up --at)" if clock["demo"] else "the real clock"
    out.print(f"The hub's time: {oslo_time(clock['hub'])} Europe/Oslo, on {kind}")
    steps = Table(title="What happened", title_justify="left")
    for column in ("step", "outcome", "detail"):
        steps.add_column(column)
    colours = {"done": "green", "skipped": "yellow", "refused": "yellow", "failed": "red"}
    for step in summary["steps"]:
        colour = colours.get(step["status"], "white")
        steps.add_row(step["label"], f"[{colour}]{step['status']}[/]", step["detail"])
    out.print(steps)
    if summary["held_back"]:
        out.print(
            "[yellow]The hour prevented: " + "; ".join(summary["held_back"]) + ". The desk is "
            "open 10–14 and the café 10–15, Monday to Friday; for the whole day at any hour, "
            "start the hub with: knutepunkt up --at 2027-03-15T10:30[/]"
        )
    events = Table(title="Events per stream during the demo", title_justify="left")
    for column in ("stream", "type", "count"):
        events.add_column(column)
    for stream, counts in summary["events"].items():
        for i, (kind, n) in enumerate(counts.items()):
            events.add_row(stream if i == 0 else "", kind, str(n))
        if not counts:
            events.add_row(stream, "-", "0")
    out.print(events)
    notes = summary["notifications"]
    table = Table(title=f"Notifications ({notes['total']})", title_justify="left")
    for column in ("event", "channel", "to", "status", "count"):
        table.add_column(column)
    rows: Counter[tuple[str, str, str, str]] = Counter()
    for item in notes["items"]:
        role = item["recipient_role"]
        who = f"staff ({role})" if role else item["recipient_kind"]
        rows[(item["event_type"], item["channel"], who, item["status"])] += 1
    for row, n in sorted(rows.items()):
        table.add_row(*row, str(n))
    out.print(table)
    if not summary["settled"]:
        out.print("[bold red]The services did not catch up in time; missing:[/]")
        for x in summary["missing"]:
            out.print(f"  - {x['stream']} {x['type'] or 'any event'} about {x['subject']}")


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        json_out: Annotated[bool, typer.Option("--json", help="A JSON summary.")] = False,
        settle_timeout: Annotated[
            float, typer.Option(help="Seconds to wait for the services to catch up.", min=1)
        ] = 60.0,
    ) -> None:
        """Play a day at Knutepunkt Strømsø against the running hub, then show what happened.

        Clubs book rooms, a party waits for approval, PCs and planter boxes go out and come
        back, the café gets orders, a booking is cancelled. Then: the events per stream and
        the notifications. Exit 1 if a step failed or the services did not catch up."""
        hub_target = target()
        progress_console = console(stderr=True)
        try:
            summary = with_redis(
                hub_target, lambda redis: play(hub_target, redis, settle_timeout, progress_console)
            )
        except day.Refused as exc:
            fail(f"the hub is not ready for a demo: {exc}", USAGE)
        if json_out:
            print_json(summary)
        else:
            render(console(), summary)
        failed = any(s["status"] == "failed" for s in summary["steps"])
        raise typer.Exit(UNHEALTHY if failed or not summary["settled"] else HEALTHY)
