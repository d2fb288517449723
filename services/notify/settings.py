"""The notify service's own settings (NOTIFY_*), beside the shared ones (SMTP_URL,
SMS_GATEWAY_URL, SMS_PROVIDER, STAFF_DIRECTORY live in shared.settings), and what they name:
the routing table, the staff directory and the templates, loaded and checked once at start.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from services.notify.digest import DIGEST_ROLES, DigestPlan, parse_wall_time
from services.notify.domain import parse_hours
from services.notify.rendering import LANGUAGES, Renderer
from services.notify.routing import FanoutRules, load_routes
from services.notify.sms import PROVIDERS
from services.notify.staff import load_staff
from shared.action_links import ActionLinks
from shared.manage_links import ManageLinks
from shared.service import Runtime
from shared.settings import EnvironmentSettings

HERE = Path(__file__).resolve().parent
DEFAULT_ROUTES = HERE / "routes.yaml"
DEFAULT_STAFF = HERE / "staff.example.yaml"
RULES_KEY = "notify.rules"


def _gateway(name: str) -> Any:
    # The gateway's credentials were read without the prefix once (SMS_USERNAME, ...);
    # both names are read, the prefixed one first.
    return AliasChoices(f"notify_{name}", name)


class NotifySettings(EnvironmentSettings):
    """Read from the environment (NOTIFY_<NAME>); tests pass values directly (they win)."""

    model_config = SettingsConfigDict(
        env_prefix="NOTIFY_",
        env_file=None,
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
    )

    routes: Path = DEFAULT_ROUTES
    mail_from: str = "Knutepunkt Strømsø <ikke-svar@knutepunkt.example.org>"
    sms_sender: str = "Knutepunkt"
    # Where the gateway sends delivery reports; without it, no callback URL is given
    # (reports can still be posted by an operator or a sink).
    public_url: str | None = None
    # Signs the preference links people get; unset: a random key kept in the database.
    preference_secret: str | None = None
    # The web front's address, unprefixed as the web front reads it: people's emails link
    # to their notification choices there (`/mine/varsler/<token>`). One-click links in
    # staff messages (shared/action_links.py) need it and the secret notify and the web
    # front share; without both, staff messages carry no links.
    web_public_url: str | None = Field(
        default=None, validation_alias=AliasChoices("notify_web_public_url", "web_public_url")
    )
    action_link_secret: str | None = Field(
        default=None,
        validation_alias=AliasChoices("notify_action_link_secret", "action_link_secret"),
    )
    action_link_hours: float = Field(default=72.0, gt=0, le=24 * 31)
    # Manage links in bookers' messages (shared/manage_links.py), unprefixed as the booking
    # service reads it; without it and WEB_PUBLIC_URL, bookers' messages carry no link.
    manage_link_secret: str | None = Field(
        default=None,
        validation_alias=AliasChoices("notify_manage_link_secret", "manage_link_secret"),
    )
    # A shared secret the gateway must send (header X-Report-Token or ?token=); unset: open.
    report_token: str | None = None

    sms_username: str | None = Field(default=None, validation_alias=_gateway("sms_username"))
    sms_password: str | None = Field(default=None, validation_alias=_gateway("sms_password"))
    sms_token: str | None = Field(default=None, validation_alias=_gateway("sms_token"))
    sms_platform_id: str = Field(default="COMMON_API", validation_alias=_gateway("sms_platform_id"))
    sms_platform_partner_id: str = Field(
        default="0", validation_alias=_gateway("sms_platform_partner_id")
    )
    sms_report_gate: str | None = Field(default=None, validation_alias=_gateway("sms_report_gate"))
    # A second SMS gateway (unprefixed, like SMS_GATEWAY_URL) for what the first does not
    # accept, with its own credentials; the platform settings above are shared.
    sms_fallback_url: str | None = Field(
        default=None, validation_alias=_gateway("sms_fallback_url")
    )
    sms_fallback_provider: str = Field(
        default="generic", validation_alias=_gateway("sms_fallback_provider")
    )
    sms_fallback_username: str | None = Field(
        default=None, validation_alias=_gateway("sms_fallback_username")
    )
    sms_fallback_password: str | None = Field(
        default=None, validation_alias=_gateway("sms_fallback_password")
    )
    sms_fallback_token: str | None = Field(
        default=None, validation_alias=_gateway("sms_fallback_token")
    )
    # The first gateway is down after this many transient failures in a row; new SMS then
    # go to the fallback for sms_failover_seconds before the first is tried again.
    sms_failover_after: int = Field(default=3, ge=1, le=100)
    sms_failover_seconds: float = Field(default=60.0, gt=0)
    sms_timeout_seconds: float = Field(
        default=10.0, gt=0, validation_alias=_gateway("sms_timeout_seconds")
    )
    smtp_timeout_seconds: float = Field(
        default=10.0, gt=0, validation_alias=_gateway("smtp_timeout_seconds")
    )

    # Retries: Knock-like, 8 attempts spread over about half an hour by default.
    max_attempts: int = Field(default=8, ge=1, le=50)
    retry_base_seconds: float = Field(default=15.0, gt=0)
    retry_max_seconds: float = Field(default=900.0, gt=0)
    # Sender instances beat every heartbeat_seconds; one silent for sender_stale_seconds
    # is taken for dead and its claims are taken over.
    heartbeat_seconds: float = Field(default=1.0, gt=0, le=60)
    sender_stale_seconds: float = Field(default=5.0, gt=0, le=600)
    # At most this many messages per sender are on their way or answered but not yet
    # recorded: what a crash can send a second time.
    unrecorded_window: int = Field(default=16, ge=1, le=1000)
    # How long an answered outcome may wait for the answers of the sends still under way,
    # to be committed with them in one transaction (it never waits for a full window).
    record_linger_seconds: float = Field(default=0.05, ge=0, le=5)
    # A backstop: a claim held this long even by a live sender is given up.
    claim_lease_seconds: float = Field(default=120.0, gt=0)
    batch: int = Field(default=100, ge=1, le=2000)
    poll_seconds: float = Field(default=1.0, gt=0)
    sms_concurrency: int = Field(default=8, ge=1, le=200)
    # SMTP connections kept open to the relay: as many emails on their way at once.
    smtp_connections: int = Field(default=4, ge=1, le=50)
    # Rate limits per provider (messages per second; 0 = no limit).
    sms_per_second: float = Field(default=10.0, ge=0)
    email_per_second: float = Field(default=0.0, ge=0)

    # Citizens' quiet hours for non-urgent SMS, Europe/Oslo wall time.
    quiet_hours: str = "21:00-08:00"

    # The staff's daily digest per role, at an Oslo wall time on open days
    # (services/notify/digest.py): NOTIFY_DIGEST_<ROLE>_ENABLED and NOTIFY_DIGEST_<ROLE>_AT.
    digest_desk_enabled: bool = True
    digest_desk_at: str = "08:00"
    digest_cafe_enabled: bool = True
    digest_cafe_at: str = "07:30"
    digest_booking_enabled: bool = True
    digest_booking_at: str = "08:00"
    # How often the digest timer looks whether a digest is due.
    digest_poll_seconds: float = Field(default=30.0, gt=0, le=3600)

    # Retention (docs/privacy.md): a message's address, name and texts are anonymised this
    # many days after it was sent (or failed); the timer looks this often.
    retention_days: float = Field(default=30.0, ge=0)
    retention_poll_seconds: float = Field(default=3600.0, gt=0)

    @field_validator("quiet_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        parse_hours(value)
        return value

    @field_validator("digest_desk_at", "digest_cafe_at", "digest_booking_at")
    @classmethod
    def _wall_time(cls, value: str) -> str:
        parse_wall_time(value)
        return value

    def digest_plans(self) -> tuple[DigestPlan, ...]:
        return tuple(
            DigestPlan(
                role,
                bool(getattr(self, f"digest_{role}_enabled")),
                parse_wall_time(getattr(self, f"digest_{role}_at")),
            )
            for role in DIGEST_ROLES
        )

    @field_validator("sms_fallback_provider")
    @classmethod
    def _provider(cls, value: str) -> str:
        if value not in PROVIDERS:
            raise ValueError(f"SMS_FALLBACK_PROVIDER must be one of {', '.join(PROVIDERS)}")
        return value

    @field_validator("action_link_secret")
    @classmethod
    def _long_enough(cls, value: str | None) -> str | None:
        if value:
            ActionLinks(value)  # refuses a short one at start, not at the first message
        return value or None

    @model_validator(mode="after")
    def _stale_after_beats(self) -> NotifySettings:
        if self.sender_stale_seconds < 2 * self.heartbeat_seconds:
            raise ValueError(
                "NOTIFY_SENDER_STALE_SECONDS must be at least twice NOTIFY_HEARTBEAT_SECONDS"
            )
        return self


def notify_settings(runtime: Runtime) -> NotifySettings:
    config = runtime.config
    assert isinstance(config, NotifySettings), "the notify spec makes NotifySettings"
    return config


def check_templates(rules: FanoutRules) -> None:
    missing = [
        f"{route.template}/{channel}/{language}"
        for routes in rules.routes.routes.values()
        if routes != "silent"
        for route in routes
        for channel in route.channels
        for language in LANGUAGES
        if not rules.renderer.has(route.template, channel, language)
    ]
    missing += [
        f"{route.template}/actions/{action.value}/{language}"
        for routes in rules.routes.routes.values()
        if routes != "silent"
        for route in routes
        for action in route.actions
        for language in LANGUAGES
        if action.value not in rules.renderer.action_labels(route.template, language)
    ]
    missing += [
        f"digest_{role}/email/{language}"
        for role in DIGEST_ROLES
        for language in LANGUAGES
        if not rules.renderer.has(f"digest_{role}", "email", language)
    ]
    if missing:
        raise ValueError(f"templates missing: {', '.join(sorted(set(missing)))}")


def load_rules(settings: NotifySettings, staff_directory: Path | None, key: bytes) -> FanoutRules:
    renderer = Renderer()
    routes = load_routes(settings.routes)
    routes.check(renderer.names())
    rules = FanoutRules(
        routes=routes,
        staff=load_staff(staff_directory or DEFAULT_STAFF),
        renderer=renderer,
        quiet_hours=parse_hours(settings.quiet_hours),
        preference_key=key,
        action_links=ActionLinks(settings.action_link_secret)
        if settings.action_link_secret
        else None,
        web_url=settings.web_public_url.rstrip("/") if settings.web_public_url else None,
        link_lifetime=timedelta(hours=settings.action_link_hours),
        manage_links=ManageLinks(settings.manage_link_secret)
        if settings.manage_link_secret
        else None,
    )
    check_templates(rules)
    return rules


def notify_rules(runtime: Runtime) -> FanoutRules:
    """The rules loaded at start (app.setup)."""
    rules: FanoutRules = runtime.state[RULES_KEY]
    return rules
