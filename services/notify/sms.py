"""SMS over HTTP (SMS_GATEWAY_URL) in one of three request shapes (SMS_PROVIDER):
"generic" JSON, LINK Mobility's `/sms/send`, or Sveve's `/SMS/SendMessage`. Each call
carries our delivery id as the reference, so a gateway that dedupes can.

With a second gateway (SMS_FALLBACK_URL), `FailoverSms` sends through the fallback what
the first did not accept: when the first refuses a message for good, or is down (its
circuit breaker open). A message the first may hold is never given to the fallback."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import httpx

from services.notify.domain import (
    FALLBACK,
    PRIMARY,
    CircuitBreaker,
    SendResult,
    gateway_for,
)

PROVIDERS = ("generic", "linkmobility", "sveve")

log = logging.getLogger("knutepunkt.notify.sms")


@dataclass(frozen=True)
class SmsOptions:
    sender: str
    username: str | None = None
    password: str | None = None
    token: str | None = None
    platform_id: str = "COMMON_API"
    platform_partner_id: str = "0"
    report_gate: str | None = None
    callback_url: str | None = None


class SmsGateway:
    def __init__(
        self, base_url: str, provider: str, options: SmsOptions, timeout: float = 10.0
    ) -> None:
        if provider not in PROVIDERS:
            raise ValueError(f"SMS_PROVIDER must be one of {', '.join(PROVIDERS)}")
        self.base_url = base_url.rstrip("/")
        self.provider = provider
        self.options = options
        self.client = httpx.AsyncClient(
            timeout=timeout, limits=httpx.Limits(max_connections=50, max_keepalive_connections=20)
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def send(self, to: str, text: str, reference: str) -> SendResult:
        try:
            if self.provider == "linkmobility":
                return await self._linkmobility(to, text, reference)
            if self.provider == "sveve":
                return await self._sveve(to, text, reference)
            return await self._generic(to, text, reference)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # No request reached the gateway: it cannot have taken the message.
            return SendResult.transient(
                f"SMS gateway unreachable: {type(exc).__name__}", unsent=True
            )
        except httpx.TimeoutException:
            return SendResult.transient("SMS gateway timed out")
        except httpx.TransportError as exc:
            return SendResult.transient(f"SMS gateway unreachable: {type(exc).__name__}")

    async def _generic(self, to: str, text: str, reference: str) -> SendResult:
        body: dict[str, Any] = {
            "to": to,
            "message": text,
            "from": self.options.sender,
            "reference": reference,
        }
        if self.options.callback_url:
            body["callback_url"] = self.options.callback_url
        headers = {"Authorization": f"Bearer {self.options.token}"} if self.options.token else {}
        response = await self.client.post(f"{self.base_url}/sms", json=body, headers=headers)
        failure = _http_failure(response)
        if failure:
            return failure
        return SendResult.sent(_str(_json(response).get("id")))

    async def _linkmobility(self, to: str, text: str, reference: str) -> SendResult:
        body: dict[str, Any] = {
            "source": self.options.sender,
            "destination": to,
            "userData": text,
            "platformId": self.options.platform_id,
            "platformPartnerId": self.options.platform_partner_id,
            "refId": reference,
        }
        if self.options.report_gate:
            body["deliveryReportGates"] = [self.options.report_gate]
        auth = (self.options.username or "", self.options.password or "")
        response = await self.client.post(f"{self.base_url}/sms/send", json=body, auth=auth)
        failure = _http_failure(response)
        if failure:
            return failure
        return SendResult.sent(_str(_json(response).get("messageId")))

    async def _sveve(self, to: str, text: str, reference: str) -> SendResult:
        form = {
            "user": self.options.username or "",
            "passwd": self.options.password or "",
            "to": to,
            "msg": text,
            "from": self.options.sender,
            "ref": reference,
            "f": "json",
        }
        response = await self.client.post(f"{self.base_url}/SMS/SendMessage", data=form)
        failure = _http_failure(response)
        if failure:
            return failure
        answer = _json(response).get("response") or {}
        if answer.get("fatalError"):
            # Sveve answers 200 with a fatal error for bad credentials or a bad request.
            return SendResult.permanent(f"Sveve refused: {answer['fatalError']}")
        if answer.get("errors") or not answer.get("msgOkCount"):
            return SendResult.permanent("Sveve refused the number")
        ids = answer.get("ids") or []
        return SendResult.sent(_str(ids[0]) if ids else None)


def _http_failure(response: httpx.Response) -> SendResult | None:
    status = response.status_code
    if status < 300:
        return None
    detail = response.text[:200].replace("\n", " ")
    if status == 429 or status >= 500 or status == 408:
        # "Too many", "not now" and "request incomplete" turn the message away; another
        # 5xx may come after the gateway took it.
        unsent = status in (408, 429, 503)
        return SendResult.transient(
            f"SMS gateway {status}", retry_after=_retry_after(response), unsent=unsent
        )
    return SendResult.permanent(f"SMS gateway {status}: {detail}")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except (json.JSONDecodeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str | None:
    return None if value is None else str(value)


class FailoverSms:
    """The first gateway, and a fallback for what it does not accept. Without a fallback,
    the first alone (results still name it, so the row records who sent)."""

    def __init__(
        self,
        primary: SmsGateway,
        fallback: SmsGateway | None,
        breaker: CircuitBreaker,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.breaker = breaker
        self.clock = clock

    async def aclose(self) -> None:
        await self.primary.aclose()
        if self.fallback is not None:
            await self.fallback.aclose()

    async def send(
        self, to: str, text: str, reference: str, held_by: str | None = None
    ) -> SendResult:
        """`held_by`: the gateway an earlier attempt may have left the message with."""
        if self.fallback is None or held_by == PRIMARY:
            return await self._primary(to, text, reference)
        if gateway_for(held_by, self.breaker.is_open(self.clock())) == FALLBACK:
            return await self._fallback(to, text, reference)
        first = await self._primary(to, text, reference)
        if first.outcome == "sent" or not first.unsent:
            return first
        if first.outcome == "permanent" or self.breaker.is_open(self.clock()):
            second = await self._fallback(to, text, reference)
            if second.outcome == "permanent":
                reason = f"{first.reason}; fallback: {second.reason}"
                return replace(second, reason=reason[:500])
            return second
        return first

    async def _primary(self, to: str, text: str, reference: str) -> SendResult:
        result = await self.primary.send(to, text, reference)
        was_open = self.breaker.failures >= self.breaker.after
        self.breaker.record(result, self.clock())
        if self.fallback is not None and self.breaker.failures >= self.breaker.after:
            if not was_open:
                log.warning(
                    "SMS gateway down after %d transient failures; new SMS go to the fallback"
                    " for %.0f s",
                    self.breaker.failures,
                    self.breaker.cooldown,
                )
        elif was_open and self.fallback is not None:
            log.info("SMS gateway answers again; new SMS go to it")
        return replace(result, gateway=PRIMARY)

    async def _fallback(self, to: str, text: str, reference: str) -> SendResult:
        assert self.fallback is not None
        return replace(await self.fallback.send(to, text, reference), gateway=FALLBACK)
