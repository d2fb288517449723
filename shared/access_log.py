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
Each service sends its entries through one writer (`Writer`): what answers queued while
the last batch was on its way goes in one pipeline, on one connection. An entry each on a
connection of its own emptied the Redis client's pool under a burst of staff answers (32
at once were enough), and the entries then lost were those the log exists to keep. A
service stopping waits for the entries of the answers it has sent (`drain`).

An answer with an ETag that the caller already holds may be answered 304 Not Modified
without its body; the person still saw it again, so the log keeps, per ETag, the people
that answer named (`remember`, a bounded number of recent tags), records a 304 with them,
and a route answers 304 only for a tag it finds here (`readers_of`), else in full.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials
from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import Staff, staff_roles
from shared.contacts import e164
from shared.messaging.redis import StreamNames, as_entries, as_str

if TYPE_CHECKING:
    from shared.service.runtime import Runtime

STREAM = "privacy.access-log"
KEY = "privacy.access-log-key"
SKIPPED = ("/health", "/metrics", "/docs", "/openapi.json", "/privacy/")
# A POST that only reads: its question names a person, and a person never goes in a URL
# (notify's search by recipient). Given as the route's `openapi_extra`, so that the log
# records a read, and the API's description says that the POST changes nothing.
_READS_ONLY = "x-reads-only"
READS_ONLY = {_READS_ONLY: True}
MAX_PEOPLE = 500  # per answer: a list answer of a whole day still fits in one entry

log = logging.getLogger("knutepunkt.access_log")
_tasks: set[asyncio.Task[None]] = set()
# How long a stopping service waits for the entries of answers it has sent; well within
# the time a container is given to stop (compose's default: 10 s; compose.yaml sets none).
DRAIN_SECONDS = 5.0
# The key, once read, is kept a while instead of asked for on every entry; a while, not for
# ever, so that a Redis that lost it (kept nothing on disk) and made another is followed.
KEY_KEPT_SECONDS = 60.0
_keys: dict[str, tuple[float, bytes]] = {}
# The people each recent ETag'd answer named (hashed only when recorded, like every entry).
TAGS_KEPT = 4096
_readers: OrderedDict[str, frozenset[str]] = OrderedDict()


def remember(etag: str, people: Iterable[str]) -> None:
    _readers[etag] = frozenset(people)
    _readers.move_to_end(etag)
    while len(_readers) > TAGS_KEPT:
        _readers.popitem(last=False)


def readers_of(etag: str) -> frozenset[str] | None:
    """The people the answer with this ETag named; None when this process does not know
    (another replica sent it, or it is long gone): then the answer is sent in full."""
    return _readers.get(etag)


async def log_key(redis: Redis, names: StreamNames) -> bytes:
    name = names(KEY)
    kept = _keys.get(name)
    if kept is not None and time.monotonic() - kept[0] < KEY_KEPT_SECONDS:
        return kept[1]
    await redis.set(name, secrets.token_hex(32), nx=True)
    value = await redis.get(name)
    assert value is not None
    key = value if isinstance(value, bytes) else str(value).encode()
    _keys[name] = (time.monotonic(), key)
    return key


def person_ref(key: bytes, identifier: str) -> str:
    return hmac.new(key, identifier.encode(), hashlib.sha256).hexdigest()[:32]


def identifiers(emails: Iterable[str | None] = (), phones: Iterable[str | None] = ()) -> set[str]:
    found = {e.strip().lower() for e in emails if e and "@" in e}
    return found | {p for p in (e164(raw) for raw in phones if raw) if p}


# A contact in JSON text: `"email"`, `"phone"`, `"…_email"`, `"…_phone"` or `"recipient"`
# (keys are words), then a string. Read off the text, not a parsed tree: an answer of a
# whole day is tens of kilobytes, and parsing it again only to find its few contacts cost
# more than the answer. A quote inside a JSON string is escaped, so text that merely looks
# like a key does not match; `\\.` takes an escape whole.
_CONTACT = re.compile(rb'"((?:\w*_)?(?:email|phone)|recipient)"\s*:\s*"((?:[^"\\]|\\.)*)"')


def people_in(body: bytes) -> set[str]:
    """The emails and phones in a JSON answer or body: a contact's `email`/`phone`, fields
    named `*_email`/`*_phone`, and a delivery's `recipient`."""
    emails: list[str] = []
    phones: list[str] = []
    for key, raw in _CONTACT.findall(body):
        value = json.loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode()
        if key.endswith(b"email"):
            emails.append(value)
        elif key.endswith(b"phone"):
            phones.append(value)
        else:
            (emails if "@" in value else phones).append(value)
    return identifiers(emails, phones)


@dataclass(frozen=True)
class Entry:
    """One staff answer or change, as recorded: the people still in clear until `fields`."""

    at: float
    service: str
    staff: Staff
    action: str
    what: str
    people: frozenset[str]

    def fields(self, key: bytes) -> dict[FieldT, EncodableT]:
        refs = sorted(person_ref(key, p) for p in self.people)[:MAX_PEOPLE]
        actor = self.staff.actor()
        return {
            "at": datetime.fromtimestamp(self.at, UTC).isoformat(),
            "service": self.service,
            "actor": f"{actor.kind}:{actor.id}",
            "roles": ",".join(actor.roles),
            "action": self.action,
            "what": self.what,
            "people": ",".join(refs),
        }


