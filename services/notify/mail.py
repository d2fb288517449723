"""Email over SMTP (SMTP_URL smtp://[user:pass@]host:port, or smtps:// for implicit TLS),
over a small pool of connections kept open and reused across messages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib

from services.notify.domain import SendResult

log = logging.getLogger("knutepunkt.notify.mail")


def message_id(delivery_id: str) -> str:
    return f"<{delivery_id}@knutepunkt>"


def build_email(
    *,
    delivery_id: str,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str | None,
    ics: bytes | None,
    ics_method: str | None,
    preferences_url: str | None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    # The delivery id is the idempotency key: the same Message-ID on every attempt, so a
    # message sent again after a crash is one a receiving system can recognise.
    message["Message-ID"] = message_id(delivery_id)
    message["X-Knutepunkt-Delivery"] = delivery_id
    message["Auto-Submitted"] = "auto-generated"
    if preferences_url:
        message["List-Unsubscribe"] = f"<{preferences_url}>"
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    if ics:
        message.add_attachment(
            ics,
            maintype="text",
            subtype="calendar",
            filename="invitasjon.ics",
            params={"method": (ics_method or "publish").upper()},
        )
    return message


class SmtpSender:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("SMTP_URL must start with smtp:// or smtps://")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (465 if parts.scheme == "smtps" else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.use_tls = parts.scheme == "smtps"
        self.timeout = timeout
        self._client: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            use_tls=self.use_tls,
            timeout=self.timeout,
            # Opportunistic STARTTLS only: a dev catcher has none, a real relay has it.
            start_tls=None,
        )
        await client.connect()
        if self.username and self.password:
            await client.login(self.username, self.password)
        self._client = client
        return client

    async def send(self, message: EmailMessage) -> SendResult:
        async with self._lock:
            try:
                client = await self._connected()
                errors, _response = await client.send_message(message)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                await self._reset()
                codes = [e.code for e in exc.recipients]
                reason = "; ".join(f"{e.code} {e.message}" for e in exc.recipients)
                if codes and all(400 <= c < 500 for c in codes):
                    return SendResult.transient(f"SMTP {reason}")
                return SendResult.permanent(f"SMTP {reason}")
            except aiosmtplib.SMTPResponseException as exc:
                await self._reset()
                if 400 <= exc.code < 500:
                    return SendResult.transient(f"SMTP {exc.code} {exc.message}")
                if 500 <= exc.code < 600:
                    return SendResult.permanent(f"SMTP {exc.code} {exc.message}")
                return SendResult.transient(f"SMTP {exc.code} {exc.message}")
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                await self._close()
                return SendResult.transient(f"SMTP unavailable: {type(exc).__name__}")
        if errors:
            # Several recipients, some refused: with one recipient per message, never.
            return SendResult.permanent(f"SMTP refused: {len(errors)} recipient(s)")
        return SendResult.sent(message["Message-ID"])

    async def _reset(self) -> None:
        # After a refusal the connection is fine; RSET clears the half-done transaction.
        if self._client is not None and self._client.is_connected:
            try:
                await self._client.rset()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                await self._close()

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            with contextlib.suppress(Exception):
                await client.quit()


class SmtpPool:
    """Up to `size` SMTP connections, each kept open and reused: as many messages on their
    way at once. A connection is opened when first needed, and the one used last is used
    next, so that a quiet hub holds one connection, not `size`."""

    def __init__(self, url: str, timeout: float = 10.0, size: int = 4) -> None:
        self.size = size
        self._all = [SmtpSender(url, timeout) for _ in range(size)]
        self._idle: asyncio.LifoQueue[SmtpSender] = asyncio.LifoQueue()
        for sender in reversed(self._all):
            self._idle.put_nowait(sender)

    async def send(self, message: EmailMessage) -> SendResult:
        sender = await self._idle.get()
        try:
            return await sender.send(message)
        finally:
            self._idle.put_nowait(sender)

    async def aclose(self) -> None:
        for sender in self._all:
            await sender.aclose()
