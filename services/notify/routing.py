"""The routing table (routes.yaml, or NOTIFY_ROUTES): event type -> recipients, channels,
template. Loaded and checked once at start; a table that names an unknown event, field,
role or template fails the start, not the first message."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.notify.domain import Channel
from shared.events import CATALOG, EventData

_expressions = SandboxedEnvironment()
STAFF_ROLES = ("booking", "desk", "cafe", "admin")


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    to: str = Field(min_length=1)
    role: str | None = None
    role_from: str | None = None
    channels: tuple[Channel, ...] = Field(min_length=1)
    template: str = Field(min_length=1)
    when: str | None = None
    urgent: bool = False
    reminder: bool = False
    ics: Literal["publish", "cancel"] | None = None

    @field_validator("when")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            _expressions.compile_expression(value)
        return value

    @property
    def to_staff(self) -> bool:
        return self.to == "staff"

    def staff_role(self, data: EventData) -> str | None:
        named = getattr(data, self.role_from, None) if self.role_from else None
        return named if named in STAFF_ROLES else self.role

    def applies(self, data: EventData) -> bool:
        if self.when is None:
            return True
        context = data.model_dump()
        return bool(_expressions.compile_expression(self.when)(**context))


class RoutingTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1)
    routes: dict[str, tuple[Route, ...] | Literal["silent"]]

    def for_event(self, event_type: str) -> tuple[Route, ...]:
        routes = self.routes.get(event_type)
        if routes is None:
            raise KeyError(f"no route for {event_type}: add it to the routing table")
        return () if routes == "silent" else routes

    def templates(self) -> set[str]:
        return {
            route.template
            for routes in self.routes.values()
            if routes != "silent"
            for route in routes
        }

    def check(self, known_templates: set[str]) -> None:
        """Every catalog event routed or silent; every route pointing at something real."""
        problems: list[str] = []
        missing = sorted(set(CATALOG) - set(self.routes))
        if missing:
            problems.append(f"no route (or 'silent') for {', '.join(missing)}")
        for event_type, routes in self.routes.items():
            cls = CATALOG.get(event_type)
            if cls is None:
                problems.append(f"{event_type} is not in the event catalog")
                continue
            if routes == "silent":
                continue
            for route in routes:
                if route.to_staff:
                    if route.role not in STAFF_ROLES:
                        problems.append(f"{event_type}: staff route needs a role")
                    if route.role_from and route.role_from not in cls.model_fields:
                        problems.append(f"{event_type}: no field {route.role_from!r}")
                elif route.to not in cls.model_fields:
                    problems.append(f"{event_type}: no field {route.to!r} to send to")
                if route.template not in known_templates:
                    problems.append(f"{event_type}: no template {route.template!r}")
        if problems:
            raise ValueError("routing table: " + "; ".join(problems))


def load_routes(path: Path) -> RoutingTable:
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"NOTIFY_ROUTES {path.name}: {type(exc).__name__}: {exc}") from exc
    return RoutingTable.model_validate(raw)
