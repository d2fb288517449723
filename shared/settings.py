"""Configuration from the environment (12-factor), read with pydantic-settings.

The names are a contract: ops, compose.yaml and the tests set them (README, docs/ops.md).
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.clock import demo_clock_refusal
from shared.manage_links import ManageLinks
from shared.ratelimit import Limit, parse_networks
from shared.roles import parse_role

SERVICES: tuple[str, ...] = ("booking", "loans", "catering", "notify")
DEFAULT_PORTS: dict[str, int] = {"booking": 8001, "loans": 8002, "catering": 8003, "notify": 8004}
VAR_DIR = Path("var")


def parse_staff_tokens(spec: str) -> dict[str, frozenset[str]]:
    """`t1:desk,t2:cafe+booking,t3:admin` -> {token: roles}. Several roles join with '+'."""
    tokens: dict[str, frozenset[str]] = {}
    for number, raw in enumerate(spec.split(","), start=1):
        item = raw.strip()
        if not item:
            continue
        token, sep, roles = item.partition(":")
        if not sep or not token or not roles:
            # Never echo the entry: it is a secret.
            raise ValueError(f"STAFF_TOKENS entry number {number} must look like token:role")
        # An unknown role would be a token that can do nothing: refuse to start instead.
        tokens[token] = frozenset(parse_role(r.strip()) for r in roles.split("+") if r.strip())
    return tokens


# podman-compose 1.0.3 (Debian 12's, a runtime docs/deploy.md supports) has no empty default
# in its pattern: `${NAME:-}` in compose.yaml reaches the process as those very characters.
# Such a value was never set, and must not become an OIDC issuer or a signing secret.
_UNEXPANDED = re.compile(r"\$\{\w+(?::?[-?][^}]*)?\}")


class EnvironmentSettings(BaseSettings):
    """Every process's settings class: a value compose left unexpanded counts as unset."""

    @model_validator(mode="before")
    @classmethod
    def _unset_when_unexpanded(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {
            key: value
            for key, value in data.items()
            if not (isinstance(value, str) and _UNEXPANDED.fullmatch(value))
        }


class Settings(EnvironmentSettings):
    """Settings shared by every service; per-service names are resolved by `service`."""

    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", case_sensitive=False, hide_input_in_errors=True
    )

    service: str = "booking"
    database_url: str = ""
    port: int = 0
    redis_url: str = "redis://127.0.0.1:6379/0"
    host: str = "127.0.0.1"
    # A prefix for every stream and key, so that tests (and several hubs on one Redis) never
    # see each other's events.
    stream_prefix: str = ""
    smtp_url: str = "smtp://127.0.0.1:1025"
    sms_gateway_url: str = "http://127.0.0.1:8026"
    sms_provider: str = "generic"
    staff_tokens: str = ""
    # Staff people's access tokens: JWTs from this OpenID Connect issuer, for this audience,
    # with the staff roles in this claim (a dotted path such as `realm_access.roles` works).
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_roles_claim: str = "roles"
    oidc_jwks_cache_seconds: int = Field(default=600, ge=10)
    staff_directory: Path | None = None
    # Public writes (a POST without a staff token) per client address, `count/seconds`
    # (shared/ratelimit.py); empty: no limit. The launcher and compose set it.
    public_write_limit: str = ""
    # Signs the manage links in bookers', participants' and café customers' messages
    # (shared/manage_links.py): notify writes them, booking and catering take them. Empty:
    # no links, and none taken.
    manage_link_secret: str = ""
    # Addresses (or networks) whose X-Forwarded-For names the client for that limit: the
    # reverse proxy and the web front. Empty: the connecting address counts.
    trusted_proxies: str = ""
    log_level: str = "INFO"
    log_format: str = "auto"  # auto | json | text

    # The backbone's promises (docs/architecture.md, "The backbone").
    claim_idle_ms: int = Field(default=30_000, ge=10)
    max_deliveries: int = Field(default=5, ge=1)
    retry_backoff_ms: int = Field(default=500, ge=1)
    retry_backoff_max_ms: int = Field(default=60_000, ge=1)
    consumer_batch: int = Field(default=100, ge=1, le=1000)
    consumer_block_ms: int = Field(default=1_000, ge=1, le=2_000)
    relay_batch: int = Field(default=500, ge=1, le=5000)
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    outbox_keep_seconds: int = Field(default=86_400, ge=0)
    stream_retention_seconds: int = Field(default=7 * 86_400, ge=1)
    # The access log's entries (shared/access_log.py) are kept this long (docs/privacy.md).
    access_log_retention_days: float = Field(default=365.0, ge=1)
    # How often a service looks for erasure requests left for it (shared/person_data.py).
    erasure_poll_seconds: float = Field(default=30.0, gt=0)
    max_event_bytes: int = Field(default=64 * 1024, ge=1024)
    migrate_on_start: bool = True
    # PostgreSQL: how long a request may wait on a server that does not answer before it
    # is told 503 (a restart refuses connections at once; a hung host does not).
    database_connect_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    database_command_timeout_seconds: float = Field(default=5.0, gt=0, le=600)

    # The embedded mode's demo clock (shared/clock.py); the launcher sets all three.
    knutepunkt_embedded: bool = False
    demo_clock_at: datetime | None = None
    demo_clock_since: datetime | None = None

    @field_validator("demo_clock_at", "demo_clock_since")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a UTC offset (2027-03-15T09:30:00+00:00)")
        return value

    @model_validator(mode="after")
    def _demo_clock_only_embedded(self) -> Settings:
        if self.demo_clock_at is not None:
            refusal = demo_clock_refusal(self.knutepunkt_embedded, self.database_url)
            if refusal:
                raise ValueError(refusal)
        return self

    @field_validator("public_write_limit")
    @classmethod
    def _limit_parses(cls, value: str) -> str:
        Limit.parse(value)
        return value

    @field_validator("manage_link_secret")
    @classmethod
    def _manage_secret(cls, value: str) -> str:
        if value:
            ManageLinks(value)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks_parse(cls, value: str) -> str:
        parse_networks(value)
        return value

    @field_validator("staff_tokens")
    @classmethod
    def _tokens_parse(cls, value: str) -> str:
        parse_staff_tokens(value)
        return value

    @model_validator(mode="after")
    def _audience_with_issuer(self) -> Settings:
        # Without an audience any token the issuer gives out, for any application, would do.
        if self.oidc_issuer and not self.oidc_audience:
            raise ValueError("OIDC_AUDIENCE must be set when OIDC_ISSUER is")
        return self

    @cached_property
    def tokens(self) -> dict[str, frozenset[str]]:
        return parse_staff_tokens(self.staff_tokens)

    def sqlite_default(self) -> str:
        return f"sqlite+aiosqlite:///{VAR_DIR / (self.service + '.db')}"


def load_settings(service: str, **overrides: object) -> Settings:
    """Settings for one service: the shared names, plus `<SERVICE>_DATABASE_URL` and
    `<SERVICE>_PORT`, with explicit overrides (tests)."""
    values: dict[str, Any] = {"service": service}
    url = os.environ.get(f"{service.upper()}_DATABASE_URL")
    if url:
        values["database_url"] = url
    port = os.environ.get(f"{service.upper()}_PORT")
    if port:
        try:
            values["port"] = int(port)
        except ValueError as exc:
            raise ValueError(f"{service.upper()}_PORT must be a port number") from exc
    values.update(overrides)
    settings = Settings(**values)
    if not settings.database_url:
        settings.database_url = settings.sqlite_default()
    if not settings.port:
        settings.port = DEFAULT_PORTS.get(service, 8000)
    return settings
