"""`knutepunkt person export|erase`: one person's request (GDPR art. 15 and 17) answered by
asking each of the four services' admin endpoints (`POST /privacy/export`,
`POST /privacy/erase`, shared/person_data.py) and putting their answers together.

A service that does not answer is listed as missing (export) or pending (erase), and the
command exits 1. An erasure is left for every service before they are asked
(shared/person_data.py): one that is down erases when it starts again, and
`knutepunkt person pending` says which services have not finished. An erasure is also
pending while a stream entry naming the person is still in flight; the service's erasure
timer finishes it. Erasing twice is harmless. The asking and assembling is
shared/person_requests.py, which the web front's admin pages use too.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from redis.asyncio import Redis

from knutepunkt.ops.connection import target
from knutepunkt.ops.output import HEALTHY, UNHEALTHY, USAGE, console, fail, print_json
from knutepunkt.ops.target import Target, TargetError
from shared import person_requests
from shared.person_requests import readable

person_app = typer.Typer(
    help="One person's data across the hub: export (innsyn) or erase.", no_args_is_help=True
)

EmailOption = Annotated[str | None, typer.Option("--email", help="The person's email address.")]
PhoneOption = Annotated[str | None, typer.Option("--phone", help="The person's phone number.")]

__all__ = ["erase_all", "export_all", "person_app", "readable", "still_pending"]


def _admin_headers(hub: Target) -> dict[str, str]:
    try:
        return hub.staff_headers("admin")
    except TargetError as exc:
        fail(str(exc), USAGE)


def _redis(hub: Target) -> Redis:
    return Redis.from_url(hub.redis_url, socket_connect_timeout=3, socket_timeout=10)


async def export_all(hub: Target, asked: dict[str, str]) -> dict[str, Any]:
    """The four services' answers and the access log's entries naming the person
    (shared/person_requests.py, as the web front's admin pages do it)."""
    headers = _admin_headers(hub)
    redis = _redis(hub)
    try:
        return await person_requests.export_all(hub.urls, headers, redis, hub.names, asked)
    finally:
        await redis.aclose()


def _body(email: str | None, phone: str | None) -> dict[str, str]:
    if not (email or phone):
        fail("give --email, --phone or both", USAGE)
    return {k: v for k, v in (("email", email), ("phone", phone)) if v}


@person_app.command("export")
def export(
    email: EmailOption = None,
    phone: PhoneOption = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write <out>.json and <out>.md instead of printing JSON."),
    ] = None,
) -> None:
    """Everything each service holds about one person, as one JSON (and a readable
    document with --out); says which services did not answer."""
    asked = _body(email, phone)
    hub = target()
    made = asyncio.run(export_all(hub, asked))
    if out is None:
        print_json(made)
    else:
        out.with_suffix(".json").write_text(json.dumps(made, ensure_ascii=False, indent=2))
        out.with_suffix(".md").write_text(readable(made))
        console().print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    for service, why in made["missing"].items():
        console(stderr=True).print(f"missing: {service}: {why}", markup=False)
    raise typer.Exit(HEALTHY if made["complete"] else UNHEALTHY)


async def erase_all(hub: Target, asked: dict[str, str]) -> dict[str, Any]:
    """Leave the request for every service, then ask each (shared/person_requests.py)."""
    headers = _admin_headers(hub)
    redis = _redis(hub)
    try:
        return await person_requests.erase_all(hub.urls, headers, redis, hub.names, asked)
    finally:
        await redis.aclose()


async def still_pending(hub: Target) -> dict[str, list[str]]:
    """The erasure requests each service has not finished yet (ids only)."""
    redis = _redis(hub)
    try:
        return await person_requests.still_pending(redis, hub.names)
    finally:
        await redis.aclose()


@person_app.command("erase")
def erase(email: EmailOption = None, phone: PhoneOption = None) -> None:
    """Erase one person in every service; prints each service's state (done or pending).
    A service that is down erases when it starts again (`knutepunkt person pending`)."""
    asked = _body(email, phone)
    made = asyncio.run(erase_all(target(), asked))
    print_json({"asked_for": asked, **made})
    done = all(v == "done" for v in made["services"].values())
    raise typer.Exit(HEALTHY if done else UNHEALTHY)


@person_app.command("pending")
def pending() -> None:
    """The erasure requests (by id) each service still has to finish; exit 1 while any."""
    left = asyncio.run(still_pending(target()))
    print_json(left)
    raise typer.Exit(UNHEALTHY if any(left.values()) else HEALTHY)