class Writer:
    """A service's entries, sent in batches by one task at a time: the entries queued while
    a batch is on its way form the next, in one pipeline (one round trip, one connection)."""

    BATCH = 500

    def __init__(self, redis: Redis, names: StreamNames) -> None:
        self._redis = redis
        self._names = names
        self._queued: list[Entry] = []
        self._sending: asyncio.Task[None] | None = None

    def add(self, entry: Entry) -> None:
        self._queued.append(entry)
        if self._sending is None or self._sending.done():
            self._sending = asyncio.create_task(self._send())
            _tasks.add(self._sending)
            self._sending.add_done_callback(_tasks.discard)

    async def _send(self) -> None:
        while self._queued:
            batch = self._queued[: self.BATCH]
            del self._queued[: self.BATCH]
            try:
                key = await log_key(self._redis, self._names)
                async with self._redis.pipeline(transaction=False) as pipe:
                    for entry in batch:
                        pipe.xadd(self._names(STREAM), entry.fields(key))
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                # One stream: what Redis refuses (a full memory, a key of another type) it
                # refuses for the whole batch.
                log.warning("access log: %d entries lost: %s", len(batch), type(exc).__name__)


def writer_of(runtime: Runtime) -> Writer:
    """The service's one writer (kept in its runtime's state)."""
    writer: Writer | None = runtime.state.get("access_log")
    if writer is None:
        writer = runtime.state["access_log"] = Writer(runtime.redis, runtime.names)
    return writer


async def drain(timeout: float = DRAIN_SECONDS) -> int:
    """Wait for the entries of answers already sent: a service stopping calls this before
    it closes its Redis connection, so that a deploy right after a look does not lose
    them. Returns how many tasks it waited for (answers and batches)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    waited: set[asyncio.Task[None]] = set()
    while True:
        # This loop's only: a process that ran others (tests do) may hold their tasks
        # unfinished. Asked again after each wait: an answer's task hands its entry to the
        # writer, whose batch is a task of its own.
        pending = {task for task in _tasks if not task.done() and task.get_loop() is loop}
        if not pending:
            return len(waited)
        waited |= pending
        _done, late = await asyncio.wait(pending, timeout=max(0.0, deadline - loop.time()))
        if late:
            log.warning("access log: %d answers or batches not recorded on stopping", len(late))
            return len(waited)


async def entries(
    redis: Redis, names: StreamNames, people: set[str] | None = None, count: int = 10_000
) -> list[dict[str, str]]:
    """The log, oldest answer first (entries are added after their answers, not always
    in their order); with `people`, only the entries naming one of them."""
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
    return sorted(out, key=lambda e: datetime.fromisoformat(e["at"]))


async def trim(redis: Redis, names: StreamNames, retention_days: float) -> int:
    """Entries older than the retention go, from the oldest end; nothing else ever does."""
    oldest = int((time.time() - retention_days * 86_400) * 1000)
    return int(await redis.xtrim(names(STREAM), minid=f"{oldest}-0", approximate=False))


def install(app: FastAPI) -> None:
    """Record the service's staff answers and changes that carry a person's contact."""
    app.add_middleware(AccessLogMiddleware)


class AccessLogMiddleware:
    """Plain ASGI: the body sent and the answer pass through unchanged and are copied on the
    way (an `@app.middleware("http")` function would run every request through a task and
    memory streams of its own, and buffer the answer); the entry is recorded after the last
    byte is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(SKIPPED):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        auth = headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        # A change names its person in what was sent (a borrower checked out to) as often
        # as in the answer.
        sent: list[bytes] = []
        keep_sent = method not in ("GET", "HEAD") and headers.get("content-type", "").startswith(
            "application/json"
        )
        answer: list[bytes] | None = None

        async def receiving() -> Message:
            message = await receive()
            if keep_sent and message["type"] == "http.request":
                sent.append(message.get("body", b""))
            return message

        etag: str | None = None

        def later(people: Iterable[str] | None, bodies: list[bytes]) -> None:
            route = scope.get("route")
            what = f"{method} {getattr(route, 'path', scope['path'])}"
            at = time.time()  # the answer's time: entries may reach the stream out of order
            task = asyncio.create_task(
                _record_later(Request(scope), auth, what, bodies, people, etag, at)
            )
            _tasks.add(task)
            task.add_done_callback(_tasks.discard)

        async def sending(message: Message) -> None:
            nonlocal answer, etag
            if message["type"] == "http.response.start":
                answered = Headers(raw=message.get("headers", []))
                etag = answered.get("etag")
                if message["status"] == 304 and etag is not None:
                    later(readers_of(etag) or (), [])
                elif message["status"] < 400 and answered.get("content-type", "").startswith(
                    "application/json"
                ):
                    answer = []
            elif message["type"] == "http.response.body" and answer is not None:
                answer.append(message.get("body", b""))
                if not message.get("more_body", False):
                    later(None, [b"".join(sent), b"".join(answer)])
            await send(message)

        await self.app(scope, receiving if keep_sent else receive, sending)


async def _record_later(
    request: Request,
    auth: str,
    what: str,
    bodies: list[bytes],
    known: Iterable[str] | None,
    etag: str | None,
    at: float,
) -> None:
    """`known`: the people of a 304's earlier answer; else those in the bodies, which an
    answer's ETag then stands for."""
    runtime = request.app.state.runtime
    try:
        people: set[str] = set(known or ())
        for body in bodies:
            if body:
                people |= people_in(body)
        if etag is not None and known is None:
            remember(etag, people)
        if not people:
            return
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=auth[7:].strip())
        staff = await staff_roles(request, credentials)
        if staff is None:
            return
        action = "read" if request.method in ("GET", "HEAD") or _reads_only(request) else "change"
        service = runtime.spec.name
        writer_of(runtime).add(Entry(at, service, staff, action, what, frozenset(people)))
    except (OSError, ValueError) as exc:
        log.warning("access log entry lost: %s", type(exc).__name__)


def _reads_only(request: Request) -> bool:
    extra = getattr(request.scope.get("route"), "openapi_extra", None) or {}
    return bool(extra.get(_READS_ONLY))
