"""Server-side sessions in Redis: the cookie holds only a signed random id.

The only state the web front keeps. A session has an absolute lifetime (WEB_SESSION_HOURS,
and never past the person's access token); signing in starts a new session id (no fixation);
signing out deletes it in Redis, so a copied cookie is worthless afterwards.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from http.cookies import SimpleCookie
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from redis.asyncio import Redis
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "kp_okt"
ROTATE = "session.rotate"
CLEAR = "session.clear"


class SessionStore:
    def __init__(self, redis: Redis, prefix: str, secret: str, lifetime: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.lifetime = lifetime
        self.signer = URLSafeTimedSerializer(secret, salt="knutepunkt-web-session")

    def _key(self, sid: str) -> str:
        # Redis sees a hash of the id, never the cookie's value itself.
        return f"{self.prefix}web:session:{hashlib.sha256(sid.encode()).hexdigest()}"

    def sid_of(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            return str(self.signer.loads(cookie, max_age=self.lifetime))
        except BadSignature:
            return None

    async def load(self, sid: str) -> dict[str, Any] | None:
        raw = await self.redis.get(self._key(sid))
        if raw is None:
            return None
        data: dict[str, Any] = json.loads(raw)
        if data.get("_expires", 0) < time.time():
            return None
        return data

    async def save(self, sid: str, data: dict[str, Any]) -> None:
        # `_cap`: the sign-in's own end (the access token's expiry), never outlived.
        default = min(time.time() + self.lifetime, float(data.get("_cap") or "inf"))
        expires = float(data.setdefault("_expires", default))
        ttl = max(int(expires - time.time()), 1)
        await self.redis.set(self._key(sid), json.dumps(data), ex=ttl)

    async def delete(self, sid: str) -> None:
        await self.redis.delete(self._key(sid))

    def cookie_value(self, sid: str) -> str:
        return self.signer.dumps(sid)


class SessionMiddleware:
    """Puts the session dict in `scope["session"]` (what `request.session` reads, and what
    Authlib keeps the sign-in state in) and writes it back when it changed."""

    def __init__(self, app: ASGIApp, store: SessionStore, secure: bool) -> None:
        self.app = app
        self.store = store
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookies = SimpleCookie()
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                cookies.load(value.decode("latin-1"))
        morsel = cookies.get(COOKIE)
        sid = self.store.sid_of(morsel.value if morsel else None)
        loaded = await self.store.load(sid) if sid else None
        data: dict[str, Any] = dict(loaded or {})
        before = json.dumps(data, sort_keys=True)
        scope["session"] = data
        scope["session.sid"] = sid if loaded is not None else None

        async def sending(message: Message) -> None:
            nonlocal sid
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if scope.get(CLEAR):
                    if sid:
                        await self.store.delete(sid)
                    headers.append("set-cookie", self._cookie("", 0))
                elif scope.get(ROTATE) or json.dumps(data, sort_keys=True) != before:
                    if scope.get(ROTATE) and sid:
                        await self.store.delete(sid)
                        data.pop("_expires", None)
                    if scope.get(ROTATE) or sid is None or loaded is None:
                        sid = secrets.token_urlsafe(32)
                    await self.store.save(sid, data)
                    remaining = int(float(data["_expires"]) - time.time())
                    headers.append(
                        "set-cookie", self._cookie(self.store.cookie_value(sid), remaining)
                    )
            await send(message)

        await self.app(scope, receive, sending)

    def _cookie(self, value: str, max_age: int) -> str:
        parts = [f"{COOKIE}={value}", "Path=/", "HttpOnly", "SameSite=Lax", f"Max-Age={max_age}"]
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)
