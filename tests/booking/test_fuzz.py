"""Fuzz the booking service's OpenAPI (schemathesis, in-process over ASGI with the lifespan
running), with and without staff credentials: whatever arrives, never a 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

from services.booking.app import SPEC
from tests.support.apps import STAFF_TOKENS
from tests.support.fuzz import fuzz_operations, in_process_schema, operations_of

EXAMPLES = 15


def test_no_5xx_anywhere(sync_database_url: str, sync_prefix: str) -> None:
    def call(case: schemathesis.Case, as_staff: bool) -> schemathesis.Response:
        if as_staff:  # past the access checks, into the rules
            case.headers = {**(case.headers or {}), "Authorization": "Bearer tb"}
        return case.call()

    with in_process_schema(
        SPEC, database_url=sync_database_url, prefix=sync_prefix, staff_tokens=STAFF_TOKENS
    ) as schema:
        run = fuzz_operations(operations_of(schema), call, examples=EXAMPLES, extra=st.booleans())
    assert run.calls > 100
    assert not run.failures, "\n".join(run.failures[:10])
