"""Where the running hub is: Redis, the stream prefix, the services' URLs and staff tokens,
all from the environment (the same names the services and the launcher use)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from knutepunkt import hub_file
from shared.messaging.redis import StreamNames
from shared.settings import DEFAULT_PORTS, SERVICES, parse_staff_tokens

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class TargetError(Exception):
    """The environment does not describe a usable hub (exit code 2)."""


@dataclass(frozen=True)
class Target:
    redis_url: str
    prefix: str
    urls: dict[str, str]
    tokens: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def names(self) -> StreamNames:
        return StreamNames(self.prefix)

    def token_for(self, role: str) -> str | None:
        """A staff token with `role`, else one with admin (which passes everywhere)."""
        for wanted in (role, "admin"):
            for token, roles in self.tokens.items():
                if wanted in roles:
                    return token
        return None

    def staff_headers(self, role: str) -> dict[str, str]:
        token = self.token_for(role)
        if token is None:
            raise TargetError(f"STAFF_TOKENS has no token with the {role} or admin role")
        return {"Authorization": f"Bearer {token}"}


def from_env(environ: Mapping[str, str] | None = None) -> Target:
    """The hub the environment names; without an environment given, what it does not say
    is taken from a hub running on this machine (`knutepunkt up`'s file, hub_file.py)."""
    env = environ
    if env is None:
        env = {**hub_file.read(hub_file.var_dir_of(os.environ)), **os.environ}
    urls = {}
    for name in SERVICES:
        url = env.get(f"{name.upper()}_URL")
        if not url:
            port = env.get(f"{name.upper()}_PORT") or str(DEFAULT_PORTS[name])
            url = f"http://127.0.0.1:{port}"
        urls[name] = url.rstrip("/")
    try:
        tokens = parse_staff_tokens(env.get("STAFF_TOKENS", ""))
    except ValueError as exc:
        raise TargetError(str(exc)) from exc
    return Target(
        redis_url=env.get("REDIS_URL") or DEFAULT_REDIS_URL,
        prefix=env.get("STREAM_PREFIX", ""),
        urls=urls,
        tokens=tokens,
    )
