import pytest
from pydantic import ValidationError

from shared.requests import RequestModel


class Named(RequestModel):
    name: str
    note: str | None = None


def test_nul_in_text_is_refused_with_the_reason() -> None:
    with pytest.raises(ValidationError, match="NUL"):
        Named(name="a\x00b")


def test_unknown_fields_are_refused_and_text_is_stripped() -> None:
    assert Named(name="  Møterom 1 ").name == "Møterom 1"
    with pytest.raises(ValidationError, match="extra"):
        Named(name="x", surprise=1)  # type: ignore[call-arg]
