"""A received email, parsed into the parts tests and people look at."""

from __future__ import annotations

import email.policy
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage, Message
from email.parser import BytesParser
from functools import cached_property
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Attachment:
    filename: str | None
    content_type: str
    content: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.content)

    def summary(self) -> dict[str, Any]:
        return {"filename": self.filename, "content_type": self.content_type, "size": self.size}


@dataclass(frozen=True)
class _Parsed:
    message: EmailMessage
    message_id: str | None
    header_from: str | None
    header_to: tuple[str, ...]
    subject: str | None
    text: str | None
    html: str | None
    attachments: tuple[Attachment, ...]


@dataclass(frozen=True)
class ReceivedMail:
    """One message as delivered: the envelope (who it really went to) and the parsed content.

    The content is parsed on first read, not on receipt: parsing costs milliseconds of CPU
    that the SMTP thread would otherwise spend (holding the GIL) before answering DATA, and
    a benchmark that only counts messages never needs it.
    """

    id: int
    received_at: datetime
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes = field(repr=False)
    eml_path: Path | None = None

    @cached_property
    def _parsed(self) -> _Parsed:
        return _parse(self.raw)

    @property
    def message(self) -> EmailMessage:
        return self._parsed.message

    @property
    def message_id(self) -> str | None:
        return self._parsed.message_id

    @property
    def header_from(self) -> str | None:
        return self._parsed.header_from

    @property
    def header_to(self) -> tuple[str, ...]:
        return self._parsed.header_to

    @property
    def subject(self) -> str | None:
        return self._parsed.subject

    @property
    def text(self) -> str | None:
        return self._parsed.text

    @property
    def html(self) -> str | None:
        return self._parsed.html

    @property
    def attachments(self) -> tuple[Attachment, ...]:
        return self._parsed.attachments

    @property
    def to(self) -> tuple[str, ...]:
        """The envelope recipients: who the message was delivered to (Bcc included)."""
        return self.rcpt_tos

    @property
    def has_html(self) -> bool:
        return self.html is not None

    def attachment(self, filename: str) -> Attachment:
        for attachment in self.attachments:
            if attachment.filename == filename:
                return attachment
        raise KeyError(filename)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "message_id": self.message_id,
            "received_at": self.received_at.isoformat(),
            "mail_from": self.mail_from,
            "from": self.header_from,
            "to": list(self.rcpt_tos),
            "header_to": list(self.header_to),
            "subject": self.subject,
            "has_html": self.has_html,
            "attachments": [a.summary() for a in self.attachments],
            "size": len(self.raw),
        }

    def detail(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "text": self.text,
            "html": self.html,
            "headers": [[name, str(value)] for name, value in self.message.items()],
        }


def _text_of(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]  # an EmailMessage part
    except (LookupError, ValueError):
        # An unknown or lying charset: show what we can rather than drop the body.
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    # Bodies arrive with SMTP's CRLF line ends; people and tests expect plain newlines.
    return content.replace("\r\n", "\n") if isinstance(content, str) else ""


def _header(message: EmailMessage, name: str) -> str | None:
    try:
        value = message.get(name)
    except (TypeError, ValueError, IndexError):
        return None
    return None if value is None else str(value)


def _addresses(message: EmailMessage, name: str) -> tuple[str, ...]:
    try:
        value = message.get(name)
        if value is None:
            return ()
        return tuple(address.addr_spec for address in value.addresses)
    except (AttributeError, TypeError, ValueError, IndexError):
        return ()


def _parse(raw: bytes) -> _Parsed:
    message = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    text: str | None = None
    html: str | None = None
    attachments: list[Attachment] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        content_type = part.get_content_type()
        is_body = filename is None and part.get_content_disposition() != "attachment"
        if is_body and content_type == "text/plain" and text is None:
            text = _text_of(part)
        elif is_body and content_type == "text/html" and html is None:
            html = _text_of(part)
        else:
            # Includes an inline text/calendar part without a name, as calendar invites
            # often put inside multipart/alternative.
            payload = part.get_payload(decode=True)
            content = payload if isinstance(payload, bytes) else b""
            attachments.append(Attachment(filename, content_type, content))
    return _Parsed(
        message=message,
        message_id=_header(message, "Message-ID"),
        header_from=_header(message, "From"),
        header_to=_addresses(message, "To"),
        subject=_header(message, "Subject"),
        text=text,
        html=html,
        attachments=tuple(attachments),
    )


def parse_mail(
    raw: bytes,
    *,
    id: int,
    received_at: datetime,
    mail_from: str,
    rcpt_tos: tuple[str, ...],
) -> ReceivedMail:
    """The received message; its content is parsed when first read."""
    return ReceivedMail(
        id=id, received_at=received_at, mail_from=mail_from, rcpt_tos=rcpt_tos, raw=raw
    )
