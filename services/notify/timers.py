"""The sender (a ServiceSpec task): claims due deliveries, sends them over SMTP and the SMS
gateway, and records each outcome as soon as the provider has answered it.

Each process's sender is an instance (a row in notify_senders) with a heartbeat. Its claims
are its own while the heartbeat is fresh; a sender silent for NOTIFY_SENDER_STALE_SECONDS
is taken for dead by any other, which puts its claims back in the queue at once (a
restarted notify does so within seconds of starting). A sender sends a message only while
it knows its own claim is safe: its last heartbeat is recent enough that nobody can have
taken it for dead yet, and the claim is within its lease. So a message is sent a second
time only when the first send reached the provider and the process died (or stalled past
the stale limit) before the outcome was committed; the SMS gateway then gets the same
reference (the delivery id) and an email the same Message-ID, for the far side to
deduplicate on.

What a consumed event makes due at once is claimed in the consumer's transaction for
this process's sender when the channel's loop is idle, and handed to it at commit
(`Sender.hand_off`): the first attempt then waits for no claim of its own.

Outcomes are committed in groups as they come (group commit): an answer waits for those of
the sends still under way, but never for a full window nor longer than
NOTIFY_RECORD_LINGER_SECONDS, and what arrives during a commit goes in the next one; no
outcome waits for a batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from email.message import Message
from functools import partial

from sqlalchemy.orm import Session

from services.notify import usecases
from services.notify.domain import (
    CHANNELS,
    Channel,
    CircuitBreaker,
    HandOff,
    RetryPolicy,
    SendResult,
)
from services.notify.mail import SmtpPool, build_email
from services.notify.models import DeliveryRow
from services.notify.settings import NotifySettings, notify_rules, notify_settings
from services.notify.sms import FailoverSms, SmsGateway, SmsOptions
from services.notify.store import DELIVERIES_DUE, DELIVERIES_HANDED
from shared.anonymise import days, in_batches, retention_loop
from shared.backoff import Backoff
from shared.calendar import utcnow
from shared.errors import Busy
from shared.service import Runtime
from shared.tasks import cancelling

log = logging.getLogger("knutepunkt.notify.sender")

SENDER_KEY = "notify.sender"


class RateLimiter:
    """A token bucket per provider (per replica): `rate` messages a second, bursts of one
    second's worth."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = max(rate, 1.0)
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self.rate <= 0:
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(
                    max(self.rate, 1.0), self.tokens + (now - self.updated) * self.rate
                )
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


@dataclass
class Channels:
    smtp: SmtpPool
    sms: FailoverSms
    email_limit: RateLimiter
    sms_limit: RateLimiter

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self.smtp.aclose()
        with contextlib.suppress(Exception):
            await self.sms.aclose()


def open_channels(runtime: Runtime, config: NotifySettings) -> Channels:
    settings = runtime.settings
    callback = (
        f"{config.public_url.rstrip('/')}/sms/delivery-reports" if config.public_url else None
    )
    options = SmsOptions(
        sender=config.sms_sender,
        username=config.sms_username,
        password=config.sms_password,
        token=config.sms_token,
        platform_id=config.sms_platform_id,
        platform_partner_id=config.sms_platform_partner_id,
        report_gate=config.sms_report_gate,
        callback_url=callback,
    )
    timeout = config.sms_timeout_seconds
    primary = SmsGateway(settings.sms_gateway_url, settings.sms_provider, options, timeout)
    fallback = None
    if config.sms_fallback_url:
        fallback_options = replace(
            options,
            username=config.sms_fallback_username,
            password=config.sms_fallback_password,
            token=config.sms_fallback_token,
        )
        fallback = SmsGateway(
            config.sms_fallback_url, config.sms_fallback_provider, fallback_options, timeout
        )
    breaker = CircuitBreaker(config.sms_failover_after, config.sms_failover_seconds)
    return Channels(
        smtp=SmtpPool(settings.smtp_url, config.smtp_timeout_seconds, config.smtp_connections),
        sms=FailoverSms(primary, fallback, breaker),
        email_limit=RateLimiter(config.email_per_second),
        sms_limit=RateLimiter(config.sms_per_second),
    )


