"""Fuzz the OpenAPI of the catering service (schemathesis, in-process over ASGI with the
lifespan running): whatever arrives, the answer is never a 5xx."""

from __future__ import annotations

import schemathesis

from services.catering.app import SPEC
from tests.support.apps import STAFF_TOKENS
from tests.support.fuzz import fuzz_operations, in_process_schema, operations_of

EXAMPLES = 15


def test_no_5xx_anywhere(sync_database_url: str, sync_prefix: str) -> None:
    def call(case: schemathesis.Case, _: None) -> schemathesis.Response:
        # Staff credentials, so that the fuzzing reaches past the access check.
        case.headers = {**(case.headers or {}), "Authorization": "Bearer tc"}
        return case.call()

    with in_process_schema(
        SPEC, database_url=sync_database_url, prefix=sync_prefix, staff_tokens=STAFF_TOKENS
    ) as schema:
        run = fuzz_operations(operations_of(schema), call, examples=EXAMPLES)
    assert not run.failures, "\n".join(run.failures[:10])
