"""Schemathesis fuzzing shared by the service suites: every operation of a schema gets a
bounded number of generated cases, and each answer of 500 or more is collected."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.python import asgi

from shared.service import ServiceSpec, create_app
from shared.settings import load_settings
from tests.conftest import REDIS_URL


@dataclass
class FuzzRun:
    calls: int = 0
    failures: list[str] = field(default_factory=list)


def operations_of(schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    return [result.ok() for result in schema.get_all_operations()]


def fuzz_operations(
    operations: Iterable[schemathesis.APIOperation],
    call: Callable[[schemathesis.Case, Any], schemathesis.Response],
    *,
    examples: int,
    extra: st.SearchStrategy[Any] | None = None,
) -> FuzzRun:
    """Calls `call(case, drawn)` for generated cases of each operation, where `drawn` comes
    from `extra` (None when there is none); returns the count and the 5xx answers."""
    run = FuzzRun()
    drawn_from = st.none() if extra is None else extra
    for operation in operations:

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), drawn=drawn_from)
        def fuzz(case: schemathesis.Case, drawn: Any) -> None:
            response = call(case, drawn)
            run.calls += 1
            if response.status_code >= 500:
                run.failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]} (body {case.body!r:.300})"
                )

        fuzz()
    return run


@contextlib.contextmanager
def in_process_schema(
    spec: ServiceSpec, *, database_url: str, prefix: str, staff_tokens: str
) -> Iterator[schemathesis.BaseSchema]:
    """The service's OpenAPI schema, called over ASGI with the app's lifespan running."""
    app = create_app(
        spec,
        load_settings(
            spec.name,
            database_url=database_url,
            redis_url=REDIS_URL,
            stream_prefix=prefix,
            staff_tokens=staff_tokens,
            outbox_poll_seconds=0.2,
            consumer_block_ms=200,
        ),
    )
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    finally:
        asgi.shutdown_lifespans()