Outcomes = list[usecases.SendOutcome]

# How long a handed email waits for the texts handed with it to be answered.
TEXTS_FIRST_SECONDS = 0.05


@dataclass
class Handed:
    """Deliveries a fan-out claimed for this sender (`hand_off`), for one loop; `answered`
    is set once they are sent, `after` (the texts handed with these emails) is waited
    for, briefly, before they are."""

    hand_off: HandOff
    rows: list[DeliveryRow]
    after: asyncio.Event | None = None
    answered: asyncio.Event = field(default_factory=asyncio.Event)


class Window:
    """The instance's window: at most `size` messages on their way or answered but not
    yet recorded, its loops together; what a crash can send a second time. It also tells
    the recorders waiting to group their outcomes when something changed that may end
    the wait (an answer came, or the window filled up)."""

    def __init__(self, size: int) -> None:
        self._slots = asyncio.Semaphore(size)
        self._changed = asyncio.Event()

    @property
    def full(self) -> bool:
        return self._slots.locked()

    async def acquire(self) -> None:
        await self._slots.acquire()
        if self._slots.locked():
            self.changed()  # the next send would wait: the outcomes held back go now

    def release(self) -> None:
        self._slots.release()

    def changed(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for_change(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._changed.wait()


class Recorder:
    """Outcomes committed as they arrive, in groups: a group goes when no other send of
    this recorder is still waiting for its answer, when the window is full (the next send
    would wait for it), or when its first outcome has waited `linger` seconds, whichever
    comes first; what arrives during a commit waits for it and goes in the next group.

    Grouping never widens the window in which a crash sends a message twice: at most
    the window's size are on their way or answered but not yet committed; a send waits
    for a slot (`slot()`), which the commit of its outcome frees. A database that is slow
    to commit slows the sending down instead of widening the window. What the grouping
    saves is a transaction, and the relay's publish, per answer."""

    def __init__(
        self,
        commit: Callable[[Outcomes], Awaitable[None]],
        window: Window,
        linger: float = 0.0,
    ) -> None:
        """`window`: the instance's, which its loops share."""
        self._commit = commit
        self._pending: Outcomes = []
        self._task: asyncio.Task[None] | None = None
        self._window = window
        self._linger = linger
        self._sending = 0  # sends holding a slot whose outcome has not come yet
        self._singly = 0  # outcomes to commit one at a time, after a group failed

    async def slot(self) -> None:
        await self._window.acquire()
        self._sending += 1

    def add(self, outcome: usecases.SendOutcome) -> None:
        """The outcome of a send that holds a slot."""
        self._sending -= 1
        self._pending.append(outcome)
        self._window.changed()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="notify-recorder")

    async def _gathered(self) -> None:
        """Until the pending group is as large as it will soon get."""
        deadline = time.monotonic() + self._linger
        while self._sending and not self._window.full:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            await self._window.wait_for_change(left)

    async def _run(self) -> None:
        waits = Backoff(0.1, 5.0)
        while self._pending:
            await self._gathered()
            size = 1 if self._singly else len(self._pending)
            group, self._pending = self._pending[:size], self._pending[size:]
            try:
                await self._commit(group)
            except Busy as exc:
                # The database is away or busy. Nothing is lost by waiting: the claims stay
                # ours while we live, and no slot is freed, so nothing more is sent.
                log.warning("outcomes not recorded yet (%s); again", exc.code)
                self._pending = group + self._pending
                await asyncio.sleep(waits.next())
                continue
            except Exception:
                if cancelling():
                    raise
                if len(group) > 1:
                    # One outcome that cannot be written must not hold up the others.
                    self._singly += len(group)
                    self._pending = group + self._pending
                    continue
                log.exception(
                    "the outcome of delivery %s cannot be recorded; it stays claimed until"
                    " its lease runs out",
                    group[0].delivery.id,
                )
            waits.reset()
            self._singly = max(0, self._singly - len(group))
            for _ in group:
                self._window.release()

    async def drain(self) -> None:
        while self._task is not None and not self._task.done():
            await self._task


class Sender:
    """This process's sender instance: its id, heartbeat, wake-up and the sending."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = notify_settings(runtime)
        self.policy = RetryPolicy(
            self.settings.max_attempts,
            self.settings.retry_base_seconds,
            self.settings.retry_max_seconds,
        )
        self.sender_id = ""
        self._generation = 0
        # Until when (monotonic) nobody can have taken this sender for dead.
        self._safe_until = 0.0
        # A loop per channel (see run), each woken by its own event; the window of
        # messages sent but not yet recorded is the instance's, shared by its loops.
        self._wake = {channel: asyncio.Event() for channel in CHANNELS}
        self._window = Window(self.settings.unrecorded_window)
        # Deliveries a fan-out claimed for this sender (hand_off), per channel, and which
        # loops are waiting for work: only an idle loop is offered any, so that none waits
        # in memory behind a batch being sent.
        self._handed: dict[Channel, deque[Handed]] = {channel: deque() for channel in CHANNELS}
        self._idle = dict.fromkeys(CHANNELS, False)

    # --- waking ---------------------------------------------------------------------------

    def wake(self) -> None:
        for event in self._wake.values():
            event.set()

    def _after_commit(self, session: Session) -> None:
        for channel in session.info.pop(DELIVERIES_DUE, ()):
            self._wake[channel].set()
        for hand_off, rows in session.info.pop(DELIVERIES_HANDED, ()):
            self._take(hand_off, rows)

    # --- deliveries handed over by a fan-out ---------------------------------------------

    def hand_off(self) -> HandOff | None:
        """An offer to take what a fan-out makes due at once on the channels whose loop is
        idle (usecases.fan_out_together), or None: none is, or this sender cannot send
        safely now. What it is handed needs no claim of its own: the SMS for a booking
        goes as soon as the booking's event is committed."""
        claimed = time.monotonic()
        idle = frozenset(c for c in CHANNELS if self._idle[c] and not self._handed[c])
        if not idle or not self.sender_id or claimed >= self._safe_until:
            return None
        at = utcnow()
        lease = timedelta(seconds=self.settings.claim_lease_seconds)
        return HandOff(self.sender_id, at, at + lease, idle, self._generation, claimed)

    def _take(self, hand_off: HandOff, rows: list[DeliveryRow]) -> None:
        if hand_off.generation != self._generation:
            # Taken for dead since: whoever did so put these claims back in the queue.
            return
        texts = [row for row in rows if row.channel == "sms"]
        emails = [row for row in rows if row.channel == "email"]
        after = None
        if texts:
            handed = Handed(hand_off, texts)
            self._handed["sms"].append(handed)
            self._wake["sms"].set()
            after = handed.answered
        if emails:
            # Texts first: an email's building and SMTP conversation, run while its text's
            # request waits for its turn on the loop, would go before it.
            self._handed["email"].append(Handed(hand_off, emails, after))
            self._wake["email"].set()

    # --- the instance ---------------------------------------------------------------------

    @property
    def _margin(self) -> float:
        return self.settings.heartbeat_seconds

    def _beaten_at(self, started: float) -> None:
        # Others take us for dead once our beat is sender_stale_seconds old (by their
        # clock); stop a beat short of that.
        self._safe_until = started + self.settings.sender_stale_seconds - self._margin

    async def _register(self) -> None:
        sender_id = str(uuid.uuid4())
        started = time.monotonic()
        command = usecases.RegisterSender(sender_id, socket.gethostname(), os.getpid(), utcnow())
        await self.runtime.uow.run(lambda uow: usecases.register_sender(uow, command))
        self.sender_id = sender_id
        self._generation += 1
        self._beaten_at(started)
        log.info("sender %s started", sender_id[:8])

    async def beat(self) -> None:
        started, at = time.monotonic(), utcnow()
        stale = timedelta(seconds=self.settings.sender_stale_seconds)
        command = usecases.Heartbeat(self.sender_id, at, at - stale)
        beaten = await self.runtime.uow.run(lambda uow: usecases.beat(uow, command))
        if not beaten.alive:
            log.warning("sender %s was taken for dead; starting anew", self.sender_id[:8])
            self._safe_until = 0.0
            await self._register()
            return
        self._beaten_at(started)
        if beaten.released:
            self.wake()

    async def _beating(self) -> None:
        while True:
            try:
                await self.beat()
            except Exception as exc:
                if cancelling():
                    raise
                # Without a beat the claims stop being safe and sending pauses by itself.
                log.warning("sender heartbeat failed: %s", type(exc).__name__)
            await asyncio.sleep(self.settings.heartbeat_seconds)

    async def _retire(self) -> None:
        sender_id = self.sender_id
        self._safe_until = 0.0
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await self.runtime.uow.run(lambda uow: usecases.retire_sender(uow, sender_id))

    # --- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        channels = open_channels(self.runtime, self.settings)
        await self._register()
        beating = asyncio.create_task(self._beating(), name="notify-heartbeat")
        try:
            # A loop per channel: a text claimed while emails are being sent goes at once,
            # not after the slowest email of the batch before it (booking -> SMS latency).
            async with asyncio.TaskGroup() as loops:
                for channel in CHANNELS:
                    loops.create_task(self._sending(channels, channel), name=f"notify-{channel}")
        finally:
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)
            await channels.aclose()
            await self._retire()

    async def _sending(self, channels: Channels, channel: Channel) -> None:
        wake = self._wake[channel]
        handed = self._handed[channel]
        while True:
            if handed:
                await self._send_handed(channels, channel, handed.popleft())
                continue
            try:
                claimed = await self.send_due(channels, channel)
            except Busy as exc:  # the database is away or busy: wait, then again
                log.warning("sender waiting for the database: %s", exc.code)
                claimed = 0
            if claimed < self.settings.batch and not handed:
                self._idle[channel] = True
                try:
                    # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel
                    # that lands as the event is set, and the loop would never stop.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.settings.poll_seconds):
                            await wake.wait()
                finally:
                    self._idle[channel] = False
                wake.clear()

    async def _send_handed(self, channels: Channels, channel: Channel, handed: Handed) -> None:
        if handed.after is not None:
            # Never for long: a slow SMS gateway holds up no email.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TEXTS_FIRST_SECONDS):
                    await handed.after.wait()
        hand_off = handed.hand_off
        claim = (hand_off.sender_id, hand_off.generation, hand_off.claimed)
        try:
            await self._send(channels, channel, handed.rows, claim)
        finally:
            handed.answered.set()

    async def send_due(self, channels: Channels, channel: Channel) -> int:
        """Claim and send what is due on `channel`; the count claimed."""
        if time.monotonic() >= self._safe_until:
            return 0  # until a heartbeat says we are alive
        sender_id, generation = self.sender_id, self._generation
        claimed, at = time.monotonic(), utcnow()
        lease = self.settings.claim_lease_seconds
        command = usecases.ClaimDue(
            sender_id, at, at + timedelta(seconds=lease), self.settings.batch, (channel,)
        )
        rows = await self.runtime.uow.run(lambda uow: usecases.claim_due(uow, command))
        if rows is None:
            self._safe_until = 0.0  # taken for dead: the heartbeat starts a new instance
            return 0
        if not rows:
            return 0
        self._beaten_at(claimed)  # the claim beat too
        await self._send(channels, channel, rows, (sender_id, generation, claimed))
        return len(rows)

    async def _send(
        self,
        channels: Channels,
        channel: Channel,
        rows: list[DeliveryRow],
        claim: tuple[str, int, float],
    ) -> None:
        """Send `rows`, claimed by this sender (its id and generation, and when the
        lease began: monotonic), each only while the claim is safe, and record each
        answer."""
        sender_id, generation, claimed = claim
        safe_until = claimed + self.settings.claim_lease_seconds - self._margin

        def safe() -> bool:
            now = time.monotonic()
            return generation == self._generation and now < min(self._safe_until, safe_until)

        recorder = Recorder(
            lambda group: self._record(sender_id, group),
            self._window,
            self.settings.record_linger_seconds,
        )
        settings = self.settings

        async def send(
            row: DeliveryRow, limit: RateLimiter, call: Callable[[], Awaitable[SendResult]]
        ) -> None:
            await recorder.slot()
            await limit.acquire()
            # Checked at the last moment: a claim that may be someone else's by now is
            # put back unsent rather than sent twice.
            result = await call() if safe() else None
            recorder.add(usecases.SendOutcome(row, result))

        async def send_emails() -> None:
            # As many at once as the pool has connections, each reused.
            gate = asyncio.Semaphore(channels.smtp.size)

            async def one(row: DeliveryRow) -> None:
                async with gate:
                    message = _email(row, settings)
                    await send(row, channels.email_limit, partial(channels.smtp.send, message))

            await asyncio.gather(*(one(r) for r in rows))

        async def send_texts() -> None:
            gate = asyncio.Semaphore(settings.sms_concurrency)

            async def one(row: DeliveryRow) -> None:
                async with gate:
                    call = partial(
                        channels.sms.send, row.recipient, row.body_text, row.id, row.sms_gateway
                    )
                    await send(row, channels.sms_limit, call)

            await asyncio.gather(*(one(r) for r in rows))

        try:
            await (send_texts() if channel == "sms" else send_emails())
        finally:
            # Stopping too: what the providers answered is committed before we go.
            await asyncio.shield(recorder.drain())

    async def _record(self, sender_id: str, group: Outcomes) -> None:
        command = usecases.RecordOutcomes(sender_id, tuple(group))
        written = await self.runtime.uow.run(
            lambda uow: usecases.record_outcomes(uow, command, policy=self.policy)
        )
        for channel, status in written:
            self.runtime.metrics.deliveries.labels(channel, status).inc()
        if any(status != "sent" for _, status in written):
            log.info(
                "recorded %d: %d sent, %d to retry, %d failed",
                len(written),
                sum(status == "sent" for _, status in written),
                sum(status == "queued" for _, status in written),
                sum(status == "failed" for _, status in written),
            )


