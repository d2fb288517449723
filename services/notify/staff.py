"""The staff directory (STAFF_DIRECTORY): who holds which role, and how to reach them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.notify.domain import Target, Window, normalise_email, normalise_phone, parse_hours
from shared.roles import Role


class StaffMember(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    roles: tuple[Role, ...] = Field(min_length=1)
    email: str | None = None
    phone: str | None = None
    sms_hours: str = "00:00-00:00"
    language: Literal["nb", "en"] = "nb"

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        email = normalise_email(value)
        if email is None:
            raise ValueError("not an email address")
        return email

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        phone = normalise_phone(value)
        if phone is None:
            raise ValueError("not a phone number")
        return phone

    @field_validator("sms_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        parse_hours(value)
        return value

    @property
    def sms_window(self) -> Window:
        return parse_hours(self.sms_hours)

    def target(self, role: str | None) -> Target:
        """The member as someone to tell, in the role a route reaches them in."""
        return Target(
            "staff", self.name, self.language, self.email, self.phone, role, self.sms_window
        )


class StaffDirectory(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    staff: tuple[StaffMember, ...] = ()

    def with_role(self, role: str) -> list[StaffMember]:
        return [member for member in self.staff if role in member.roles]


def load_staff(path: Path) -> StaffDirectory:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"STAFF_DIRECTORY {path.name}: {type(exc).__name__}: {exc}") from exc
    return StaffDirectory.model_validate(raw)
