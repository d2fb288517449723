"""A bounded fuzz run of the loans OpenAPI (schemathesis) against a real process: no 5xx."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.loans.support import TOKENS
from tests.support.databases import sqlite_url
from tests.support.processes import service_process

EXAMPLES = 15


def test_openapi_fuzz_has_no_server_errors(redis_url: str, tmp_path: Path) -> None:
    env = {
        "REDIS_URL": redis_url,
        "STREAM_PREFIX": f"fuzz-{tmp_path.name}:",
        "LOANS_DATABASE_URL": sqlite_url(tmp_path),
        "STAFF_TOKENS": TOKENS,
    }
    with service_process("loans", env, tmp_path) as proc:
        schema = schemathesis.openapi.from_url(f"{proc.url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 14
        server_errors: list[str] = []
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: schemathesis.Case) -> None:
                # Half the cases as desk staff, so the staff-only rules are reached too.
                headers = {"Authorization": "Bearer td"} if len(repr(case.body)) % 2 else {}
                response = case.call(base_url=proc.url, headers=headers, timeout=10)
                if response.status_code >= 500:
                    server_errors.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code}"
                    )

            run()
        assert server_errors == [], server_errors
        assert proc.alive
