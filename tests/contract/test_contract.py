"""The event contract: generated docs are current, and published schemas only evolve
compatibly unless their version changes."""

from __future__ import annotations

import json
from typing import Literal

import pytest
import yaml
from pydantic import BaseModel

from knutepunkt import contract, docs
from shared.events import CATALOG

DOCS = docs.DOCS


def test_committed_asyncapi_is_current() -> None:
    committed = (DOCS / "asyncapi.yaml").read_text()
    assert committed == docs.render_asyncapi(), "docs/asyncapi.yaml is stale: run `make docs`"


def test_asyncapi_names_every_event_on_its_channel() -> None:
    document = yaml.safe_load(docs.render_asyncapi())
    assert document["asyncapi"].startswith("3.")
    for name, cls in CATALOG.items():
        assert name in document["channels"][cls.stream]["messages"]
        assert name in document["components"]["schemas"]


def test_code_keeps_the_published_contract() -> None:
    problems = contract.check(contract.load_snapshot())
    assert not problems, "\n".join(problems)


def test_committed_snapshot_records_every_current_schema() -> None:
    committed = (DOCS / "event-schemas.json").read_text()
    assert committed == docs.render_snapshot(), "docs/event-schemas.json is stale: `make docs`"


def test_events_doc_describes_every_event() -> None:
    text = (DOCS / "events.md").read_text()
    missing = [name for name in CATALOG if f"`{name}`" not in text]
    assert not missing, f"docs/events.md does not describe {missing}"


class V1(BaseModel):
    booking_id: str
    start: str
    note: str | None = None
    kind: Literal["a", "b"] = "a"


class AddedOptional(V1):
    extra: int | None = None


class Removed(BaseModel):
    booking_id: str
    note: str | None = None
    kind: Literal["a", "b"] = "a"


class Retyped(BaseModel):
    booking_id: int
    start: str
    note: str | None = None
    kind: Literal["a", "b"] = "a"


class NewRequired(V1):
    must: str


class NarrowedEnum(BaseModel):
    booking_id: str
    start: str
    note: str | None = None
    kind: Literal["a"] = "a"


def test_a_new_optional_field_is_compatible() -> None:
    assert (
        contract.breaking_changes(V1.model_json_schema(), AddedOptional.model_json_schema()) == []
    )


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (Removed, "start was removed"),
        (Retyped, "booking_id changed type"),
        (NewRequired, "must is newly required"),
        (NarrowedEnum, "kind changed enum"),
    ],
)
def test_breaking_changes_are_caught(model: type[BaseModel], expected: str) -> None:
    problems = contract.breaking_changes(V1.model_json_schema(), model.model_json_schema())
    assert any(expected in p for p in problems), problems


def test_a_breaking_change_without_a_new_version_fails_the_check() -> None:
    snapshot = json.loads((DOCS / "event-schemas.json").read_text())
    name = "BookingConfirmed"
    version = str(CATALOG[name].version)
    schema = snapshot[name]["versions"][version]
    schema["properties"]["legacy_field"] = {"type": "string"}  # published, now gone from code
    problems = contract.check(snapshot)
    assert any("legacy_field was removed" in p for p in problems)
    with pytest.raises(ValueError, match="breaking"):
        contract.updated_snapshot(snapshot)


def test_committed_openapi_documents_are_current() -> None:
    for service, text in docs.openapi_documents().items():
        committed = (DOCS / "openapi" / f"{service}.json").read_text()
        assert committed == text, f"docs/openapi/{service}.json is stale: run `make docs`"
