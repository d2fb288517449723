"""The web front's settings (`WEB_` prefix), read with pydantic-settings."""

from __future__ import annotations

import ipaddress
import secrets
from functools import cached_property

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import SettingsConfigDict

from shared import ratelimit
from shared.action_links import ActionLinks
from shared.roles import parse_role
from shared.settings import EnvironmentSettings


def parse_dev_tokens(spec: str) -> dict[str, str]:
    """`desk:t1,cafe:t2` -> {role: token}: the static token the dev sign-in uses per role."""
    tokens: dict[str, str] = {}
    for number, raw in enumerate(spec.split(","), start=1):
        item = raw.strip()
        if not item:
            continue
        role, sep, token = item.partition(":")
        if not sep or not token:
            raise ValueError(f"WEB_DEV_TOKENS entry number {number} must look like role:token")
        tokens[parse_role(role.strip()).value] = token.strip()
    return tokens


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebSettings(EnvironmentSettings):
    model_config = SettingsConfigDict(
        env_prefix="WEB_", env_file=None, extra="ignore", hide_input_in_errors=True
    )

    port: int = 8005
    # Not WEB_-prefixed: the address every process of the hub binds (as the services read it).
    host: str = Field(default="127.0.0.1", validation_alias="HOST")
    public_url: str = ""  # where people reach this front; the OIDC redirect is built from it
    # The hub's address for questions and for the rights the privacy notice names; without
    # one the pages send people to the desk.
    contact_email: str = Field(default="", pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")
    # What the privacy notice says of how long: the services' own settings, read by their
    # names (set them for the web front too when they are not the defaults).
    booking_retention_days: float = Field(
        default=90.0, ge=0, validation_alias="BOOKING_RETENTION_DAYS"
    )
    registration_retention_days: float = Field(
        default=30.0, ge=0, validation_alias="BOOKING_REGISTRATION_RETENTION_DAYS"
    )
    loans_retention_days: float = Field(default=90.0, ge=0, validation_alias="LOANS_RETENTION_DAYS")
    catering_retention_days: float = Field(
        default=90.0, ge=0, validation_alias="CATERING_RETENTION_DAYS"
    )
    notify_retention_days: float = Field(
        default=30.0, ge=0, validation_alias="NOTIFY_RETENTION_DAYS"
    )

    booking_url: str = "http://127.0.0.1:8001"
    loans_url: str = "http://127.0.0.1:8002"
    catering_url: str = "http://127.0.0.1:8003"
    notify_url: str = "http://127.0.0.1:8004"
    service_timeout_seconds: float = Field(default=10.0, gt=0)

    redis_url: str = Field(default="redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    stream_prefix: str = Field(default="", validation_alias="STREAM_PREFIX")

    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_scope: str = "openid profile"
    roles_claim: str = "roles"

    # Signs nothing secret-bearing itself (sessions live in Redis), but binds the session
    # cookie; a random one per start signs everybody out at a restart.
    session_secret: str = ""
    session_hours: float = Field(default=8.0, gt=0, le=24)
    # HTTPS in production: the cookie is then sent only over TLS.
    secure_cookies: bool = False

    # One-click links in staff messages (shared/action_links.py): the secret notify signs
    # them with. Unset: every link is answered "not valid" (notify then sends none either).
    action_link_secret: str = Field(default="", validation_alias="ACTION_LINK_SECRET")

    # The launcher's dev sign-in: choose a role, act with that role's static token.
    dev_signin: bool = False
    dev_tokens: str = ""

    # Posts to the public pages per client address, `count/seconds` (shared/ratelimit.py);
    # the same name as the services' own limit unless WEB_PUBLIC_POST_LIMIT says otherwise.
    public_post_limit: str = Field(
        default=ratelimit.DEFAULT,
        validation_alias=AliasChoices("WEB_PUBLIC_POST_LIMIT", "PUBLIC_WRITE_LIMIT"),
    )
    # The reverse proxy whose X-Forwarded-For names the client (as the services read it).
    trusted_proxies: str = Field(default="", validation_alias="TRUSTED_PROXIES")

    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_format: str = Field(default="auto", validation_alias="LOG_FORMAT")

    @model_validator(mode="after")
    def _coherent(self) -> WebSettings:
        if self.dev_signin:
            # A sign-in without a password: only for the embedded hub on this machine.
            if not _loopback(self.host):
                raise ValueError("WEB_DEV_SIGNIN is only for a hub bound to a loopback address")
            if not self.dev_token_map:
                raise ValueError("WEB_DEV_SIGNIN needs WEB_DEV_TOKENS (role:token,...)")
        oidc = (self.oidc_issuer, self.oidc_client_id, self.oidc_client_secret)
        if any(oidc) and not all(oidc):
            raise ValueError(
                "WEB_OIDC_ISSUER, WEB_OIDC_CLIENT_ID and WEB_OIDC_CLIENT_SECRET go together"
            )
        if not self.dev_signin and not self.oidc_issuer:
            raise ValueError("set WEB_OIDC_ISSUER (and client id and secret) for staff sign-in")
        if not self.session_secret:
            if not self.dev_signin:
                raise ValueError("WEB_SESSION_SECRET must be set")
            self.session_secret = secrets.token_urlsafe(32)
        if self.action_link_secret:
            ActionLinks(self.action_link_secret)  # a short secret stops the start
        if not self.public_url:
            self.public_url = f"http://127.0.0.1:{self.port}"
        self.public_url = self.public_url.rstrip("/")
        return self

    @cached_property
    def dev_token_map(self) -> dict[str, str]:
        return parse_dev_tokens(self.dev_tokens)

    @property
    def session_seconds(self) -> int:
        return int(self.session_hours * 3600)

    def service_urls(self) -> dict[str, str]:
        return {
            "booking": self.booking_url.rstrip("/"),
            "loans": self.loans_url.rstrip("/"),
            "catering": self.catering_url.rstrip("/"),
            "notify": self.notify_url.rstrip("/"),
        }
