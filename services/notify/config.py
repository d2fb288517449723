"""The notify service's own settings, beside the shared ones (SMTP_URL, SMS_GATEWAY_URL,
SMS_PROVIDER, STAFF_DIRECTORY live in shared.settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

HERE = Path(__file__).resolve().parent
DEFAULT_ROUTES = HERE / "routes.yaml"
DEFAULT_STAFF = HERE / "staff.example.yaml"


class NotifyConfig(BaseSettings):
    """Read from the environment; tests pass values directly (they win over the env)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    notify_routes: Path = DEFAULT_ROUTES
    notify_mail_from: str = "Knutepunkt Strømsø <ikke-svar@knutepunkt.example.org>"
    notify_sms_sender: str = "Knutepunkt"
    # Where the gateway sends delivery reports and where the opt-out link points; without
    # it, no callback URL is given (reports can still be posted by an operator or a sink).
    notify_public_url: str | None = None
    # Signs the preference links people get; unset: a random key kept in the database.
    notify_preference_secret: str | None = None
    # A shared secret the gateway must send (header X-Report-Token or ?token=); unset: open.
    notify_report_token: str | None = None

    sms_username: str | None = None
    sms_password: str | None = None
    sms_token: str | None = None
    sms_platform_id: str = "COMMON_API"
    sms_platform_partner_id: str = "0"
    sms_report_gate: str | None = None
    sms_timeout_seconds: float = Field(default=10.0, gt=0)
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)

    # Retries: Knock-like, 8 attempts spread over about half an hour by default.
    notify_max_attempts: int = Field(default=8, ge=1, le=50)
    notify_retry_base_seconds: float = Field(default=15.0, gt=0)
    notify_retry_max_seconds: float = Field(default=900.0, gt=0)
    # A claimed delivery whose sender vanished is taken again after this long.
    notify_claim_lease_seconds: float = Field(default=120.0, gt=0)
    notify_batch: int = Field(default=100, ge=1, le=2000)
    notify_poll_seconds: float = Field(default=1.0, gt=0)
    notify_sms_concurrency: int = Field(default=8, ge=1, le=200)
    # Rate limits per provider (messages per second; 0 = no limit).
    notify_sms_per_second: float = Field(default=10.0, ge=0)
    notify_email_per_second: float = Field(default=0.0, ge=0)

    # Citizens' quiet hours for non-urgent SMS, Europe/Oslo wall time.
    notify_quiet_hours: str = "21:00-08:00"

    @field_validator("notify_quiet_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        from services.notify.domain import parse_hours

        parse_hours(value)
        return value
