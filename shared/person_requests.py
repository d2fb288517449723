"""One person's request across the hub (GDPR art. 15 and 17), asked of the four services'
admin endpoints (`POST /privacy/export`, `POST /privacy/erase`, shared/person_data.py) and
put together: the one place both the ops CLI (`knutepunkt person`) and the web front's admin
pages (/ansatt/personvern) do it, so they answer alike.

A service that does not answer is listed as missing (export) or pending (erase). An erasure
is left for every service before they are asked: one that is down erases when it starts
again. The person travels in request bodies only, never in a URL or a log line.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared import access_log
from shared.messaging.redis import StreamNames
from shared.person_data import PersonIn, leave_request, pending_requests
from shared.settings import SERVICES

TIMEOUT_SECONDS = 15.0
DONE = "done"


async def ask_all(
    urls: dict[str, str],
    headers: dict[str, str],
    path: str,
    body: dict[str, str],
    timeout: float = TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Each service's answer, or `{"missing": why}` when there is none."""

    async def ask(client: httpx.AsyncClient, service: str) -> tuple[str, dict[str, Any]]:
        try:
            response = await client.post(urls[service] + path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            return service, {"missing": f"not answering ({type(exc).__name__})"}
        if response.status_code != 200:
            return service, {"missing": f"answered {response.status_code}: {response.text[:300]}"}
        return service, response.json()

    async with httpx.AsyncClient(timeout=timeout) as client:
        answers = await asyncio.gather(*(ask(client, s) for s in SERVICES))
    return dict(answers)


def assemble_export(answers: dict[str, Any], asked: dict[str, str]) -> dict[str, Any]:
    missing = {s: a["missing"] for s, a in answers.items() if "missing" in a}
    return {
        "asked_for": asked,
        "made_at": datetime.now(UTC).isoformat(),
        "complete": not missing,
        "missing": missing,
        "services": {s: a.get("held", {}) for s, a in answers.items() if "missing" not in a},
    }


async def export_all(
    urls: dict[str, str],
    headers: dict[str, str],
    redis: Redis,
    names: StreamNames,
    asked: dict[str, str],
) -> dict[str, Any]:
    """The four services' answers and the access log's entries naming the person."""
    made = assemble_export(await ask_all(urls, headers, "/privacy/export", asked), asked)
    try:
        people = access_log.identifiers([asked.get("email")], [asked.get("phone")])
        made["access_log"] = await access_log.entries(redis, names, people)
    except (RedisError, OSError) as exc:
        made["access_log"] = []
        made["missing"]["access_log"] = f"Redis not answering ({type(exc).__name__})"
        made["complete"] = False
    return made


def erase_states(answers: dict[str, Any]) -> dict[str, str]:
    """Per service: `done`, or `pending: why`."""
    return {
        s: ("pending: " + a["missing"])
        if "missing" in a
        else (DONE if a["done"] else "pending: events in flight")
        for s, a in answers.items()
    }


async def erase_all(
    urls: dict[str, str],
    headers: dict[str, str],
    redis: Redis,
    names: StreamNames,
    asked: dict[str, str],
) -> dict[str, Any]:
    """Leave the request for every service, then ask each: what answers done is removed
    from its list by the service itself; a service down finds it when it starts again."""
    request_id = str(uuid.uuid4())
    body = PersonIn.model_validate({**asked, "request_id": request_id})
    await leave_request(redis, names, SERVICES, request_id, body)
    answers = await ask_all(urls, headers, "/privacy/erase", body.model_dump(exclude_none=True))
    return {"request_id": request_id, "services": erase_states(answers), "answers": answers}


async def still_pending(redis: Redis, names: StreamNames) -> dict[str, list[str]]:
    """The erasure requests each service has not finished yet (ids only)."""
    return {s: sorted(await pending_requests(redis, names, s)) for s in SERVICES}


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
                lines.append("- " + shown(row))
            lines.append("")
    return "\n".join(lines)


def shown(row: dict[str, Any]) -> str:
    """One held row as `key: value; …`, leaving out what is empty."""
    return "; ".join(f"{k}: {v}" for k, v in row.items() if v not in (None, "", [], {}))
