"""How the ops commands speak: rich on a terminal, plain text when piped, JSON on request,
and exit codes a script can test."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any, NoReturn

import typer
from rich.console import Console

from shared.calendar import OSLO

HEALTHY, UNHEALTHY, USAGE = 0, 1, 2


PIPED_WIDTH = 200


def console(stderr: bool = False) -> Console:
    # Rich colours only on a terminal; piped output stays plain text without markup codes,
    # and wide, so that a script or grep sees whole names rather than "booking.ev…".
    out = Console(stderr=stderr, soft_wrap=True, highlight=False)
    if not out.is_terminal:
        out = Console(stderr=stderr, soft_wrap=True, highlight=False, width=PIPED_WIDTH)
    return out


def print_json(value: Any, one_line: bool = False) -> None:
    indent = None if one_line else 2
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=indent, default=str) + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = USAGE) -> NoReturn:
    console(stderr=True).print(f"[bold red]error:[/] {message}", markup=True)
    raise typer.Exit(code)


def oslo_time(value: datetime | str | None, with_date: bool = True) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(OSLO).strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def entry_time(entry_id: str) -> datetime:
    """When Redis added a stream entry (its id starts with the milliseconds)."""
    return datetime.fromtimestamp(int(entry_id.split("-", 1)[0]) / 1000, UTC)


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
