"""The record of processing (docs/privacy-inventory.yaml, docs/privacy.md) covers every
column of every service's tables and every field of every event: a new one fails here until
it is classified, and one that reads as personal needs a reason to be called anything else."""

from __future__ import annotations

import copy
import importlib
from pathlib import Path

import pytest
from pydantic import BaseModel, create_model
from sqlalchemy import Column, MetaData, String, Table, Text

from shared import privacy
from shared.events import CATALOG, BookingRequested

SERVICES = ("booking", "loans", "catering", "notify")
PRIVACY_MD = Path(privacy.INVENTORY).with_name("privacy.md")


def metadata_of(service: str) -> MetaData:
    return importlib.import_module(f"services.{service}.models").metadata


@pytest.mark.parametrize("service", SERVICES)
def test_every_column_of_the_service_is_classified(service: str) -> None:
    findings = privacy.check_tables(service, metadata_of(service))
    assert not findings, "\n".join(map(str, findings))


def test_every_field_of_every_event_is_classified() -> None:
    findings = privacy.check_events(CATALOG)
    assert not findings, "\n".join(map(str, findings))


def test_every_kind_of_processing_says_why_on_what_basis_and_how_long() -> None:
    inventory = privacy.load()
    assert not privacy.check_kinds(inventory)
    assert {"booking", "registration", "loan", "order", "delivery"} <= set(inventory["kinds"])


def copied(metadata: MetaData) -> MetaData:
    twin = MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(twin)
    return twin


def test_a_new_personal_column_fails_until_it_is_listed() -> None:
    twin = copied(metadata_of("booking"))
    assert not privacy.check_tables("booking", twin)
    twin.tables["bookings"].append_column(Column("guardian_phone", String(32)))
    twin.tables["registrations"].append_column(Column("allergy_note", Text))
    findings = [str(f) for f in privacy.check_tables("booking", twin)]
    assert findings == [
        "table booking.bookings.guardian_phone: not classified",
        "table booking.registrations.allergy_note: not classified",
    ]

    # Listing it as not personal without a reason is not enough either.
    inventory = copy.deepcopy(privacy.load())
    inventory["tables"]["booking"]["bookings"]["not_personal"].append("guardian_phone")
    inventory["tables"]["booking"]["registrations"]["personal"]["allergy_note"] = "registration"
    findings = [str(f) for f in privacy.check_tables("booking", twin, inventory)]
    assert findings == [
        "table booking.bookings.guardian_phone: reads as personal: classify it personal, "
        "or say why it is not"
    ]


def test_a_new_table_fails_until_it_is_listed() -> None:
    twin = copied(metadata_of("notify"))
    Table("sms_replies", twin, Column("id", String(36), primary_key=True))
    findings = [str(f) for f in privacy.check_tables("notify", twin)]
    assert findings == ["table notify.sms_replies: not in the inventory"]


def test_a_new_personal_event_field_fails_until_it_is_listed() -> None:
    grown: type[BaseModel] = create_model(
        "BookingRequested", __base__=BookingRequested, contact_person_email=(str | None, None)
    )
    catalog: dict[str, type[BaseModel]] = {**CATALOG, "BookingRequested": grown}
    findings = [str(f) for f in privacy.check_events(catalog)]
    assert findings == ["event BookingRequested.contact_person_email: not classified"]


def test_nested_contacts_are_walked_as_dotted_paths() -> None:
    fields = list(privacy.event_fields(CATALOG["BookingConfirmed"]))
    assert {"booker.name", "booker.email", "booker.phone", "participants.phone"} <= set(fields)
    assert "catering.note" in fields and "booker" not in fields


def test_the_readable_record_names_every_table_and_event_holding_personal_data() -> None:
    text = PRIVACY_MD.read_text(encoding="utf-8")
    inventory = privacy.load()
    missing = [
        f"{service}.{table}"
        for service, tables in inventory["tables"].items()
        for table, entry in tables.items()
        if entry.get("personal") and f"`{table}`" not in text
    ] + [
        name
        for name, entry in inventory["events"].items()
        if entry.get("personal") and f"`{name}`" not in text
    ]
    assert not missing, f"docs/privacy.md does not name {missing}"
    assert all(
        f"`{kind['setting']}`" in text
        for kind in inventory["kinds"].values()
        if kind.get("setting")
    )