def _email(row: DeliveryRow, settings: NotifySettings) -> Message:
    return build_email(
        delivery_id=row.id,
        sender=settings.mail_from,
        to=row.recipient,
        subject=row.subject or "",
        text=row.body_text,
        html=row.body_html,
        ics=row.ics,
        ics_method=row.ics_method,
        preferences_url=row.preferences_url,
    )


def install(runtime: Runtime) -> Sender:
    """The process's sender, woken after any commit that made deliveries due."""
    sender = Sender(runtime)
    runtime.db.after_commit(sender._after_commit)
    runtime.state[SENDER_KEY] = sender
    return sender


def sender_of(runtime: Runtime) -> Sender:
    sender: Sender = runtime.state[SENDER_KEY]
    return sender


async def sender_loop(runtime: Runtime) -> None:
    await sender_of(runtime).run()


async def digest_loop(runtime: Runtime) -> None:
    """The staff's daily digests: every NOTIFY_DIGEST_POLL_SECONDS, each role's digest that
    is due and not made yet is made (once per role and day, whatever the replicas: the
    made mark is inserted if absent in the transaction that plans the emails)."""
    settings = notify_settings(runtime)
    plans = settings.digest_plans()
    known: set[tuple[str, str]] = set()
    while True:
        command = usecases.MakeDigests(plans, frozenset(known))
        try:
            made = await runtime.uow.run(
                partial(usecases.make_digests, cmd=command, rules=notify_rules(runtime))
            )
        except Busy as exc:
            log.warning("digests waiting for the database: %s", exc.code)
            made = []
        for role, day, emails in made:
            if emails:
                log.info("daily digest for %s on %s: %d email(s)", role, day, emails)
            # Only today's marks matter: a day's digest is never made on another day.
            known = {mark for mark in known if mark[1] == day} | {(role, day)}
        await asyncio.sleep(settings.digest_poll_seconds)


async def anonymise_expired(runtime: Runtime, batch: int = 500) -> int:
    """Retention (docs/privacy.md): every delivery past NOTIFY_RETENTION_DAYS, a batch per
    transaction; how many this replica anonymised."""
    cmd = usecases.AnonymiseExpired(days(notify_settings(runtime).retention_days), batch)
    return await in_batches(runtime, batch, lambda uow: usecases.anonymise_expired(uow, cmd))


async def anonymise_loop(runtime: Runtime) -> None:
    await retention_loop(
        runtime, notify_settings(runtime).retention_poll_seconds, anonymise_expired
    )
