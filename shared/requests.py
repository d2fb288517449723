"""The base of every request body: strict about unknown fields, and about text that a
database cannot store."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator


class NoNulText(BaseModel):
    """Text fields refuse NUL; for bodies that must tolerate unknown fields (a gateway's)."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # PostgreSQL text cannot hold NUL: refuse it with a 422 rather than fail with a 500.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        return value


class RequestModel(NoNulText):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
