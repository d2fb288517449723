"""The access log (innsynslogg): every staff answer that carries a person's contact (a read)
and every staff change that touches one, recorded append-only: who (the staff member's
pseudonymous actor id and roles), when, which person, what (the method and the route, whose
paths hold no personal data). docs/privacy.md, "The access log".

Where: one Redis stream for the hub (`privacy.access-log`, prefixed like the others);
entries are only ever added (XADD) and, past ACCESS_LOG_RETENTION_DAYS, trimmed from the
oldest end (XTRIM MINID) by the services' retention timers. Which person: a keyed hash
(HMAC-SHA-256) of their email address or E.164 phone, never the address itself, so that the
log does not become one more copy to erase and still answers "who looked at me?" for a
person who asks with the same email or phone. The key is the hub's own: made once, kept in
Redis beside the log (SET NX), shared by every service.

Recorded after the answer is sent, off the request's path: a staff answer is not slowed,
and a Redis outage loses log entries (counted in the service's log) rather than answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.auth import Staff, staff_roles
from shared.contacts import e164
from shared.messaging.redis import StreamNames, as_entries, as_str

STREAM = "privacy.access-log"
KEY = "privacy.access-log-key"
SKIPPED = ("/health", "/metrics", "/docs", "/openapi.json", "/privacy/")
MAX_PEOPLE = 500  # per answer: a list answer of a whole day still fits in one entry

log = logging.getLogger("knutepunkt.access_log")
_tasks: set[asyncio.Task[None]] = set()


async def log_key(redis: Redis, names: StreamNames) -> bytes:
    await redis.set(names(KEY), secrets.token_hex(32), nx=True)
    value = await redis.get(names(KEY))
    assert value is not None
    return value if isinstance(value, bytes) else str(value).encode()


def person_ref(key: bytes, identifier: str) -> str:
    return hmac.new(key, identifier.encode(), hashlib.sha256).hexdigest()[:32]


def identifiers(emails: Iterable[str | None] = (), phones: Iterable[str | None] = ()) -> set[str]:
    found = {e.strip().lower() for e in emails if e and "@" in e}
    return found | {p for p in (e164(raw) for raw in phones if raw) if p}


def people_in(value: Any) -> set[str]:
    """The emails and phones in a JSON answer or body: a contact's `email`/`phone`, fields
    named `*_email`/`*_phone`, and a delivery's `recipient`."""
    emails: list[str] = []
    phones: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                if isinstance(item, str) and isinstance(key, str):
                    if key == "email" or key.endswith("_email"):
                        emails.append(item)
                    elif key == "phone" or key.endswith("_phone"):
                        phones.append(item)
                    elif key == "recipient":
                        (emails if "@" in item else phones).append(item)
                else:
                    walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(value)
    return identifiers(emails, phones)


async def record(
    redis: Redis,
    names: StreamNames,
    *,
    service: str,
    staff: Staff,
    action: str,
    what: str,
    people: set[str],
    at: float | None = None,
) -> None:
    key = await log_key(redis, names)
    refs = sorted(person_ref(key, p) for p in people)[:MAX_PEOPLE]
    actor = staff.actor()
    await redis.xadd(
        names(STREAM),
        {
            "at": datetime.fromtimestamp(at if at is not None else time.time(), UTC).isoformat(),
            "service": service,
            "actor": f"{actor.kind}:{actor.id}",
            "roles": ",".join(actor.roles),
            "action": action,
            "what": what,
            "people": ",".join(refs),
        },
    )


async def entries(
    redis: Redis, names: StreamNames, people: set[str] | None = None, count: int = 10_000
) -> list[dict[str, str]]:
    """The log, oldest first; with `people`, only the entries naming one of them."""
    refs: set[str] | None = None
    if people is not None:
        key = await log_key(redis, names)
        refs = {person_ref(key, p) for p in people}
    out = []
    for entry_id, raw in as_entries(await redis.xrange(names(STREAM), count=count)):
        fields = {as_str(k): as_str(v) for k, v in raw.items()}
        named = set(filter(None, fields.get("people", "").split(",")))
        if refs is not None and not named & refs:
            continue
        fields["id"] = as_str(entry_id)
        fields["people"] = str(len(named))
        out.append(fields)
    return out


async def trim(redis: Redis, names: StreamNames, retention_days: float) -> int:
    """Entries older than the retention go, from the oldest end; nothing else ever does."""
    oldest = int((time.time() - retention_days * 86_400) * 1000)
    return int(await redis.xtrim(names(STREAM), minid=f"{oldest}-0", approximate=False))


def install(app: FastAPI) -> None:
    """Record the service's staff answers and changes that carry a person's contact."""

    @app.middleware("http")
    async def access_log(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        auth = request.headers.get("authorization", "")
        path = request.url.path
        if not auth.lower().startswith("bearer ") or path.startswith(SKIPPED):
            return await call_next(request)
        # A change names its person in what was sent (a borrower checked out to) as often
        # as in the answer; Starlette keeps the body read here for the route.
        sent = b""
        if request.method not in ("GET", "HEAD") and request.headers.get(
            "content-type", ""
        ).startswith("application/json"):
            sent = await request.body()
        response = await call_next(request)
        if response.status_code >= 400 or not response.headers.get("content-type", "").startswith(
            "application/json"
        ):
            return response
        body = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
        route = request.scope.get("route")
        what = f"{request.method} {getattr(route, 'path', path)}"
        task = asyncio.create_task(_record_later(request, auth, what, [sent, body]))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
        return Response(
            content=body,
            status_code=response.status_code,
            headers={k: v for k, v in response.headers.items() if k.lower() != "content-length"},
            media_type=response.media_type,
            background=response.background,
        )


async def _record_later(request: Request, auth: str, what: str, bodies: list[bytes]) -> None:
    runtime = request.app.state.runtime
    try:
        people: set[str] = set()
        for body in bodies:
            if body:
                people |= people_in(json.loads(body))
        if not people:
            return
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=auth[7:].strip())
        staff = await staff_roles(request, credentials)
        if staff is None:
            return
        action = "read" if request.method in ("GET", "HEAD") else "change"
        await record(
            runtime.redis,
            runtime.names,
            service=runtime.spec.name,
            staff=staff,
            action=action,
            what=what,
            people=people,
        )
    except (RedisError, OSError, ValueError) as exc:
        log.warning("access log entry lost: %s", type(exc).__name__)
