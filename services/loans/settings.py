"""The loans service's own settings: environment variables with the `LOANS_` prefix, beside
the shared ones (shared.settings). Reached as `runtime.config` (`config_of(runtime)`)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from shared.roles import Role
from shared.service import Runtime
from shared.settings import EnvironmentSettings


class LoansSettings(EnvironmentSettings):
    model_config = SettingsConfigDict(
        env_prefix="LOANS_", env_file=None, extra="ignore", case_sensitive=False
    )

    # How often the reminder/overdue scanner runs (a test sets it to a fraction of a second).
    overdue_scan_seconds: float = Field(default=60.0, gt=0)
    # LoanDueSoon goes out this long before the due time.
    due_soon_hours: float = Field(default=24.0, ge=0)
    # Days after the due time at which LoanOverdue levels 1, 2, ... go out; passing the
    # last one blocks the borrower and tells the desk.
    overdue_steps_days: str = "0,3,7"
    scan_batch: int = Field(default=500, ge=1, le=10_000)
    escalation_role: Role = Role.DESK
    # Retention (docs/privacy.md): a borrower's name and contacts are anonymised this many
    # days after their last return, when nothing is lent or reserved to them.
    retention_days: float = Field(default=90.0, ge=0)
    retention_poll_seconds: float = Field(default=3600.0, gt=0)

    @field_validator("overdue_steps_days")
    @classmethod
    def _steps_ascend(cls, value: str) -> str:
        try:
            steps = [int(p) for p in value.split(",") if p.strip()]
        except ValueError as exc:
            raise ValueError("LOANS_OVERDUE_STEPS_DAYS must be comma-separated whole days") from exc
        if not steps or steps != sorted(set(steps)) or steps[0] < 0:
            raise ValueError(
                "LOANS_OVERDUE_STEPS_DAYS must be ascending, distinct and not negative"
            )
        return value

    @property
    def steps(self) -> tuple[int, ...]:
        return tuple(int(p) for p in self.overdue_steps_days.split(",") if p.strip())

    @property
    def due_soon(self) -> timedelta:
        return timedelta(hours=self.due_soon_hours)


def config_of(runtime: Runtime) -> LoansSettings:
    """The loans settings of a running service, typed."""
    config = runtime.config
    assert isinstance(config, LoansSettings), "ServiceSpec.service_settings is LoansSettings"
    return config
