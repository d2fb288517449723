"""The four services' HTTP APIs, as the web front uses them: one httpx client, the person's
own bearer token on every call, and the services' refusals (RFC 9457 problem details, in
Bokmål when asked) turned into `Refused` with the reason and the field at fault.

What a call returns may be shared (the public cache, a person's kept lists): pages read it
and never change it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import httpx

from services.web.kept_answers import Kept, KeptAnswers, Key
from shared.observability import correlation_id

log = logging.getLogger("knutepunkt.web.clients")

SERVICES = ("booking", "loans", "catering", "notify")


class ServiceDown(Exception):
    """The service did not answer (down, timed out, or busy with a 503)."""

    def __init__(self, service: str) -> None:
        super().__init__(service)
        self.service = service


class SignedOut(Exception):
    """The service no longer takes the person's token (it expired): sign in again."""


class Refused(Exception):
    """The service said no: its reason (in the page's language), code and field."""

    def __init__(
        self,
        status: int,
        detail: str,
        code: str = "",
        field: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(status, code)
        self.status = status
        self.detail = detail
        self.code = code
        self.field = field
        self.body = body or {}

    def __str__(self) -> str:
        return f"{self.status} {self.code}"


@dataclass(frozen=True)
class Caller:
    """Who the call is made for: their bearer token and the page's language."""

    token: str
    lang: str = "nb"


class Services:
    def __init__(
        self,
        urls: dict[str, str],
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        cache: Any = None,
    ) -> None:
        self.urls = urls
        # Public reads every page shows (live.PublicCache); None: always ask the service.
        self.cache = cache
        # Calls go to the transport (httpcore's connection pool) itself, not through an
        # httpx.AsyncClient: its URL merging, cookie jar, redirects and auth flow, which the
        # services' APIs do not use, were about a third of a call's CPU in this front.
        self.transport = transport or httpx.AsyncHTTPTransport(
            trust_env=False,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=40),
        )
        self.timeout = httpx.Timeout(timeout).as_dict()
        self.kept = KeptAnswers()
        self.booking = BookingApi(self)
        self.loans = LoansApi(self)
        self.catering = CateringApi(self)
        self.notify = NotifyApi(self)

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        caller: Caller | None,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        lang: str | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> Any:
        # `lang`: a public call's page language; `extra_headers`: a booker's X-Manage-Token.
        headers = {"Accept-Language": caller.lang if caller else (lang or "nb")}
        headers.update(extra_headers or {})
        if caller is not None:
            headers["Authorization"] = f"Bearer {caller.token}"
        cid = correlation_id.get()
        if cid:
            headers["X-Correlation-Id"] = cid
        clean = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        request = httpx.Request(
            method,
            self.urls[service] + path,
            params=clean,
            json=json,
            headers=headers,
            extensions={"timeout": self.timeout},
        )
        # A person's own read: sent again only if it changed (kept_answers.py).
        key: Key | None = None
        kept: Kept | None = None
        if method == "GET" and caller is not None and not extra_headers:
            key = (service, str(request.url), caller.token)
            kept = self.kept.get(key)
            if kept is not None:
                request.headers["If-None-Match"] = kept.etag
        try:
            answer = await self.transport.handle_async_request(request)
            try:
                await answer.aread()
            finally:
                await answer.aclose()
        except httpx.HTTPError as exc:
            log.warning("%s did not answer %s %s: %s", service, method, path, type(exc).__name__)
            raise ServiceDown(service) from exc
        if answer.status_code >= 500:
            log.warning("%s answered %s to %s %s", service, answer.status_code, method, path)
            raise ServiceDown(service)
        if answer.status_code == 401 and caller is not None:
            raise SignedOut()
        if answer.status_code >= 400:
            raise _refusal(answer)
        if method != "GET" and self.cache is not None:
            self.cache.drop(service)  # this front's own change shows at once on its pages
        if answer.status_code == 304 and key is not None and kept is not None:
            self.kept.confirmed(key, kept)
            return kept.value
        if answer.status_code == 204 or not answer.content:
            return None
        value = answer.json()
        etag = answer.headers.get("etag")
        if key is not None and etag:
            self.kept.keep(key, etag, value)
        return value


