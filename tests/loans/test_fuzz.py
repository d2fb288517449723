"""A bounded fuzz run of the loans OpenAPI (schemathesis) against a real process: no 5xx."""

from __future__ import annotations

from pathlib import Path

import schemathesis

from tests.support.apps import STAFF_TOKENS
from tests.support.databases import sqlite_url
from tests.support.fuzz import fuzz_operations, operations_of
from tests.support.processes import service_process

EXAMPLES = 15


def test_openapi_fuzz_has_no_server_errors(
    redis_url: str, sync_prefix: str, tmp_path: Path
) -> None:
    env = {
        "REDIS_URL": redis_url,
        "STREAM_PREFIX": sync_prefix,
        "LOANS_DATABASE_URL": sqlite_url(tmp_path),
        "STAFF_TOKENS": STAFF_TOKENS,
    }
    with service_process("loans", env, tmp_path) as proc:
        schema = schemathesis.openapi.from_url(f"{proc.url}/openapi.json")
        operations = operations_of(schema)
        assert len(operations) >= 14

        def call(case: schemathesis.Case, _: None) -> schemathesis.Response:
            # Half the cases as desk staff, so the staff-only rules are reached too.
            headers = {"Authorization": "Bearer td"} if len(repr(case.body)) % 2 else {}
            return case.call(base_url=proc.url, headers=headers, timeout=10)

        server_errors = fuzz_operations(operations, call, examples=EXAMPLES).failures
        assert server_errors == [], server_errors
        assert proc.alive
