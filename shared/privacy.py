"""The record of processing, machine-readable: docs/privacy-inventory.yaml classifies every
column of every service's tables and every field of every event as personal (with the kind
of processing it belongs to: purpose, legal basis, retention) or not. docs/privacy.md is
its readable side.

The rule the contract test enforces: nothing is stored or published unclassified. A new
column or event field fails the test until someone decides, in the inventory, whether it
is personal; a field whose name reads as personal (a name, a contact, free text about a
person) may be classified as not personal only with a reason written beside it.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from sqlalchemy import MetaData

INVENTORY = Path(__file__).resolve().parent.parent / "docs" / "privacy-inventory.yaml"

# Names that read as a person's data: a name, a contact, an address, free text that may be
# about a person. Matched against the last part of a column or field name.
PERSONAL_LOOKING = re.compile(
    r"(^|_)(name|email|phone|contact|recipient|booker|borrower|customer|participants?|"
    r"affected_borrowers|note|notes|description|reason|body|body_text|body_html|subject|"
    r"address|payload|ics|preferences_url|detail|label|title|author)$"
)


@dataclass(frozen=True)
class Finding:
    where: str  # "table booking.bookings.booker_name" or "event BookingRequested.booker.name"
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


def load(path: Path = INVENTORY) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def table_columns(metadata: MetaData) -> Iterator[tuple[str, str]]:
    """(table, column) for every column of a service's metadata."""
    for table in metadata.sorted_tables:
        for column in table.columns:
            yield table.name, column.name


def event_fields(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Every field of an event's data, nested models' fields as dotted paths
    (`booker.name`, `participants.email`, `loans.item_label`)."""
    for name, info in model.model_fields.items():
        path = prefix + name
        nested = _nested_model(info.annotation)
        if nested is None:
            yield path
        else:
            yield from event_fields(nested, path + ".")


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _nested_model(arg)
            if found is not None:
                return found
    return None


def looks_personal(field: str) -> bool:
    return bool(PERSONAL_LOOKING.search(field.rsplit(".", 1)[-1]))


def check_entry(
    where: str, fields: list[str], entry: Mapping[str, Any] | None, kinds: Mapping[str, Any]
) -> list[Finding]:
    """What is wrong with one table's or event's classification of its fields."""
    if entry is None:
        return [Finding(where, "not in the inventory")]
    personal: Mapping[str, str] = entry.get("personal") or {}
    other = _reasons(entry.get("not_personal") or [])
    findings: list[Finding] = []
    for field in fields:
        if field in personal:
            if personal[field] not in kinds:
                findings.append(Finding(f"{where}.{field}", f"unknown kind {personal[field]!r}"))
        elif field in other:
            if looks_personal(field) and not other[field]:
                findings.append(
                    Finding(
                        f"{where}.{field}",
                        "reads as personal: classify it personal, or say why it is not",
                    )
                )
        else:
            findings.append(Finding(f"{where}.{field}", "not classified"))
    for gone in sorted((set(personal) | set(other)) - set(fields)):
        findings.append(Finding(f"{where}.{gone}", "classified but does not exist"))
    return findings


def _reasons(listed: list[str | dict[str, str]]) -> dict[str, str | None]:
    """`not_personal` lists plain names, or `{name: why not}` for a name that reads as
    personal."""
    reasons: dict[str, str | None] = {}
    for item in listed:
        if isinstance(item, str):
            reasons[item] = None
        else:
            reasons.update(item)
    return reasons


def check_tables(
    service: str, metadata: MetaData, inventory: Mapping[str, Any] | None = None
) -> list[Finding]:
    inventory = inventory or load()
    tables: Mapping[str, Any] = (inventory.get("tables") or {}).get(service) or {}
    kinds = inventory.get("kinds") or {}
    columns: dict[str, list[str]] = {}
    for table, column in table_columns(metadata):
        columns.setdefault(table, []).append(column)
    findings: list[Finding] = []
    for table, names in columns.items():
        findings += check_entry(f"table {service}.{table}", names, tables.get(table), kinds)
    for gone in sorted(set(tables) - set(columns)):
        findings.append(Finding(f"table {service}.{gone}", "listed but does not exist"))
    return findings


def check_events(
    catalog: Mapping[str, type[BaseModel]], inventory: Mapping[str, Any] | None = None
) -> list[Finding]:
    inventory = inventory or load()
    events: Mapping[str, Any] = inventory.get("events") or {}
    kinds = inventory.get("kinds") or {}
    findings: list[Finding] = []
    for name, model in catalog.items():
        findings += check_entry(f"event {name}", list(event_fields(model)), events.get(name), kinds)
    for gone in sorted(set(events) - set(catalog)):
        findings.append(Finding(f"event {gone}", "listed but does not exist"))
    return findings


def check_kinds(inventory: Mapping[str, Any] | None = None) -> list[Finding]:
    """Every kind of processing says why, on what basis, and for how long."""
    inventory = inventory or load()
    findings = []
    for name, kind in (inventory.get("kinds") or {}).items():
        for needed in ("purpose", "basis", "retention"):
            if not (kind or {}).get(needed):
                findings.append(Finding(f"kind {name}", f"has no {needed}"))
    return findings
