"""`knutepunkt person export|erase`: one person's request (GDPR art. 15 and 17) answered by
asking each of the four services' admin endpoints (`POST /privacy/export`,
`POST /privacy/erase`, shared/person_data.py) and putting their answers together.

A service that does not answer is listed as missing (export) or pending (erase), and the
command exits 1. An erasure is left for every service before they are asked
(shared/person_data.py): one that is down erases when it starts again, and
`knutepunkt person pending` says which services have not finished. An erasure is also
pending while a stream entry naming the person is still in flight; the service's erasure
timer finishes it. Erasing twice is harmless.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from redis.asyncio import Redis
from redis.exceptions import RedisError

from knutepunkt.ops.connection import target
from knutepunkt.ops.output import HEALTHY, UNHEALTHY, USAGE, console, fail, print_json
from knutepunkt.ops.target import Target, TargetError
from shared import access_log
from shared.person_data import PersonIn, leave_request, pending_requests
from shared.settings import SERVICES

person_app = typer.Typer(
    help="One person's data across the hub: export (innsyn) or erase.", no_args_is_help=True
)

EmailOption = Annotated[str | None, typer.Option("--email", help="The person's email address.")]
PhoneOption = Annotated[str | None, typer.Option("--phone", help="The person's phone number.")]
TIMEOUT_SECONDS = 15.0


async def ask_all(hub: Target, path: str, body: dict[str, str]) -> dict[str, Any]:
    """Each service's answer, or why there is none."""
    try:
        headers = hub.staff_headers("admin")
    except TargetError as exc:
        fail(str(exc), USAGE)

    async def ask(client: httpx.AsyncClient, service: str) -> tuple[str, dict[str, Any]]:
        try:
            response = await client.post(hub.urls[service] + path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            return service, {"missing": f"not answering ({type(exc).__name__})"}
        if response.status_code != 200:
            return service, {"missing": f"answered {response.status_code}: {response.text[:300]}"}
        return service, response.json()

    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
        answers = await asyncio.gather(*(ask(client, s) for s in SERVICES))
    return dict(answers)


async def export_all(hub: Target, asked: dict[str, str]) -> dict[str, Any]:
    """The four services' answers and the access log's entries naming the person."""
    made = assemble_export(await ask_all(hub, "/privacy/export", asked), asked)
    redis = Redis.from_url(hub.redis_url, socket_connect_timeout=3, socket_timeout=10)
    try:
        people = access_log.identifiers([asked.get("email")], [asked.get("phone")])
        made["access_log"] = await access_log.entries(redis, hub.names, people)
    except (RedisError, OSError) as exc:
        made["missing"]["access_log"] = f"Redis not answering ({type(exc).__name__})"
        made["complete"] = False
    finally:
        await redis.aclose()
    return made


def _body(email: str | None, phone: str | None) -> dict[str, str]:
    if not (email or phone):
        fail("give --email, --phone or both", USAGE)
    return {k: v for k, v in (("email", email), ("phone", phone)) if v}


def assemble_export(answers: dict[str, Any], asked: dict[str, str]) -> dict[str, Any]:
    missing = {s: a["missing"] for s, a in answers.items() if "missing" in a}
    return {
        "asked_for": asked,
        "made_at": datetime.now(UTC).isoformat(),
        "complete": not missing,
        "missing": missing,
        "services": {s: a.get("held", {}) for s, a in answers.items() if "missing" not in a},
    }


def readable(export: dict[str, Any]) -> str:
    """The export as a document a person can read (Markdown)."""
    lines = [
        "# Innsyn: opplysninger Knutepunkt har om deg / what Knutepunkt holds about you",
        "",
        f"Laget / made: {export['made_at']}",
        "",
    ]
    if export["missing"]:
        lines += ["**Mangler ennå / still missing:**", ""]
        lines += [f"- {s}: {why}" for s, why in export["missing"].items()]
        lines.append("")
    log = export.get("access_log", [])
    lines += [
        f"## Hvem blant de ansatte har sett eller endret / staff reads and changes ({len(log)})",
        "",
    ]
    lines += [f"- {e['at']}: {e['actor']} ({e['roles']}) {e['action']} {e['what']}" for e in log]
    lines.append("")
    for service, held in export["services"].items():
        lines += [f"## {service}", ""]
        for kind, rows in held.items():
            lines.append(f"### {kind} ({len(rows)})")
            lines.append("")
            for row in rows:
                lines.append(
                    "- "
                    + "; ".join(f"{k}: {v}" for k, v in row.items() if v not in (None, "", [], {}))
                )
            lines.append("")
    return "\n".join(lines)


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
    """Leave the request for every service, then ask each: what answers done is removed
    from its list by the service itself; a service down finds it when it starts again."""
    request_id = str(uuid.uuid4())
    body = PersonIn(**asked, request_id=request_id)
    redis = Redis.from_url(hub.redis_url, socket_connect_timeout=3, socket_timeout=10)
    try:
        await leave_request(redis, hub.names, SERVICES, request_id, body)
    finally:
        await redis.aclose()
    answers = await ask_all(hub, "/privacy/erase", body.model_dump(exclude_none=True))
    states = {
        s: ("pending: " + a["missing"])
        if "missing" in a
        else ("done" if a["done"] else "pending: events in flight")
        for s, a in answers.items()
    }
    return {"request_id": request_id, "services": states, "answers": answers}


async def still_pending(hub: Target) -> dict[str, list[str]]:
    """The erasure requests each service has not finished yet (ids only)."""
    redis = Redis.from_url(hub.redis_url, socket_connect_timeout=3, socket_timeout=10)
    try:
        return {s: sorted(await pending_requests(redis, hub.names, s)) for s in SERVICES}
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
