"""Who is told what: the routing table (routes.yaml, or NOTIFY_ROUTES) and its reading for
one event: recipients × channels, each message rendered, with the hours it may go out in.

The table maps an event type to recipients, channels and a template; it is loaded and
checked once at start, so a table that names an unknown event, field, role or template fails
the start, not the first message. Planning is pure: `now` and the preferences are passed in.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from jinja2.environment import TemplateExpression
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.notify.domain import (
    Channel,
    Preference,
    Status,
    Target,
    Window,
    invalid_address_key,
    not_before,
    opted_out,
    preference_token,
    send_hours,
)
from services.notify.rendering import Renderer, booking_invitation, hub_name
from services.notify.staff import StaffDirectory
from shared.action_links import Action, ActionLinks
from shared.events import CATALOG, Contact, Envelope, EventData
from shared.manage_links import PREFERENCES_PATH, ManageLinks
from shared.roles import Role

_expressions = SandboxedEnvironment()


@functools.lru_cache(maxsize=256)
def _expression(source: str) -> TemplateExpression:
    # Compiled once per condition of the table: compiling one (Jinja2 parses and builds
    # Python code) cost a quarter of a consumed event's handling.
    return _expressions.compile_expression(source)


STAFF_ROLES = frozenset(role.value for role in Role)


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
    # One-click links for staff (shared/action_links.py), in this order; the SMS gets the first.
    actions: tuple[Action, ...] = ()

    @field_validator("when")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            _expression(value)
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
        return bool(_expression(self.when)(**context))


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
                if route.actions and not route.to_staff:
                    problems.append(f"{event_type}: one-click links are for staff only")
                for action in route.actions:
                    if action.item_field not in cls.model_fields:
                        field = action.item_field
                        problems.append(f"{event_type}: no field {field!r} for {action}")
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


@dataclass(frozen=True)
class FanoutRules:
    """Everything planning reads besides the event: loaded once at start."""

    routes: RoutingTable
    staff: StaffDirectory
    renderer: Renderer
    quiet_hours: Window
    preference_key: bytes
    # One-click links in staff messages: off unless both the secret and the desk's address
    # are set.
    action_links: ActionLinks | None = None
    web_url: str | None = None
    link_lifetime: timedelta = timedelta(hours=72)
    # Manage links in bookers' messages: off unless the secret and the web address are set.
    manage_links: ManageLinks | None = None


@dataclass
class Planned:
    """One delivery as planned: whom, how, what it says, and when it may go out."""

    channel: Channel
    recipient: str
    target: Target
    route: Route
    status: Status  # queued | failed | suppressed
    next_attempt_at: datetime
    send_hours: Window | None = None
    subject: str | None = None
    text: str = ""
    html: str | None = None
    ics: bytes | None = None
    preferences_url: str | None = None
    preference_token: str | None = None
    reason: str | None = None


def targets(route: Route, data: EventData, staff: StaffDirectory) -> list[Target]:
    if route.to_staff:
        role = route.staff_role(data)
        return [member.target(role) for member in staff.with_role(role or "")]
    value = getattr(data, route.to, None)
    contacts = value if isinstance(value, list) else [value] if value is not None else []
    return [person(c) for c in contacts if isinstance(c, Contact)]


def person(contact: Contact) -> Target:
    return Target("person", contact.name, contact.language, contact.email, contact.phone)


def plan(
    envelope: Envelope,
    data: EventData,
    rules: FanoutRules,
    preferences: dict[str, Preference],
    now: datetime,
) -> list[Planned]:
    """Every delivery this event asks for, once per (address, channel)."""
    out: dict[tuple[str, Channel], Planned] = {}
    invitations: dict[str, bytes] = {}
    for route in rules.routes.for_event(envelope.type):
        if not route.applies(data):
            continue
        for target in targets(route, data, rules.staff):
            for channel in route.channels:
                planned = _one(route, channel, target, data, rules, preferences, now, invitations)
                if planned is not None:
                    out.setdefault((planned.recipient, channel), planned)
    return list(out.values())


def _one(
    route: Route,
    channel: Channel,
    target: Target,
    data: EventData,
    rules: FanoutRules,
    preferences: dict[str, Preference],
    now: datetime,
    invitations: dict[str, bytes],
) -> Planned | None:
    """`invitations`: the event's .ics by method, made for its first email and attached
    as it is to the others (the same booking for every recipient)."""
    raw = target.email if channel == "email" else target.phone
    if not raw:
        return None  # nobody to reach on this channel
    address = target.email_address if channel == "email" else target.phone_number
    if address is None:
        what = "email address" if channel == "email" else "phone number"
        key = invalid_address_key(raw)
        return Planned(channel, key, target, route, "failed", now, reason=f"invalid {what}")
    hours = send_hours(target, channel, route.urgent, rules.quiet_hours)
    planned = Planned(channel, address, target, route, "queued", not_before(now, hours), hours)
    if opted_out(channel, route.reminder, target, preferences):
        planned.status, planned.reason = "suppressed", "recipient opted out"
    token = preferences_url = None
    if rules.web_url and target.kind == "person" and channel == "email":
        # A page on the web front, named by the token alone: no address in a URL.
        token = preference_token(rules.preference_key, address)
        preferences_url = f"{rules.web_url}{PREFERENCES_PATH}{token}"
    rendered = rules.renderer.render(
        route.template,
        channel,
        data,
        language=target.language,
        name=target.name,
        preferences_url=preferences_url,
        links=action_links(route, data, rules, now),
        manage_url=manage_url(route, data, rules),
    )
    planned.subject, planned.text, planned.html = rendered.subject, rendered.text, rendered.html
    planned.preferences_url, planned.preference_token = preferences_url, token
    if channel == "email" and route.ics:
        if route.ics not in invitations:
            invitations[route.ics] = booking_invitation(data, route.ics, hub_name(data), now)
        planned.ics = invitations[route.ics]
    return planned


# Whose key a manage link is, by the route's recipient: the field naming the one thing
# and the kind of link (shared/manage_links.py). Nobody else gets one: a booking's
# participants and staff hold no key to it.
_MANAGED = {
    "booker": ("booking_id", "booking"),
    "participant": ("registration_id", "registration"),
    "customer": ("order_id", "order"),
}


def manage_url(route: Route, data: EventData, rules: FanoutRules) -> str | None:
    """The owner's manage link (shared/manage_links.py) in messages to the booker about one
    booking, to a participant about their sign-up, to a customer about their café order: the
    page to see it (and cancel it, before its deadline)."""
    managed = _MANAGED.get(route.to)
    if managed is None or not (rules.manage_links and rules.web_url):
        return None
    field, kind = managed
    item_id = getattr(data, field, None)
    if not item_id:
        return None
    return rules.manage_links.url(rules.web_url, kind, str(item_id))


def action_links(
    route: Route, data: EventData, rules: FanoutRules, now: datetime
) -> dict[str, str]:
    """The route's one-click links for this event, by action. Every recipient of the event
    gets the same link (one expiry, from the planning's `now`), so one use spends it for all:
    the thing is done, whoever did it."""
    if not (route.actions and rules.action_links and rules.web_url):
        return {}
    expires = now + rules.link_lifetime
    return {
        action.value: rules.action_links.url(
            rules.web_url, action, str(getattr(data, action.item_field)), expires
        )
        for action in route.actions
    }


def all_addresses(envelope: Envelope, data: EventData, rules: FanoutRules) -> set[str]:
    """Every address this event could reach: the preferences to load before planning."""
    found: set[str] = set()
    for route in rules.routes.for_event(envelope.type):
        for target in targets(route, data, rules.staff):
            found.update(target.addresses())
    return found
