"""Email over SMTP (SMTP_URL smtp://[user:pass@]host:port, or smtps:// for implicit TLS),
over a small pool of connections kept open and reused across messages."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import logging
from email import quoprimime
from email.charset import QP, Charset
from email.encoders import encode_base64
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import SMTP, Compat32
from email.utils import formataddr, formatdate, parseaddr
from typing import Any
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
) -> Message:
    """The message: text, with its HTML as an alternative and the .ics attached.

    Built with the email package's compat32 classes: EmailMessage's header registry
    parsed every header it was given, a millisecond per message, where these take the
    headers as given (encoded here where they are not ASCII)."""
    body: Message = _text_part(text, "plain")
    if html:
        body = MIMEMultipart(
            "alternative", _subparts=[body, _text_part(html, "html")], policy=_UNFOLDED
        )
    if ics:
        method = (ics_method or "publish").upper()
        invitation = MIMEBase("text", "calendar", policy=_UNFOLDED, method=method)
        invitation.set_payload(ics)
        encode_base64(invitation)
        invitation.add_header("Content-Disposition", "attachment", filename="invitasjon.ics")
        body = MIMEMultipart("mixed", _subparts=[body, invitation], policy=_UNFOLDED)
    body["From"] = _sender_address(sender)
    body["To"] = _address(to)
    # Encoded words where it is not ASCII, folded here (RFC 2047 keeps each word short);
    # the message's policy folds nothing, so a long link stays whole on its line.
    body["Subject"] = subject if subject.isascii() else encoded_words(subject)
    # The delivery id is the idempotency key: the same Message-ID on every attempt, so a
    # message sent again after a crash is one a receiving system can recognise.
    body["Message-ID"] = message_id(delivery_id)
    body["X-Knutepunkt-Delivery"] = delivery_id
    body["Auto-Submitted"] = "auto-generated"
    body["Date"] = formatdate(localtime=False)
    if preferences_url:
        # RFC 8058: a mail program may offer "unsubscribe" and POST to the link itself; the
        # web front turns this address's email off for such a POST.
        body["List-Unsubscribe"] = f"<{preferences_url}>"
        body["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return body


# An encoded word is at most 75 characters (RFC 2047, 2), and a line should be at most 78
# (RFC 5322, 2.1.1): the first word shares its line with the header's name.
_WORD_MOST = 75
_LINE_MOST = 78
_WORD_FRAME = len("=?utf-8?q??=")


def encoded_words(text: str, header: str = "Subject") -> str:
    """`text` as RFC 2047 encoded words (UTF-8, Q), one per folded line, never splitting a
    character. email.header.Header makes the same kind of words, but measures every longer
    prefix of the text anew to fit each one: about half of building a message with a
    Norwegian subject. Here each character is measured once."""
    words: list[str] = []
    word: list[str] = []
    size = 0
    room = min(_WORD_MOST, _LINE_MOST - len(f"{header}: ")) - _WORD_FRAME
    for char in text:
        width = quoprimime.header_length(char.encode())
        if word and size + width > room:
            words.append("".join(word))
            word, size = [], 0
            room = _WORD_MOST - _WORD_FRAME  # a folded line begins with one space
        word.append(char)
        size += width
    words.append("".join(word))
    return "\n ".join(quoprimime.header_encode(w.encode(), "utf-8") for w in words)


@functools.lru_cache(maxsize=4)
def _sender_address(sender: str) -> str:
    # The same few senders (MAIL_FROM) on every message: parsed once.
    return _address(sender)


def _utf8_quoted_printable() -> Charset:
    charset = Charset("utf-8")
    # Readable in the raw message, and safe for any relay (7-bit), where base64 is neither.
    charset.body_encoding = QP
    return charset


_UTF8 = _utf8_quoted_printable()


class _Unfolded(Compat32):
    """compat32, with each header written as given: a header's line may be up to 998
    characters (RFC 5322), and compat32's folding moved a long unbreakable value (a link)
    onto a line of its own, and cost more than the rest of the message to write. Every
    value is ASCII here (a name or subject that is not is encoded where it is set)."""

    def fold_binary(self, name: str, value: Any) -> bytes:
        if isinstance(value, str) and value.isascii():
            # A value folded where it was set (encoded words) keeps its folds, in CRLF.
            value = self.linesep.join(value.splitlines())
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


_UNFOLDED = _Unfolded()
_UNFOLDED_CRLF = _UNFOLDED.clone(linesep="\r\n")


def _text_part(text: str, subtype: str) -> Message:
    part = MIMENonMultipart("text", subtype, policy=_UNFOLDED, charset="utf-8")
    part.set_payload(text, _UTF8)
    return part


def _address(value: str) -> str:
    """An address header as given, its display name encoded when it is not ASCII."""
    name, address = parseaddr(value)
    if not address:
        return value
    return formataddr((name, address), charset="utf-8") if name else address


def _wire(message: Message) -> bytes:
    """The message as sent: CRLF lines, headers folded as the message's policy says
    (aiosmtplib's own flattening would refold a compat32 message at 78 characters)."""
    policy = SMTP if isinstance(message, EmailMessage) else _UNFOLDED_CRLF
    with io.BytesIO() as out:
        BytesGenerator(out, policy=policy).flatten(message)
        return out.getvalue()


def _address_of(message: Message, header: str) -> str:
    return parseaddr(str(message[header]))[1]


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

    async def send(self, message: Message) -> SendResult:
        async with self._lock:
            try:
                client = await self._connected()
                errors, _response = await client.sendmail(
                    _address_of(message, "From"), [_address_of(message, "To")], _wire(message)
                )
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

    async def send(self, message: Message) -> SendResult:
        sender = await self._idle.get()
        try:
            return await sender.send(message)
        finally:
            self._idle.put_nowait(sender)

    async def aclose(self) -> None:
        for sender in self._all:
            await sender.aclose()
