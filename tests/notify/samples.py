"""A valid instance of any catalog event, built from its model's fields, so that a new
event type is covered by the catalog tests without anyone writing a sample for it."""

from __future__ import annotations

import types
import typing
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel

from shared.events import CATALOG, Contact, EventData

# Tuesday 5 May 2026, 10:00 in Oslo.
WHEN = datetime(2026, 5, 5, 8, 0, tzinfo=UTC)

PERSON = {
    "nb": Contact(name="Kari Nordmann", email="kari@example.org", phone="+4700000010"),
    "en": Contact(name="Sam Smith", email="sam@example.org", phone="+4700000011", language="en"),
}
# A few fields read better with real-looking values than with a generic placeholder.
_NAMED: dict[str, Any] = {
    "hub": "stromso",
    "resource_name": "Møterom 1",
    "item_label": "PC 3",
    "title": "Styremøte i Strømsø velforening",
    "organisation_name": "Strømsø velforening",
    "reason": "Rommet er opptatt",
    "name": "Kaffe og rundstykker",
    "escalate_to_role": "desk",
}


def sample(event_type: str, language: str = "nb", **overrides: Any) -> EventData:
    cls = CATALOG[event_type]
    values = {name: _value(name, f.annotation, language) for name, f in cls.model_fields.items()}
    values.update(overrides)
    return cls.model_validate(values)


def _value(name: str, annotation: Any, language: str) -> Any:
    if name in _NAMED:
        return _NAMED[name]
    if name == "end":
        return WHEN + timedelta(hours=2)
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _value(name, inner[0], language)
    if origin is Literal:
        return args[0]
    if origin is list and args[0] is Contact:
        # Someone other than the event's main person, so both are reached.
        return [Contact(name="Ola Deltaker", email="ola@example.org", phone="+4700000012",
                        language=language).model_dump()]  # fmt: skip
    if origin is list:
        return [_value(name, args[0], language)]
    if annotation is Contact:
        return PERSON[language].model_dump()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {n: _value(n, f.annotation, language) for n, f in annotation.model_fields.items()}
    if annotation is bool:
        return True
    if annotation is int:
        return 2
    if annotation is str:
        return f"{name}-1"
    if annotation is date:  # a calendar day (Oslo's), e.g. CafeDayAffected.day
        return WHEN.date()
    if annotation is datetime or "datetime" in str(annotation).lower():
        return WHEN
    raise TypeError(f"no sample value for {name}: {annotation!r}")
