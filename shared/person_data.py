"""One person's data in one service: what it holds (access, GDPR art. 15) and erasing it
(art. 17), behind two admin-only endpoints every service mounts the same way
(docs/privacy.md, "A person's request"):

- `POST /privacy/export` {email, phone}: every row of the service's own database that names
  the person, as JSON;
- `POST /privacy/erase` {email, phone}: the service anonymises those rows (what a law
  requires to keep stays, without contact data), redacts the person from its outbox and,
  for a producer, from its stream and dead letters (shared/messaging/redact.py); `done` is
  false while a stream entry naming them is still in flight, and the request is repeated
  (erasing twice is harmless).

The person is in the request's body, never in a URL (no personal data in URLs or logs).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Table, inspect, select, update

from shared import access_log
from shared.auth import require_staff
from shared.contacts import e164
from shared.errors import Refused
from shared.events import CONSUMERS, dlq_stream
from shared.messaging.redact import Person, redact_payload, redact_stream, waiting_for
from shared.messaging.redis import StreamNames
from shared.roles import Role
from shared.service import Runtime, runtime_of
from shared.unit_of_work import UnitOfWork

log = logging.getLogger("knutepunkt.person_data")

Export = Callable[[UnitOfWork[Any], Person], Awaitable[dict[str, list[dict[str, Any]]]]]
Erase = Callable[[UnitOfWork[Any], Person], Awaitable[dict[str, int]]]


@dataclass(frozen=True)
class PersonData:
    export: Export
    erase: Erase


class PersonIn(BaseModel):
    """Who: an email address, a phone number, or both (what the person gave the hub)."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=32)
    # An erasure left by `knutepunkt person erase` (removed from this service's list once
    # done); None for a request made directly.
    request_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9-]+$")

    @model_validator(mode="after")
    def _someone(self) -> PersonIn:
        if not (self.email or self.phone):
            raise ValueError("give an email address or a phone number")
        if self.email and "@" not in self.email:
            raise ValueError("not an email address")
        if self.phone and e164(self.phone) is None:
            raise ValueError("not a phone number")
        return self

    def person(self) -> Person:
        return Person.of(emails=[self.email], phones=[self.phone])


def row(obj: Any) -> dict[str, Any]:
    """A mapped row as JSON-ready values (binary columns as their length)."""
    out: dict[str, Any] = {}
    for attr in inspect(obj).mapper.column_attrs:
        value = getattr(obj, attr.key)
        if isinstance(value, datetime | date):
            value = value.isoformat()
        elif isinstance(value, bytes):
            value = f"<{len(value)} bytes>"
        out[attr.key] = value
    return out


async def redact_outbox(uow: UnitOfWork[Any], outbox: Table, person: Person) -> int:
    """The service's outbox rows (published ones are kept a day) that name the person,
    redacted in place: an unpublished one goes out redacted."""
    session = uow.store.session
    changed = 0
    for row_id, payload in (await session.execute(select(outbox.c.id, outbox.c.payload))).all():
        redacted = redact_payload(payload, person)
        if redacted is not None:
            await session.execute(
                update(outbox).where(outbox.c.id == row_id).values(payload=redacted)
            )
            changed += 1
    return changed


async def erase_here(runtime: Runtime, data: PersonData, person: Person) -> dict[str, Any]:
    """Erase the person in this service: its rows, its outbox, its stream and dead letters."""

    async def work(uow: UnitOfWork[Any]) -> tuple[dict[str, int], int]:
        return await data.erase(uow, person), await redact_outbox(
            uow, runtime.tables.outbox, person
        )

    erased, outbox = await runtime.uow.run(work)
    streams = []
    for stream in runtime.spec.produces:
        name = runtime.names(stream)
        done = await redact_stream(runtime.redis, name, dlq_stream(name), person)
        streams.append(
            {
                "stream": stream,
                "searched": done.searched,
                "deleted": done.deleted,
                "dead_letters": done.dead_letters,
                "in_flight": done.in_flight,
            }
        )
    # Events about them this service has yet to consume would write about them again.
    consuming = {}
    for stream, groups in CONSUMERS.items():
        if runtime.spec.name in groups:
            waiting = await waiting_for(
                runtime.redis, runtime.names(stream), runtime.spec.name, person
            )
            consuming[stream] = waiting
    return {
        "service": runtime.spec.name,
        "at": runtime.now().isoformat(),
        "erased": erased,
        "outbox_redacted": outbox,
        "streams": streams,
        "to_consume": consuming,
        "done": all(s["in_flight"] == 0 for s in streams) and not any(consuming.values()),
    }


