"""The SMTP pool (services/notify/mail.py) against a real SMTP server (the dev catcher on
aiosmtpd): messages one after another share one connection; messages at once spread over
at most the pool's connections, each kept open; every message arrives once."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from typing import Any

from knutepunkt.devsinks.testing import running_mail_catcher
from services.notify.mail import SmtpPool


def _message(n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "hub@example.org"
    message["To"] = f"person{n}@example.org"
    message["Subject"] = f"Melding {n}"
    message["Message-ID"] = f"<pool-{n}@example.org>"
    message.set_content("Hei!")
    return message


async def test_one_connection_when_quiet_and_at_most_the_pool_when_busy() -> None:
    async with running_mail_catcher(http=False) as catcher:
        peers: list[Any] = []
        handle_mail = catcher.handle_MAIL

        async def counting(server: Any, session: Any, envelope: Any, *args: Any) -> str:
            peers.append(session.peer)
            return await handle_mail(server, session, envelope, *args)

        catcher.handle_MAIL = counting  # type: ignore[method-assign]
        pool = SmtpPool(catcher.url, timeout=10, size=3)
        try:
            for n in range(5):
                assert (await pool.send(_message(n))).outcome == "sent"
            assert len(set(peers)) == 1, "one after another: the same connection each time"

            results = await asyncio.gather(*(pool.send(_message(n)) for n in range(5, 17)))
            assert all(r.outcome == "sent" for r in results)
            assert len(set(peers)) == 3, "at once: spread over the pool's three connections"
        finally:
            await pool.aclose()
        received = sorted(m.subject for m in catcher.messages)
        assert received == sorted(f"Melding {n}" for n in range(17))
