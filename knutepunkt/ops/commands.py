"""The ops commands of the `knutepunkt` console script."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from redis.asyncio import Redis
from rich.table import Table

from knutepunkt.ops import dead_letters, health, republish, status_view, tail
from knutepunkt.ops.connection import target, with_redis
from knutepunkt.ops.output import (
    HEALTHY,
    UNHEALTHY,
    USAGE,
    console,
    fail,
    oslo_time,
    print_json,
)
from knutepunkt.ops.target import Target, TargetError
from shared.events import PRODUCERS
from shared.messaging import dlq

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
StreamOption = Annotated[
    str | None,
    typer.Option("--stream", help=f"Only this stream: {', '.join(PRODUCERS)}."),
]
PersonalOption = Annotated[
    bool,
    typer.Option(
        "--show-personal-data", help="Show names, phone numbers and emails (default: hidden)."
    ),
]

events_app = typer.Typer(help="Look at the events on the streams.", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead letters: list, show, replay, purge.", no_args_is_help=True)
outbox_app = typer.Typer(help="The services' outboxes.", no_args_is_help=True)


def status(
    json_out: JsonOption = False,
    max_lag: Annotated[
        int, typer.Option(help="Unhealthy when a consumer group lags more events.", min=0)
    ] = 1000,
    max_pending_age: Annotated[
        float,
        typer.Option(help="Unhealthy when an event has been pending longer (seconds).", min=0),
    ] = 300.0,
    max_outbox_lag: Annotated[
        float,
        typer.Option(help="Unhealthy when an outbox row waits longer (seconds).", min=0),
    ] = 60.0,
    max_lag_age: Annotated[
        float,
        typer.Option(
            help="Unhealthy when a group has not consumed an event this old (seconds).", min=0
        ),
    ] = 300.0,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for each service's answer.", min=0.1)
    ] = 3.0,
) -> None:
    """The hub at a glance: services, streams, consumer groups, outboxes, dead letters.

    Exit 0 healthy, 1 unhealthy (the reasons are listed), 2 when Redis cannot be reached."""
    hub = target()
    limits = health.Thresholds(max_lag, max_pending_age, max_outbox_lag, max_lag_age)
    found = with_redis(hub, lambda redis: health.gather(hub, redis, limits, timeout))
    if json_out:
        print_json(found.as_json())
    else:
        status_view.render(console(), found)
    raise typer.Exit(HEALTHY if found.healthy else UNHEALTHY)


@events_app.command("tail")
def events_tail(
    stream: Annotated[
        list[str] | None, typer.Option("--stream", help="Only these streams (repeatable).")
    ] = None,
    event_type: Annotated[
        list[str] | None, typer.Option("--type", help="Only these event types (repeatable).")
    ] = None,
    start: Annotated[
        str,
        typer.Option("--from", help="Where to start: $ (new events only), 0 (all), or an id."),
    ] = "$",
    count: Annotated[int | None, typer.Option(help="Stop after this many events.", min=1)] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Stop after this many seconds.", min=0)
    ] = None,
    show_personal_data: PersonalOption = False,
    json_out: JsonOption = False,
) -> None:
    """Follow the streams live, one line per event.

    Each line: Oslo time, stream, type, subject, correlation id. Reads with XREAD: joins no
    consumer group, takes no event away."""
    hub = target()
    streams = stream or list(PRODUCERS)
    unknown = [s for s in streams if s not in PRODUCERS]
    if unknown:
        fail(f"unknown stream(s) {', '.join(unknown)}; known: {', '.join(PRODUCERS)}")
    out = console()
    options = tail.TailOptions(
        streams=streams,
        types=set(event_type or ()),
        start=start,
        count=count,
        timeout=timeout,
        show_personal_data=show_personal_data,
    )

    def emit(seen: tail.Seen) -> None:
        if json_out:
            print_json(seen.as_json(show_personal_data), one_line=True)  # JSON Lines
        else:
            out.print(seen.line(show_personal_data), markup=False)
        sys.stdout.flush()

    def ready() -> None:
        where = "new events" if start == "$" else f"from {start}"
        console(stderr=True).print(f"following {', '.join(streams)} ({where})", markup=False)

    with contextlib.suppress(KeyboardInterrupt):
        with_redis(hub, lambda redis: tail.follow(redis, hub, options, emit, ready))


@dlq_app.command("list")
def dlq_list(stream: StreamOption = None, json_out: JsonOption = False) -> None:
    """Every dead letter: its id, stream, group, event type, error and deliveries."""
    hub = target()
    streams = _streams(stream)
    letters = with_redis(hub, lambda redis: dlq.list_dead_letters(redis, hub.names, streams))
    rows = [dead_letters.summary(letter) for letter in letters]
    if json_out:
        print_json(rows)
        return
    table = Table(title=f"Dead letters ({len(rows)})", title_justify="left")
    for column in ("id", "stream", "group", "type", "deliveries", "at (Oslo)", "error"):
        table.add_column(column)
    for row, letter in zip(rows, letters, strict=True):
        table.add_row(
            row["id"],
            row["stream"],
            row["group"],
            row["type"] or "-",
            str(row["deliveries"]),
            dead_letters.when(letter),
            row["error"][:120],
        )
    console().print(table)


@dlq_app.command("show")
def dlq_show(
    ident: Annotated[str, typer.Argument(metavar="ID", help="Dead-letter id (or event id).")],
    stream: StreamOption = None,
    show_personal_data: PersonalOption = False,
    json_out: JsonOption = False,
) -> None:
    """One dead letter: the error, the group, the deliveries and the original event."""
    hub = target()
    letter = _one(hub, ident, stream)
    shown = dead_letters.detail(letter, show_personal_data)
    if json_out:
        print_json(shown)
        return
    out = console()
    for key in ("id", "stream", "group", "entry_id", "event_id", "type", "deliveries"):
        out.print(f"{key:<11} {shown[key]}", markup=False)
    out.print(f"{'at':<11} {dead_letters.when(letter)} (Oslo)", markup=False)
    out.print(f"{'error':<11} {shown['error']}", markup=False)
    out.print("event:", markup=False)
    out.print_json(data=shown["event"])


@dlq_app.command("replay")
def dlq_replay(
    ident: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="Dead-letter id (or event id).")
    ] = None,
    replay_all: Annotated[
        bool, typer.Option("--all", help="Every dead letter (of --stream, if given).")
    ] = False,
    stream: StreamOption = None,
    json_out: JsonOption = False,
) -> None:
    """Put a dead letter's event back on its stream, for its group only.

    The dead letter is removed in the same transaction. The group's inbox applies an event
    once."""
    if (ident is None) == (not replay_all):
        fail("give one dead-letter ID, or --all (with --stream to limit it)")
    hub = target()

    async def work(redis: Redis) -> list[dict[str, str]]:
        if replay_all:
            letters = await dlq.list_dead_letters(redis, hub.names, _streams(stream))
        else:
            assert ident is not None
            found = await dead_letters.find(redis, hub, ident, stream)
            letters = [found] if found else []
        done = []
        for letter in letters:
            new_id = await dlq.replay(redis, hub.names, letter)
            done.append(
                {
                    "id": letter.id,
                    "stream": letter.stream,
                    "group": letter.group,
                    "replayed_as": new_id,
                }
            )
        return done

    done = with_redis(hub, work)
    if ident is not None and not done:
        fail(f"no dead letter {ident}", USAGE)
    if json_out:
        print_json(done)
        return
    out = console()
    for item in done:
        out.print(
            f"replayed {item['id']} to {item['stream']} as {item['replayed_as']} "
            f"for group {item['group']}",
            markup=False,
        )
    out.print(f"{len(done)} dead letter(s) replayed", markup=False)


@dlq_app.command("purge")
def dlq_purge(
    ident: Annotated[str, typer.Argument(metavar="ID", help="Dead-letter id (or event id).")],
    stream: StreamOption = None,
    json_out: JsonOption = False,
) -> None:
    """Delete one dead letter for good (its event is not applied)."""
    hub = target()

    async def work(redis: Redis) -> dict[str, object] | None:
        letter = await dead_letters.find(redis, hub, ident, stream)
        if letter is None:
            return None
        return {"id": letter.id, "stream": letter.stream, "purged": await dlq.purge(redis, letter)}

    done = with_redis(hub, work)
    if done is None:
        fail(f"no dead letter {ident}", USAGE)
    if json_out:
        print_json(done)
    else:
        console().print(f"purged {done['id']} from {done['stream']}.dlq", markup=False)


@outbox_app.command("republish")
def outbox_republish(
    since: Annotated[
        str,
        typer.Option(
            "--since",
            help="From when: an ISO 8601 instant with its offset (2027-03-15T10:30+01:00), "
            "or a duration back from now (90m, 2h, 1d).",
        ),
    ],
    until: Annotated[
        str | None, typer.Option("--until", help="Up to when (same forms); default now.")
    ] = None,
    service: Annotated[
        list[str] | None,
        typer.Option("--service", help="Only these services (repeatable); default all."),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for each service.", min=0.1)
    ] = 120.0,
    json_out: JsonOption = False,
) -> None:
    """Publish again what each service's outbox kept from a window (after Redis lost its
    data). Consumers apply each event once: a wider window than needed costs only time.

    Needs a STAFF_TOKENS token with the admin role. Exit 1 when a service failed, or when
    the window reaches back further than a service keeps published rows
    (OUTBOX_KEEP_SECONDS): what was published before that cannot be sent again."""
    hub = target()
    try:
        start = republish.parse_since(since)
        end = republish.parse_since(until) if until else None
        services = republish.chosen_services(hub, service)
    except (ValueError, TargetError) as exc:
        fail(str(exc), USAGE)
    if end is not None and end < start:
        fail("--until is before --since", USAGE)
    try:
        done = asyncio.run(republish.republish(hub, services, start, end, timeout))
    except TargetError as exc:
        fail(str(exc), USAGE)
    good = all(d.ok and d.complete for d in done)
    if json_out:
        print_json(
            {
                "since": start.isoformat(),
                "until": end.isoformat() if end else None,
                "ok": good,
                "services": [asdict(d) for d in done],
            }
        )
        raise typer.Exit(HEALTHY if good else UNHEALTHY)
    out = console()
    table = Table(title=f"Republished since {oslo_time(start)} (Oslo)", title_justify="left")
    for column in ("service", "events", "streams", "window kept", "problem"):
        table.add_column(column)
    for d in done:
        streams = ", ".join(f"{s} {n}" for s, n in sorted(d.streams.items())) or "-"
        kept = "-" if not d.ok else ("yes" if d.complete else f"no (oldest {d.oldest_kept})")
        table.add_row(d.service, str(d.republished), streams, kept, d.problem or "")
    out.print(table)
    total = sum(d.republished for d in done)
    out.print(f"{total} event(s) published again", markup=False)
    raise typer.Exit(HEALTHY if good else UNHEALTHY)


def docs(
    out: Annotated[
        Path, typer.Option("--out", help="The folder to write into.", file_okay=False)
    ] = Path("docs"),
    openapi: Annotated[bool, typer.Option(help="Also each service's OpenAPI.")] = True,
) -> None:
    """Write the AsyncAPI document, the event-schema snapshot and each service's OpenAPI."""
    from knutepunkt import docs as generator

    for path in generator.write(out, openapi=openapi):
        console().print(f"wrote {path}", markup=False)


def _streams(stream: str | None) -> list[str]:
    try:
        return dead_letters.streams_or_all(stream)
    except ValueError as exc:
        fail(str(exc), USAGE)


def _one(hub: Target, ident: str, stream: str | None) -> dlq.DeadLetter:
    letter = with_redis(hub, lambda redis: dead_letters.find(redis, hub, ident, stream))
    if letter is None:
        fail(f"no dead letter {ident}", USAGE)
    return letter
