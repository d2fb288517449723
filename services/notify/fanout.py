"""From one event to its deliveries: route, recipients, channels, rendered texts, and
when each may go out (quiet hours, staff SMS hours). Pure: `now` and the preferences are
passed in."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

from services.notify.domain import (
    Channel,
    Window,
    next_inside,
    next_outside,
    normalise_email,
    normalise_phone,
)
from services.notify.invitation import booking_invitation
from services.notify.rendering import HUB_NAMES, Renderer
from services.notify.routing import Route, RoutingTable
from services.notify.staff import StaffDirectory
from shared.events import Contact, Envelope, EventData


@dataclass(frozen=True)
class Preference:
    email: bool = True
    sms: bool = True
    reminders: bool = True


@dataclass(frozen=True)
class Target:
    """Someone to tell, with every address they have (a person's preferences hold for
    all of them: opting out of SMS from an email link stops SMS to their phone too)."""

    kind: str  # person | staff
    name: str
    language: str
    email: str | None
    phone: str | None
    role: str | None = None
    sms_window: Window | None = None


@dataclass
class Planned:
    channel: Channel
    recipient: str
    target: Target
    route: Route
    status: str  # queued | failed | suppressed
    next_attempt_at: datetime
    subject: str | None = None
    text: str = ""
    html: str | None = None
    ics: bytes | None = None
    preferences_url: str | None = None
    reason: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class FanoutRules:
    routes: RoutingTable
    staff: StaffDirectory
    renderer: Renderer
    quiet_hours: Window
    public_url: str | None
    preference_key: bytes


def preference_token(key: bytes, address: str) -> str:
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()[:32]


def targets(route: Route, data: EventData, staff: StaffDirectory) -> list[Target]:
    if route.to_staff:
        role = route.staff_role(data)
        return [
            Target("staff", m.name, m.language, m.email, m.phone, role, m.sms_window)
            for m in staff.with_role(role or "")
        ]
    value = getattr(data, route.to, None)
    contacts = value if isinstance(value, list) else [value] if value is not None else []
    return [
        Target("person", c.name, c.language, c.email, c.phone)
        for c in contacts
        if isinstance(c, Contact)
    ]


def addresses(target: Target) -> list[str]:
    found = [normalise_email(target.email), normalise_phone(target.phone)]
    return [a for a in found if a]


def plan(
    envelope: Envelope,
    data: EventData,
    rules: FanoutRules,
    preferences: dict[str, Preference],
    now: datetime,
) -> list[Planned]:
    """Every delivery this event asks for, once per (address, channel)."""
    out: dict[tuple[str, Channel], Planned] = {}
    for route in rules.routes.for_event(envelope.type):
        if not route.applies(data):
            continue
        for target in targets(route, data, rules.staff):
            for channel in route.channels:
                planned = _one(route, channel, target, data, rules, preferences, now)
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
) -> Planned | None:
    raw = target.email if channel == "email" else target.phone
    if not raw:
        return None  # nobody to reach on this channel
    address = normalise_email(raw) if channel == "email" else normalise_phone(raw)
    if address is None:
        what = "email address" if channel == "email" else "phone number"
        # Kept under a digest, not the raw text: the row must be unique, not readable.
        key = "invalid:" + hashlib.sha256(raw.encode()).hexdigest()[:16]
        return Planned(channel, key, target, route, "failed", now, reason=f"invalid {what}")
    planned = Planned(channel, address, target, route, "queued", now)
    if _opted_out(channel, route, target, preferences):
        planned.status, planned.reason = "suppressed", "recipient opted out"
    preferences_url = None
    if rules.public_url and target.kind == "person" and channel == "email":
        token = preference_token(rules.preference_key, address)
        preferences_url = (
            f"{rules.public_url.rstrip('/')}/preferences/{quote(address)}?token={token}"
        )
    rendered = rules.renderer.render(
        route.template,
        channel,
        data,
        language=target.language,
        name=target.name,
        preferences_url=preferences_url,
    )
    planned.subject, planned.text, planned.html = rendered.subject, rendered.text, rendered.html
    planned.preferences_url = preferences_url
    if channel == "email" and route.ics:
        hub_name = HUB_NAMES.get(str(getattr(data, "hub", "")), "Knutepunkt")
        planned.ics = booking_invitation(data, route.ics, hub_name, now)
    if channel == "sms":
        planned.next_attempt_at = sms_not_before(target, route.urgent, rules.quiet_hours, now)
    return planned


def sms_not_before(target: Target, urgent: bool, quiet: Window, at: datetime) -> datetime:
    """Staff get SMS inside their own hours; citizens not in quiet hours unless urgent."""
    if target.kind == "staff" and target.sms_window is not None:
        return next_inside(at, target.sms_window)
    if target.kind == "person" and not urgent:
        return next_outside(at, quiet)
    return at


def _opted_out(
    channel: Channel, route: Route, target: Target, preferences: dict[str, Preference]
) -> bool:
    for address in addresses(target):
        pref = preferences.get(address)
        if pref is None:
            continue
        if (channel == "email" and not pref.email) or (channel == "sms" and not pref.sms):
            return True
        if route.reminder and not pref.reminders:
            return True
    return False


def all_addresses(envelope: Envelope, data: EventData, rules: FanoutRules) -> set[str]:
    """Every address this event could reach: the preferences to load before planning."""
    found: set[str] = set()
    for route in rules.routes.for_event(envelope.type):
        for target in targets(route, data, rules.staff):
            found.update(addresses(target))
    return found
