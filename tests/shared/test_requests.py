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
        Named(name="x", surprise=1)  # type: ignore[call-arg]  # an unknown field on purpose


async def test_nul_in_a_path_or_query_is_a_422_not_a_database_error(
    database_url: str, redis_url: str, prefix: str
) -> None:
    from services.booking.app import SPEC
    from tests.support.apps import staffed_service

    async with staffed_service(
        SPEC, database_url=database_url, redis_url=redis_url, prefix=prefix
    ) as service:
        for path in ("/bookings/a%00b", "/resources?kind=x%00", "/activities?from=%00"):
            response = await service.client.get(path, headers={"Authorization": "Bearer tb"})
            assert response.status_code == 422, (path, response.text)
            assert "NUL" in response.json()["detail"]
        plain = await service.client.get("/resources")
        assert plain.status_code == 200
        # The edge's other work: the caller's correlation id echoed, else a new one.
        assert len(plain.headers["x-correlation-id"]) == 36
        given = await service.client.get("/resources", headers={"X-Correlation-ID": "kp-1"})
        assert given.headers["x-correlation-id"] == "kp-1"
