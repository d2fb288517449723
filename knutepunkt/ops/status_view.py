"""`knutepunkt status` as tables."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from knutepunkt.ops.health import HubHealth
from knutepunkt.ops.output import age_text


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def render(console: Console, health: HubHealth) -> None:
    services = Table(title="Services", title_justify="left")
    for column in ("service", "ready", "version", "outbox backlog", "outbox lag", "url"):
        services.add_column(column)
    for s in health.services:
        ready = "[green]ready[/]" if s.ready else f"[red]{s.problem}[/]"
        lag = None if s.outbox_lag_seconds is None else age_text(s.outbox_lag_seconds)
        services.add_row(s.name, ready, s.version or "-", _num(s.outbox_backlog), lag or "-", s.url)
    console.print(services)

    streams = Table(title="Streams and consumer groups", title_justify="left")
    columns = ("stream", "length", "dead letters", "group", "lag", "lag age", "pending")
    for column in (*columns, "oldest pending"):
        streams.add_column(column)
    for st in health.streams:
        dead = f"[red]{st.dead_letters}[/]" if st.dead_letters else "0"
        rows = [
            (
                g.name,
                _num(g.lag),
                age_text(g.oldest_unconsumed_age_seconds),
                str(g.pending),
                age_text(g.oldest_pending_age_seconds),
            )
            for g in st.groups
        ] + [(f"{g} (missing)", "-", "-", "-", "-") for g in st.missing_groups]
        if not rows:
            rows = [("-", "-", "-", "-", "-")]
        for i, row in enumerate(rows):
            first = (st.name, str(st.length), dead) if i == 0 else ("", "", "")
            streams.add_row(*first, *row)
    console.print(streams)

    if health.healthy:
        console.print("[bold green]healthy[/]")
    else:
        console.print("[bold red]unhealthy:[/]")
        for problem in health.problems:
            console.print(f"  - {problem}", markup=False)
