"""The local mail catcher: a real SMTP server (aiosmtpd) that keeps every message it gets.

Messages are kept in memory, optionally written as .eml files, and readable over a small
HTTP API. For failure-path tests it can answer RCPT or DATA with 451 (try again later) or
550 (rejected) instead of 250, and it counts delivery attempts (MAIL FROM commands).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from knutepunkt.devsinks.http_server import HttpServer
from knutepunkt.devsinks.mail_api import mail_api
from knutepunkt.devsinks.mail_message import ReceivedMail, parse_mail
from knutepunkt.devsinks.mail_modes import REPLIES, FailAt, MailMode
from knutepunkt.devsinks.waiting import Received

logger = logging.getLogger("knutepunkt.devsinks.mail")

# Set on each transaction's envelope at MAIL FROM, so that all of its RCPTs and its DATA
# get the same answer even if the mode changes mid-transaction.
_OUTCOME_ATTR = "knutepunkt_outcome"


class _PortZeroController(Controller):
    """aiosmtpd's Controller, able to listen on port 0 (a free port chosen by the OS).

    The stock controller connects to `self.port` to check the server answers, which fails
    for port 0; read the bound port first. A later restart reuses that port.
    """

    def _trigger_server(self) -> None:
        # aiosmtpd types its server as AbstractServer; asyncio makes a Server, with sockets.
        server = cast("asyncio.Server | None", self.server)
        if self.port == 0 and server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()


def _quiet_aiosmtpd_log() -> None:
    # aiosmtpd logs every SMTP command line at INFO ("RCPT TO:<address>"): personal data.
    # Leave it alone only if someone configured that logger on purpose.
    aiosmtpd_log = logging.getLogger("mail.log")
    if aiosmtpd_log.level == logging.NOTSET:
        aiosmtpd_log.setLevel(logging.ERROR)


def _accept_any_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    # A dev sink: any credentials in SMTP_URL are fine, and none are required.
    return AuthResult(success=True)


class MailCatcher(Received[ReceivedMail]):
    """SMTP on host:port (0 = free port) plus an optional HTTP read API on http_port."""

    nouns = ("emails", "email")

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        folder: Path | str | None = None,
        http_host: str | None = None,
        http_port: int | None = 0,
    ) -> None:
        self.host = host
        self.folder = Path(folder) if folder is not None else None
        self._lock = threading.Lock()
        self._messages: list[ReceivedMail] = []
        self._last_id = 0
        self._attempts = 0
        self._mode: MailMode = "ok"
        self._mode_left: int | None = None
        self._fail_at: FailAt = "rcpt"
        self._port = port
        self._controller: _PortZeroController | None = None
        self._http = (
            HttpServer(mail_api(self), http_host or host, http_port)
            if http_port is not None
            else None
        )

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
        await self.up()
        if self._http is not None:
            try:
                await self._http.start()
            except BaseException:
                await self.down()
                raise

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.stop()
        await self.down()

    async def up(self) -> None:
        """Start SMTP (again), on the same port as before; received messages are kept."""
        if self._controller is not None:
            return
        _quiet_aiosmtpd_log()
        # A controller owns an event loop in its own thread and cannot be restarted.
        controller = _PortZeroController(
            self,
            hostname=self.host,
            port=self._port,
            # Without a name aiosmtpd asks DNS for this host's FQDN, which can stall.
            server_hostname="knutepunkt-mailcatcher",
            authenticator=_accept_any_login,
            auth_require_tls=False,
        )
        # Controller.start blocks until its thread's loop answers a test connection.
        await asyncio.to_thread(controller.start)
        self._port = int(controller.port)
        self._controller = controller

    async def down(self) -> None:
        """Stop SMTP only (connections are then refused); the HTTP API stays up."""
        controller, self._controller = self._controller, None
        if controller is not None:
            await asyncio.to_thread(controller.stop)

    @property
    def port(self) -> int:
        """The SMTP port (the bound one once started)."""
        return self._port

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @property
    def http_url(self) -> str | None:
        return self._http.url if self._http is not None else None

    # -- what was received -----------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMail]:
        """Every message received, oldest first (a copy)."""
        with self._lock:
            return list(self._messages)

    def get(self, id: int) -> ReceivedMail:
        with self._lock:
            for message in self._messages:
                if message.id == id:
                    return message
        raise KeyError(id)

    def clear(self) -> None:
        """Forget received messages (ids keep counting up; .eml files stay)."""
        with self._lock:
            self._messages.clear()

    def repeated_message_ids(self) -> dict[str, int]:
        """Message-IDs received more than once, with how often. A mail server does not
        deduplicate, so neither does the catcher; this counts what a sender resent (notify
        keeps one Message-ID per delivery across its attempts)."""
        seen = Counter(m.message_id for m in self.messages if m.message_id)
        return {message_id: n for message_id, n in seen.items() if n > 1}

    @property
    def attempts(self) -> int:
        """Delivery attempts seen (MAIL FROM commands), failed ones included."""
        with self._lock:
            return self._attempts

    # -- failure injection -----------------------------------------------------------------

    def set_mode(self, mode: MailMode, *, attempts: int | None = None, at: FailAt = "rcpt") -> None:
        """Answer the next delivery attempts with 250 ("ok"), 451 ("tempfail") or 550
        ("permfail"), at RCPT or at DATA. With `attempts`, only that many delivery
        attempts get the mode, then the catcher is back to "ok"."""
        if mode not in REPLIES:
            raise ValueError(f"unknown mode {mode!r}")
        with self._lock:
            self._mode = mode
            self._mode_left = attempts if mode != "ok" else None
            self._fail_at = at

    @property
    def mode(self) -> MailMode:
        with self._lock:
            return self._mode

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "mode": self._mode,
                "mode_attempts_left": self._mode_left,
                "fail_at": self._fail_at,
                "attempts": self._attempts,
                "messages": len(self._messages),
            }

    # -- aiosmtpd handler hooks (run in the controller's thread) ---------------------------

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        with self._lock:
            self._attempts += 1
            outcome: tuple[MailMode, FailAt] = (self._mode, self._fail_at)
            if self._mode_left is not None:
                self._mode_left -= 1
                if self._mode_left <= 0:
                    self._mode, self._mode_left = "ok", None
        setattr(envelope, _OUTCOME_ATTR, outcome)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        mode, at = self._outcome_of(envelope)
        if mode != "ok" and at == "rcpt":
            return REPLIES[mode]
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    @staticmethod
    def _outcome_of(envelope: Envelope) -> tuple[MailMode, FailAt]:
        outcome: tuple[MailMode, FailAt] = getattr(envelope, _OUTCOME_ATTR, ("ok", "rcpt"))
        return outcome

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        mode, at = self._outcome_of(envelope)
        if mode != "ok" and at == "data":
            return REPLIES[mode]
        raw = envelope.original_content or b""
        self._keep(raw, envelope.mail_from or "", tuple(envelope.rcpt_tos))
        return "250 Message accepted for delivery"

    def _keep(self, raw: bytes, mail_from: str, rcpt_tos: tuple[str, ...]) -> None:
        received_at = datetime.now(UTC)
        with self._lock:
            self._last_id += 1
            message_number = self._last_id
        message = parse_mail(
            raw, id=message_number, received_at=received_at, mail_from=mail_from, rcpt_tos=rcpt_tos
        )
        if self.folder is not None:
            path = self.folder / f"{received_at:%Y%m%dT%H%M%S%fZ}-{message_number:05d}.eml"
            path.write_bytes(raw)
            message = dataclasses.replace(message, eml_path=path)
        with self._lock:
            self._messages.append(message)
        # Never the addresses or the subject: personal data stays out of logs. No
        # attachment count either: it would parse the message here, in the SMTP thread.
        logger.info(
            "mail received id=%d recipients=%d bytes=%d", message.id, len(rcpt_tos), len(raw)
        )
