"""The sender loop (a ServiceSpec task): claims due deliveries, sends them over SMTP and
the SMS gateway, and records the outcome with NotificationSent/NotificationFailed.

Claiming is safe across replicas: PostgreSQL takes rows with FOR UPDATE SKIP LOCKED,
SQLite in a BEGIN IMMEDIATE transaction; either way the claim stamps a claim id and a
lease, and the outcome is written only where the claim id still matches. A sender that
dies mid-send leaves its rows to be taken again when the lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update

from services.notify.config import NotifyConfig
from services.notify.context import NotifyContext, notify_context
from services.notify.domain import SendResult, retry_delay
from services.notify.fanout import Target, sms_not_before
from services.notify.mail import SmtpSender, build_email
from services.notify.models import DeliveryRow
from services.notify.outcomes import failed_event, sent_event
from services.notify.sms import SmsGateway, SmsOptions
from shared.events import Envelope, new_event
from shared.messaging.outbox import emit_envelopes
from shared.service import Runtime

log = logging.getLogger("knutepunkt.notify.sender")


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
    smtp: SmtpSender
    sms: SmsGateway
    email_limit: RateLimiter
    sms_limit: RateLimiter

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self.smtp.aclose()
        with contextlib.suppress(Exception):
            await self.sms.aclose()


def open_channels(runtime: Runtime, config: NotifyConfig) -> Channels:
    settings = runtime.settings
    callback = (
        f"{config.notify_public_url.rstrip('/')}/sms/delivery-reports"
        if config.notify_public_url
        else None
    )
    options = SmsOptions(
        sender=config.notify_sms_sender,
        username=config.sms_username,
        password=config.sms_password,
        token=config.sms_token,
        platform_id=config.sms_platform_id,
        platform_partner_id=config.sms_platform_partner_id,
        report_gate=config.sms_report_gate,
        callback_url=callback,
    )
    return Channels(
        smtp=SmtpSender(settings.smtp_url, config.smtp_timeout_seconds),
        sms=SmsGateway(
            settings.sms_gateway_url, settings.sms_provider, options, config.sms_timeout_seconds
        ),
        email_limit=RateLimiter(config.notify_email_per_second),
        sms_limit=RateLimiter(config.notify_sms_per_second),
    )


async def sender_loop(runtime: Runtime) -> None:
    ctx = notify_context(runtime)
    channels = open_channels(runtime, ctx.config)
    try:
        while True:
            handled = await send_due(runtime, ctx, channels)
            if handled < ctx.config.notify_batch:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel
                # that lands as the event is set, and the loop would never stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(ctx.config.notify_poll_seconds):
                        await ctx.wake.wait()
                ctx.wake.clear()
    finally:
        await channels.aclose()


async def claim(runtime: Runtime, ctx: NotifyContext, now: datetime) -> list[DeliveryRow]:
    config = ctx.config
    claim_id = str(uuid.uuid4())
    due = or_(
        and_(DeliveryRow.status == "queued", DeliveryRow.next_attempt_at <= now),
        # A sender that vanished mid-send: its lease ran out.
        and_(DeliveryRow.status == "sending", DeliveryRow.claimed_until < now),
    )
    query = select(DeliveryRow).where(due).order_by(DeliveryRow.next_attempt_at)
    query = query.limit(config.notify_batch)
    if runtime.db.dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    async with runtime.db.transaction() as session:
        rows = list((await session.execute(query)).scalars())
        if not rows:
            return []
        await session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id.in_([r.id for r in rows]))
            .values(
                status="sending",
                claim_id=claim_id,
                claimed_until=now + timedelta(seconds=config.notify_claim_lease_seconds),
                attempts=DeliveryRow.attempts + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    for row in rows:
        row.claim_id = claim_id
        row.attempts += 1
    return rows


async def send_due(runtime: Runtime, ctx: NotifyContext, channels: Channels) -> int:
    rows = await claim(runtime, ctx, runtime.now())
    if not rows:
        return 0
    emails = [r for r in rows if r.channel == "email"]
    texts = [r for r in rows if r.channel == "sms"]
    results: dict[str, SendResult] = {}

    async def send_emails() -> None:
        # One SMTP connection, reused: messages go one after another over it.
        for row in emails:
            await channels.email_limit.acquire()
            results[row.id] = await channels.smtp.send(_email(row, ctx.config))

    async def send_texts() -> None:
        gate = asyncio.Semaphore(ctx.config.notify_sms_concurrency)

        async def one(row: DeliveryRow) -> None:
            async with gate:
                await channels.sms_limit.acquire()
                results[row.id] = await channels.sms.send(row.recipient, row.body_text, row.id)

        await asyncio.gather(*(one(r) for r in texts))

    await asyncio.gather(send_emails(), send_texts())
    await record(runtime, ctx, rows, results)
    return len(rows)


def _email(row: DeliveryRow, config: NotifyConfig):  # type: ignore[no-untyped-def]
    return build_email(
        delivery_id=row.id,
        sender=config.notify_mail_from,
        to=row.recipient,
        subject=row.subject or "",
        text=row.body_text,
        html=row.body_html,
        ics=row.ics,
        ics_method=row.ics_method,
        preferences_url=row.preferences_url,
    )


async def record(
    runtime: Runtime, ctx: NotifyContext, rows: list[DeliveryRow], results: dict[str, SendResult]
) -> None:
    now = runtime.now()
    config = ctx.config
    envelopes: list[Envelope] = []
    async with runtime.db.transaction() as session:
        for row in rows:
            result = results.get(row.id) or SendResult.transient("not attempted")
            values: dict[str, object] = {"updated_at": now, "claim_id": None, "claimed_until": None}
            event = None
            if result.outcome == "sent":
                values.update(
                    status="sent", sent_at=now, provider_ref=result.provider_ref, last_error=None
                )
                event = sent_event(row, result.provider_ref)
            elif result.outcome == "permanent" or row.attempts >= config.notify_max_attempts:
                reason = result.reason
                if result.outcome == "transient":
                    reason = f"gave up after {row.attempts} attempts: {reason}"
                values.update(status="failed", failed_at=now, last_error=reason)
                event = failed_event(row, reason, permanent=result.outcome == "permanent")
            else:
                delay = retry_delay(
                    row.attempts, config.notify_retry_base_seconds, config.notify_retry_max_seconds
                )
                if result.retry_after:
                    delay = max(delay, timedelta(seconds=result.retry_after))
                values.update(
                    status="queued",
                    next_attempt_at=_not_before(ctx, row, now + delay),
                    last_error=result.reason,
                )
            updated = await session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.id == row.id, DeliveryRow.claim_id == row.claim_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if updated.rowcount == 0:
                # Our lease ran out and another sender took the row: its outcome counts.
                log.warning("delivery %s was reclaimed while sending", row.id)
                continue
            if event is not None:
                envelopes.append(new_event(event, correlation_id=row.correlation_id))
            runtime.metrics.deliveries.labels(row.channel, str(values.get("status"))).inc()
        await emit_envelopes(session, runtime.tables, envelopes)
    if any(r.outcome != "sent" for r in results.values()):
        log.info(
            "sent batch: %d sent, %d to retry, %d failed",
            sum(r.outcome == "sent" for r in results.values()),
            sum(r.outcome == "transient" for r in results.values()),
            sum(r.outcome == "permanent" for r in results.values()),
        )


def _not_before(ctx: NotifyContext, row: DeliveryRow, at: datetime) -> datetime:
    """A retried SMS still keeps quiet hours and staff hours."""
    if row.channel != "sms":
        return at
    window = None
    if row.recipient_kind == "staff":
        for member in ctx.rules.staff.staff:
            if member.phone == row.recipient:
                window = member.sms_window
                break
    target = Target(row.recipient_kind, "", row.language, None, row.recipient, None, window)
    return sms_not_before(target, row.urgent, ctx.rules.quiet_hours, at)
