"""Running an ops command against the hub's Redis, with connection errors as exit code 2."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from knutepunkt.ops.output import USAGE, fail
from knutepunkt.ops.target import Target, TargetError, from_env

T = TypeVar("T")


def target() -> Target:
    try:
        return from_env()
    except TargetError as exc:
        fail(str(exc), USAGE)


def with_redis(hub: Target, work: Callable[[Redis], Awaitable[T]]) -> T:
    async def run() -> T:
        redis = Redis.from_url(hub.redis_url, socket_connect_timeout=3, socket_timeout=10)
        try:
            return await work(redis)
        finally:
            await redis.aclose()

    try:
        return asyncio.run(run())
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        fail(f"cannot reach Redis at {safe_url(hub.redis_url)}: {exc}", USAGE)
    except TargetError as exc:
        fail(str(exc), USAGE)
    except httpx.HTTPError as exc:
        fail(f"cannot reach a service: {exc}", USAGE)


def json_object(response: httpx.Response) -> dict[str, Any]:
    """A service's answer as a JSON object; {} when it is not one (a proxy's error page)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def unreachable(exc: httpx.HTTPError) -> str:
    return f"not reachable ({type(exc).__name__})"


def safe_url(url: str) -> str:
    """The URL without a password."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(password=None)) if parsed.password else url
