"""The booking service's own settings (environment variables prefixed BOOKING_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.service import Runtime
from shared.settings import EnvironmentSettings


class BookingSettings(EnvironmentSettings):
    model_config = SettingsConfigDict(env_prefix="BOOKING_", extra="ignore")

    # BookingReminder goes out this long before the start.
    reminder_before_minutes: int = Field(default=24 * 60, ge=1)
    reminder_poll_seconds: float = Field(default=30.0, gt=0)
    # How often no-shows are looked for: a release comes at most this late.
    release_poll_seconds: float = Field(default=30.0, gt=0)
    # Someone moved up from a waiting list this close to the activity's start gets an SMS
    # besides the email (RegistrationPromoted.short_notice).
    promotion_sms_hours: float = Field(default=48.0, ge=0)
    # A season's given-back time offered to the next on the waiting list stands this long
    # (never past the time's start); unanswered, it goes to the next (timers.expire_offers).
    offer_hours: float = Field(default=48.0, gt=0)
    offer_poll_seconds: float = Field(default=60.0, gt=0)
    # A PostgreSQL deadlock (40P01) or serialization failure is retried this many times.
    transaction_attempts: int = Field(default=4, ge=1)
    # Retention (docs/privacy.md): a booking's personal data is anonymised this many days
    # after its end, a sign-up's after its activity's end; the timer looks this often.
    retention_days: float = Field(default=90.0, ge=0)
    registration_retention_days: float = Field(default=30.0, ge=0)
    retention_poll_seconds: float = Field(default=3600.0, gt=0)
    seed_demo: bool = True


def booking_settings(runtime: Runtime) -> BookingSettings:
    """The typed view of `runtime.config`."""
    config = runtime.config
    assert isinstance(config, BookingSettings), "the booking spec makes BookingSettings"
    return config
