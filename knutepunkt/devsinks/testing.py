"""Sinks for other tests: start one on a free port for the length of a `with` block.

    async with running_mail_catcher() as mail, running_sms_sink() as sms:
        settings = {"SMTP_URL": mail.url, "SMS_GATEWAY_URL": sms.url}
        ...
        sent = await mail.wait_for(lambda m: m.subject == "Bestillingen er mottatt")
        sms.add_faults(500, 429)
        await sms.wait_for(1)

SMTP runs in aiosmtpd's own thread; the HTTP parts (the SMS gateway, the mail read API)
run in the caller's event loop, so talk to them with an async client from that loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from knutepunkt.devsinks.mail import MailCatcher
from knutepunkt.devsinks.sms import SmsSink


@asynccontextmanager
async def running_mail_catcher(
    *, folder: Path | str | None = None, http: bool = True, **kwargs: Any
) -> AsyncIterator[MailCatcher]:
    """A started MailCatcher (SMTP at `.url`, read API at `.http_url` unless http=False)."""
    kwargs.setdefault("port", 0)
    http_port = kwargs.pop("http_port", 0)
    catcher = MailCatcher(folder=folder, http_port=http_port if http else None, **kwargs)
    await catcher.start()
    try:
        yield catcher
    finally:
        await catcher.stop()


@asynccontextmanager
async def running_sms_sink(**kwargs: Any) -> AsyncIterator[SmsSink]:
    """A started SmsSink (gateway at `.url`); keyword arguments go to SmsSink."""
    kwargs.setdefault("port", 0)
    sink = SmsSink(**kwargs)
    await sink.start()
    try:
        yield sink
    finally:
        await sink.stop()
