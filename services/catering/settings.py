"""The café's own settings, from CATERING_* environment variables (12-factor); a running
service has them as `runtime.config` (`catering_settings(runtime)` for the typed view)."""

from __future__ import annotations

from datetime import time, timedelta

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.catering.domain import CafeRules
from shared.service import Runtime
from shared.settings import EnvironmentSettings


class CateringSettings(EnvironmentSettings):
    model_config = SettingsConfigDict(env_prefix="CATERING_", extra="ignore")

    lead_working_days: int = Field(default=2, ge=0, le=20)
    # "Order by 12:00 two working days before" (Oslo time).
    cutoff: str = "12:00"
    takeaway_min_lead_minutes: int = Field(default=30, ge=0, le=24 * 60)
    max_days_ahead: int = Field(default=180, ge=1, le=730)
    # Portions per pick-up day when staff have not set that day's capacity.
    daily_capacity: int = Field(default=120, ge=0, le=100_000)
    # Retention (docs/privacy.md): an order's personal data is anonymised this many days
    # after its pick-up (or cancellation, rejection); the timer looks this often.
    retention_days: float = Field(default=90.0, ge=0)
    retention_poll_seconds: float = Field(default=3600.0, gt=0)

    @field_validator("cutoff")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        time.fromisoformat(value)
        return value

    def rules(self) -> CafeRules:
        return CafeRules(
            lead_working_days=self.lead_working_days,
            cutoff=time.fromisoformat(self.cutoff),
            takeaway_min_lead=timedelta(minutes=self.takeaway_min_lead_minutes),
            max_days_ahead=self.max_days_ahead,
            daily_capacity=self.daily_capacity,
        )


def catering_settings(runtime: Runtime) -> CateringSettings:
    config = runtime.config
    assert isinstance(config, CateringSettings), "the catering spec makes CateringSettings"
    return config