# --- erasure requests a service works through on its own -----------------------------------
#
# `knutepunkt person erase` leaves the request, under an id, in one Redis hash per service
# (`privacy.erasures.<service>`) before it asks the services. A service removes it from its
# own hash once it has erased the person with nothing in flight: at once when it answers the
# request, or, when it was down, by its erasure timer after it starts again. The hashes hold
# the email and phone only while a service still has to act; a request every service has
# done leaves nothing behind.


def pending_key(names: StreamNames, service: str) -> str:
    return names(f"privacy.erasures.{service}")


async def leave_request(
    redis: Redis, names: StreamNames, services: Iterable[str], request_id: str, body: PersonIn
) -> None:
    value = body.model_dump_json()
    for service in services:
        await redis.hset(pending_key(names, service), request_id, value)


async def pending_requests(redis: Redis, names: StreamNames, service: str) -> dict[str, PersonIn]:
    raw = await redis.hgetall(pending_key(names, service))
    return {
        (k.decode() if isinstance(k, bytes) else str(k)): PersonIn.model_validate_json(v)
        for k, v in raw.items()
    }


async def erase_pending(runtime: Runtime, data: PersonData) -> int:
    """Every erasure request left for this service; how many it finished now."""
    finished = 0
    key = pending_key(runtime.names, runtime.spec.name)
    for request_id, body in (
        await pending_requests(runtime.redis, runtime.names, runtime.spec.name)
    ).items():
        answer = await erase_here(runtime, data, body.person())
        if answer["done"]:
            await runtime.redis.hdel(key, request_id)
            finished += 1
    return finished


def erasure_task(data: PersonData) -> Callable[[Runtime], Awaitable[None]]:
    """The timer that works through the erasure requests left for this service: at start
    (a service that was down acts when it returns), then every ERASURE_POLL_SECONDS."""

    async def erasure_loop(runtime: Runtime) -> None:
        while True:
            try:
                done = await erase_pending(runtime, data)
                if done:
                    log.info("finished %d erasure request(s)", done)
            except (RedisError, OSError) as exc:
                log.warning("erasure requests not read: %s", type(exc).__name__)
            await asyncio.sleep(runtime.settings.erasure_poll_seconds)

    return erasure_loop


def mount(app: FastAPI, data: PersonData) -> None:
    """The person endpoints and the access log, as every service has them."""
    app.include_router(person_router(data))
    access_log.install(app)


def person_router(data: PersonData) -> APIRouter:
    router = APIRouter(tags=["privacy"], dependencies=[Depends(require_staff(Role.ADMIN))])

    @router.post("/privacy/export")
    async def export(request: Request, body: PersonIn) -> dict[str, Any]:
        """Everything this service's database holds about the person (admin only)."""
        runtime = runtime_of(request)
        person = body.person()
        held = await runtime.uow.run(lambda uow: data.export(uow, person), read_only=True)
        return {"service": runtime.spec.name, "at": runtime.now().isoformat(), "held": held}

    @router.get("/privacy/access-log")
    async def list_access_log(
        request: Request, limit: int = Query(default=1000, ge=1, le=10_000)
    ) -> list[dict[str, str]]:
        """The access log of the whole hub, newest first: who on staff read or changed how
        many people's data, when, through which route (admin only)."""
        runtime = runtime_of(request)
        found = await access_log.entries(runtime.redis, runtime.names)
        return list(reversed(found))[:limit]

    @router.post("/privacy/access-log")
    async def person_access_log(request: Request, body: PersonIn) -> list[dict[str, str]]:
        """The access log's entries naming one person (admin only)."""
        runtime = runtime_of(request)
        people = access_log.identifiers([body.email], [body.phone])
        return await access_log.entries(runtime.redis, runtime.names, people)

    @router.post("/privacy/erase")
    async def erase(request: Request, body: PersonIn) -> dict[str, Any]:
        """Erase the person here: rows anonymised, outbox, stream and dead letters redacted.
        `done` false: a stream entry naming them is still in flight; ask again."""
        runtime = runtime_of(request)
        person = body.person()
        if not person:
            raise Refused("nobody to erase", nb="ingen å slette", code="no_person")

        answer = await erase_here(runtime, data, person)
        if answer["done"] and body.request_id:
            await runtime.redis.hdel(pending_key(runtime.names, runtime.spec.name), body.request_id)
        return answer

    return router
