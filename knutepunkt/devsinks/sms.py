"""The local SMS sink: an HTTP stand-in for the SMS gateways the notify service talks to.

It accepts the request shapes of the providers in `sms_providers`, keeps every accepted SMS
(in memory, optionally appended to a JSON-lines file), and can play a gateway's bad days: a
queue of injected error answers, going down and coming back on the same port, and delivery
reports (sent on request, or automatically after accepting) to a callback URL.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from knutepunkt.devsinks.http_server import HttpServer
from knutepunkt.devsinks.sms_api import sms_api
from knutepunkt.devsinks.sms_providers import Provider, SinkAuth, SmsRequest
from knutepunkt.devsinks.sms_records import REPORT_STATUSES, Fault, ReceivedSms, ReportStatus
from knutepunkt.devsinks.waiting import Received
from shared.sms_text import sms_segments

logger = logging.getLogger("knutepunkt.devsinks.sms")

_AUTO_REPORT_ATTEMPTS = 3


class SmsSink(Received[ReceivedSms]):
    nouns = ("SMS", "SMS")

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log_file: Path | str | None = None,
        report_url: str | None = None,
        auto_report: ReportStatus | None = None,
        report_delay: float = 0.0,
        report_headers: dict[str, str] | None = None,
        auth: SinkAuth | None = None,
    ) -> None:
        """`report_url` is where delivery reports go unless a request named its own
        `callback_url`; with `auto_report` set, every accepted SMS gets that report
        `report_delay` seconds after the gateway answered."""
        if auto_report is not None and auto_report not in REPORT_STATUSES:
            raise ValueError(f"auto_report must be one of {REPORT_STATUSES}")
        self.log_file = Path(log_file) if log_file is not None else None
        self.report_url = report_url
        self.auto_report = auto_report
        self.report_delay = report_delay
        self.report_headers = dict(report_headers or {})
        self.auth = auth
        self._messages: list[ReceivedSms] = []
        # (provider, number, reference) -> the SMS accepted for it; see `accept`.
        self._by_reference: dict[tuple[str, str, str], ReceivedSms] = {}
        self._repeats = 0
        self._auto_reported: set[str] = set()
        self._faults: deque[Fault] = deque()
        self._attempts = 0
        self.sveve_ids = itertools.count(10_000_001)
        self._report_tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self._http = HttpServer(sms_api(self), host, port)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
        await self._http.start()

    async def stop(self) -> None:
        for task in list(self._report_tasks):
            task.cancel()
        await asyncio.gather(*self._report_tasks, return_exceptions=True)
        await self._http.stop()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def down(self) -> None:
        """The gateway goes away: connections are refused until `up()`. State is kept."""
        await self._http.stop()

    async def up(self) -> None:
        """The gateway is back, on the same port."""
        await self._http.start()

    @property
    def running(self) -> bool:
        return self._http.running

    @property
    def host(self) -> str:
        return self._http.host

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def url(self) -> str:
        return self._http.url

    # -- what was received -----------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedSms]:
        """Every accepted SMS, oldest first (a copy of the list)."""
        return list(self._messages)

    def get(self, gateway_id: str | int) -> ReceivedSms:
        for sms in self._messages:
            if sms.id == str(gateway_id):
                return sms
        raise KeyError(gateway_id)

    def clear(self) -> None:
        self._messages.clear()
        self._by_reference.clear()

    @property
    def repeats(self) -> int:
        """Send requests that repeated a reference already accepted (and were not sent)."""
        return self._repeats

    @property
    def attempts(self) -> int:
        """Send requests seen, whether accepted, refused or answered with a fault."""
        return self._attempts

    # -- failure injection -----------------------------------------------------------------

    def add_faults(self, *responses: int | Fault) -> None:
        """Answer the next send requests with these statuses, in order, then normally."""
        for response in responses:
            fault = response if isinstance(response, Fault) else Fault(int(response))
            if not 100 <= fault.status <= 599:
                raise ValueError(f"not an HTTP status: {fault.status}")
            self._faults.append(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def pending_faults(self) -> list[Fault]:
        return list(self._faults)

    def state(self) -> dict[str, Any]:
        return {
            "attempts": self._attempts,
            "messages": len(self._messages),
            "repeats": self._repeats,
            "pending_faults": [fault.__dict__ for fault in self._faults],
            "running": self.running,
        }

    # -- delivery reports ----------------------------------------------------------------

    async def deliver(
        self,
        gateway_id: str | int,
        status: ReportStatus = "delivered",
        callback_url: str | None = None,
    ) -> int:
        """POST a delivery report for one SMS; returns the callback's HTTP status.

        KeyError for an unknown id, ValueError without any callback URL, and
        httpx.HTTPError when the callback cannot be reached."""
        if status not in REPORT_STATUSES:
            raise ValueError(f"status must be one of {REPORT_STATUSES}")
        sms = self.get(gateway_id)
        url = callback_url or sms.callback_url or self.report_url
        if url is None:
            raise ValueError("no callback URL: pass one, or configure report_url")
        report = {
            "id": sms.id,
            "reference": sms.reference,
            "status": status,
            "provider": sms.provider,
        }
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5.0)
        sent_at = datetime.now(UTC).isoformat()
        try:
            response = await self._client.post(url, json=report, headers=self.report_headers)
        except httpx.HTTPError as error:
            sms.reports.append({"status": status, "at": sent_at, "error": type(error).__name__})
            logger.warning(
                "sms report not delivered id=%s status=%s error=%s",
                sms.id,
                status,
                type(error).__name__,
            )
            raise
        sms.status = status
        sms.reports.append(
            {"status": status, "at": sent_at, "callback_status": response.status_code}
        )
        logger.info(
            "sms report sent id=%s status=%s callback_status=%d",
            sms.id,
            status,
            response.status_code,
        )
        return response.status_code

    async def schedule_reports(self, gateway_ids: Iterable[str]) -> None:
        # async so that Starlette runs it in the event loop after the response is sent,
        # not in its thread pool.
        if self.auto_report is None:
            return
        for gateway_id in gateway_ids:
            if gateway_id in self._auto_reported:
                continue  # a repeated reference: its SMS has its report coming already
            self._auto_reported.add(gateway_id)
            task = asyncio.create_task(self._auto_report(gateway_id, self.auto_report))
            self._report_tasks.add(task)
            task.add_done_callback(self._report_tasks.discard)

    async def _auto_report(self, gateway_id: str, status: ReportStatus) -> None:
        await asyncio.sleep(self.report_delay)
        for attempt in range(_AUTO_REPORT_ATTEMPTS):
            try:
                if await self.deliver(gateway_id, status) < 300:
                    return
            except (KeyError, ValueError):
                return  # cleared meanwhile, or nowhere to send it
            except httpx.HTTPError:
                pass
            if attempt + 1 < _AUTO_REPORT_ATTEMPTS:
                # Real gateways retry a refused report; so does the sink, briefly.
                await asyncio.sleep(0.5 * 2**attempt)

    # -- the send path -------------------------------------------------------------------

    def take_fault(self) -> Fault | None:
        self._attempts += 1
        return self._faults.popleft() if self._faults else None

    def accept(self, provider: Provider, request: SmsRequest, gateway_id: str) -> ReceivedSms:
        """Keep an SMS, or, for a reference already accepted for that number, answer with
        the SMS already kept and send nothing: a gateway that deduplicates on the
        reference its client gives (notify gives its delivery id) behaves so, and it makes
        a client's resend after a crash harmless."""
        key = (provider, request.to, request.reference) if request.reference else None
        if key is not None and key in self._by_reference:
            earlier = self._by_reference[key]
            self._repeats += 1
            logger.info(
                "sms repeated provider=%s id=%s ref=%s: not sent again",
                provider,
                earlier.id,
                request.reference,
            )
            return earlier
        sms = ReceivedSms(
            id=gateway_id,
            provider=provider,
            to=request.to,
            sender=request.sender,
            text=request.text,
            reference=request.reference,
            received_at=datetime.now(UTC),
            # Counted as notify cuts its texts: one rule, in shared.sms_text.
            parts=sms_segments(request.text),
            callback_url=request.callback_url,
        )
        self._messages.append(sms)
        if key is not None:
            self._by_reference[key] = sms
        if self.log_file is not None:
            record = {k: v for k, v in sms.as_dict().items() if k not in ("status", "reports")}
            with self.log_file.open("a", encoding="utf-8") as out:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        # Never the number or the text: personal data stays out of logs.
        logger.info(
            "sms received provider=%s id=%s ref=%s chars=%d parts=%d",
            provider,
            sms.id,
            sms.reference,
            len(sms.text),
            sms.parts,
        )
        return sms