def _param(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _refusal(answer: httpx.Response) -> Refused:
    try:
        body = answer.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    detail = body.get("detail")
    if not isinstance(detail, str):  # a framework's validation list, before problem details
        detail = "; ".join(str(e.get("msg", e)) for e in detail) if isinstance(detail, list) else ""
    field_name = body.get("field")
    if not field_name and isinstance(body.get("errors"), list) and body["errors"]:
        loc = body["errors"][0].get("loc") or []
        field_name = ".".join(str(p) for p in loc[1:]) or None
    return Refused(
        answer.status_code,
        detail or answer.reason_phrase,
        str(body.get("code") or ""),
        field_name,
        body,
    )


class _Api:
    service = ""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def _get(self, path: str, caller: Caller | None, **params: Any) -> Any:
        return await self.services.call(self.service, "GET", path, caller, params=params)

    async def _post(self, path: str, caller: Caller | None, body: Any = None) -> Any:
        return await self.services.call(self.service, "POST", path, caller, json=body)

    async def _put(self, path: str, caller: Caller, body: Any) -> Any:
        return await self.services.call(self.service, "PUT", path, caller, json=body)

    async def _patch(self, path: str, caller: Caller, body: Any) -> Any:
        return await self.services.call(self.service, "PATCH", path, caller, json=body)

    async def _public(self, seconds: float, path: str, **params: Any) -> Any:
        """A public read, from the cache when there is one."""
        if self.services.cache is None:
            return await self._get(path, None, **params)
        key = (self.service, path, *(f"{k}={_param(v)}" for k, v in sorted(params.items())))
        return await self.services.cache.get(key, seconds, lambda: self._get(path, None, **params))


class BookingApi(_Api):
    service = "booking"

    async def resources(self) -> list[dict[str, Any]]:
        return await self._public(60, "/resources")

    async def bookings(
        self,
        caller: Caller,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        status: str | None = None,
        resource_id: str | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        return await self._get(
            "/bookings",
            caller,
            **{"from": start, "to": end, "status": status, "resource_id": resource_id},
            limit=limit,
        )

    async def requests(self, caller: Caller, limit: int = 1000) -> list[dict[str, Any]]:
        """The requests waiting for approval, oldest first, with their free hours."""
        return await self._get("/bookings/requests", caller, limit=limit)

    async def booking(self, caller: Caller, booking_id: str) -> dict[str, Any]:
        return await self._get(f"/bookings/{booking_id}", caller)

    async def approve(self, caller: Caller, booking_id: str) -> dict[str, Any]:
        return await self._post(f"/bookings/{booking_id}/approve", caller)

    async def reject(self, caller: Caller, booking_id: str, reason: str) -> dict[str, Any]:
        return await self._post(f"/bookings/{booking_id}/reject", caller, {"reason": reason})

    async def closures(self) -> list[dict[str, Any]]:
        return await self._public(30, "/closures")

    async def add_closure(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        return await self._post("/closures", caller, body)

    async def closure_bookings(self, caller: Caller, closure_id: str) -> list[dict[str, Any]]:
        """The bookings a closure fell on, each with staff's choice (open, kept, cancelled)."""
        return await self._get(f"/closures/{closure_id}/bookings", caller)

    async def decide_closure_booking(
        self, caller: Caller, closure_id: str, booking_id: str, action: str
    ) -> dict[str, Any]:
        return await self._post(f"/closures/{closure_id}/bookings/{booking_id}/{action}", caller)

    async def check_in(self, caller: Caller, booking_id: str) -> dict[str, Any]:
        return await self._post(f"/bookings/{booking_id}/check-in", caller)

    async def organisation(self, caller: Caller, org_number: str) -> dict[str, Any]:
        """An organisation as staff see it, with its no-shows."""
        return await self._get(f"/organisations/{org_number}", caller)

    async def days(
        self, resource_id: str, first: date, days: int, slot_minutes: int
    ) -> list[dict[str, Any]]:
        """A room's free times and busy spans, day by day from `first`. Kept briefly: a
        time that passes into the notice period meanwhile is refused, with the reason, when
        someone books it."""
        return await self._public(
            15,
            f"/resources/{resource_id}/availability/days",
            **{"from": first, "days": days, "slot_minutes": slot_minutes},
        )

    async def activities(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        # Sign-ups change the counts without an event: kept only briefly.
        return await self._public(15, "/activities", **{"from": start, "to": end})


class LoansApi(_Api):
    service = "loans"

    async def items(self, caller: Caller, kind: str | None = None) -> list[dict[str, Any]]:
        return await self._get("/items", caller, kind=kind)

    async def loans(self, caller: Caller, status: str, limit: int = 1000) -> list[dict[str, Any]]:
        return await self._get("/loans", caller, status=status, limit=limit)

    async def lend(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        return await self._post("/loans", caller, body)

    async def give_back(self, caller: Caller, loan_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._post(f"/loans/{loan_id}/return", caller, body)

    async def renew(self, caller: Caller, loan_id: str) -> dict[str, Any]:
        return await self._post(f"/loans/{loan_id}/renew", caller)

    async def waiting_lists(self, caller: Caller) -> list[dict[str, Any]]:
        return await self._get("/waiting-lists", caller)

    async def closures(self) -> list[dict[str, Any]]:
        """The desk's closures that have not ended."""
        return await self._get("/closures", None)

    async def add_closure(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        return await self._post("/closures", caller, body)

    async def shelf(self) -> dict[str, Any]:
        return await self._get("/books", None, limit=1)


class CateringApi(_Api):
    service = "catering"

    async def orders(
        self, caller: Caller, day: date | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        return await self._get("/orders", caller, date=day, status=status)

    async def order(self, caller: Caller, order_id: str) -> dict[str, Any]:
        return await self._get(f"/orders/{order_id}", caller)

    async def act(
        self, caller: Caller, order_id: str, action: str, reason: str | None = None
    ) -> dict[str, Any]:
        body = {"reason": reason} if action == "reject" else None
        return await self._post(f"/orders/{order_id}/{action}", caller, body)

    async def prep_list(self, caller: Caller, day: date) -> dict[str, Any]:
        return await self._get("/prep-list", caller, date=day)

    async def set_capacity(self, caller: Caller, day: date, portions: int) -> dict[str, Any]:
        return await self._put(f"/capacity/{day.isoformat()}", caller, {"portions": portions})

    async def menu(self) -> list[dict[str, Any]]:
        # Not from the short cache: the café sees its own change to an item at once.
        return await self._get("/menu", None, include_unavailable=True)

    async def update_item(
        self, caller: Caller, item_id: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
        return await self._patch(f"/menu/items/{item_id}", caller, changes)

    async def closures(self) -> list[dict[str, Any]]:
        return await self._get("/closures", None)

    async def pending_changes(self, caller: Caller) -> list[dict[str, Any]]:
        """The customers' changes waiting for the café's answer."""
        return await self._get("/order-changes", caller)

    async def decide_change(
        self, caller: Caller, order_id: str, accept: bool, reason: str | None = None
    ) -> dict[str, Any]:
        if accept:
            return await self._post(f"/orders/{order_id}/change/accept", caller)
        body = {"reason": reason} if reason else None
        return await self._post(f"/orders/{order_id}/change/reject", caller, body)

    async def add_item(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        return await self._post("/menu/items", caller, body)

    async def add_closure(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        return await self._post("/closures", caller, body)


class NotifyApi(_Api):
    service = "notify"

    async def notifications(
        self,
        caller: Caller,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
        recipient: str | None = None,
    ) -> list[dict[str, Any]]:
        # The recipient goes in a body, never in an address: neither the person's browser
        # (pages/notifications.py) nor the call to notify has it in a URL.
        if recipient is not None:
            search = {"recipient": recipient, "status": status, "limit": limit, "offset": offset}
            return await self._post("/notifications/search", caller, search)
        return await self._get("/notifications", caller, status=status, limit=limit, offset=offset)

    async def retry(self, caller: Caller, delivery_id: str) -> dict[str, Any]:
        return await self._post(f"/notifications/{delivery_id}/retry", caller)

    # A caller's choices, set by staff on their behalf (pages/notifications.py): the address
    # in the body, as for the log.
    async def preferences_of(self, caller: Caller, recipient: str) -> dict[str, Any]:
        return await self._post("/preferences/lookup", caller, {"recipient": recipient})

    async def set_preferences_of(
        self, caller: Caller, recipient: str, choices: dict[str, bool]
    ) -> dict[str, Any]:
        """All three choices (`email`, `sms`, `reminders`) of the address."""
        return await self._put("/preferences", caller, {"recipient": recipient, **choices})

    # A recipient's own choices, by the token in the preferences link of their emails
    # (pages/preferences.py): no staff token; the token only ever in a header, never in the
    # address, so no log between here and notify has it.
    async def my_preferences(self, token: str, lang: str) -> dict[str, Any]:
        return await self.services.call(
            self.service,
            "GET",
            "/preferences/mine",
            None,
            lang=lang,
            extra_headers={"X-Preference-Token": token},
        )

    async def set_my_preferences(
        self, token: str, choices: dict[str, bool], lang: str, headers: dict[str, str]
    ) -> dict[str, Any]:
        """All three choices (`email`, `sms`, `reminders`): one left out counts as yes."""
        return await self.services.call(
            self.service,
            "PUT",
            "/preferences/mine",
            None,
            json=choices,
            lang=lang,
            extra_headers={"X-Preference-Token": token, **headers},
        )
