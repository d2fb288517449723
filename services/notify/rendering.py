"""What a message says: Jinja2 texts per language (templates/<language>.yaml), an HTML
part made from the plain text, SMS cut to two segments, and the .ics invitation a booking
email carries. Dates and times in Europe/Oslo."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from icalendar import Calendar, Event
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape
from pydantic import BaseModel

from services.notify.domain import Channel, fit_sms
from shared.calendar import OSLO, at_local
from shared.events import EventData
from shared.hubs import DEFAULT_HUB

TEMPLATES = Path(__file__).resolve().parent / "templates"
LANGUAGES = ("nb", "en")
DEFAULT_LANGUAGE = "nb"
HUB_NAMES = {DEFAULT_HUB: "Knutepunkt Strømsø"}
ADDRESS = "Telthusgata 8, 3044 Drammen"

_WEEKDAYS = {
    "nb": ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS = {
    "nb": (
        "januar", "februar", "mars", "april", "mai", "juni",
        "juli", "august", "september", "oktober", "november", "desember",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}  # fmt: skip
_KINDS = {
    "nb": {"pc": "PC", "planter_box": "pallekarm", "book": "bok", "other": "gjenstand"},
    "en": {"pc": "PC", "planter_box": "planter box", "book": "book", "other": "item"},
}
_PREFERENCES_LABEL = {"nb": "Innstillinger for varsler", "en": "Notification settings"}


def _oslo(value: datetime) -> datetime:
    return value.astimezone(OSLO)


def _oslo_day(value: datetime | date) -> date:
    """A calendar day (an event's `day`) is already Oslo's; an instant is converted."""
    return _oslo(value) if isinstance(value, datetime) else value


def _filters(language: str) -> dict[str, Any]:
    weekdays, months = _WEEKDAYS[language], _MONTHS[language]

    def dato(value: datetime | date) -> str:
        t = _oslo_day(value)
        if language == "nb":
            return f"{weekdays[t.weekday()]} {t.day}. {months[t.month - 1]} {t.year}"
        return f"{weekdays[t.weekday()]} {t.day} {months[t.month - 1]} {t.year}"

    def dato_kort(value: datetime | date) -> str:
        t = _oslo_day(value)
        if language == "nb":
            return f"{weekdays[t.weekday()][:3]}. {t.day}.{t.month}."
        return f"{weekdays[t.weekday()][:3]} {t.day} {months[t.month - 1][:3]}"

    def tid(value: datetime) -> str:
        return _oslo(value).strftime("%H:%M")

    def dato_tid(value: datetime) -> str:
        return (
            f"{dato(value)} kl. {tid(value)}"
            if language == "nb"
            else f"{dato(value)}, {tid(value)}"
        )

    def kroner(ore: int) -> str:
        whole, cents = divmod(int(ore), 100)
        if language == "nb":
            return f"{whole:,}".replace(",", " ") + f",{cents:02d} kr"
        return f"NOK {whole:,}.{cents:02d}"

    def ukedag(code: str) -> str:
        # A weekly slot's weekday as the events carry it (mon … sun).
        index = ("mon", "tue", "wed", "thu", "fri", "sat", "sun").index(code)
        return str(weekdays[index])

    return {
        "dato": dato,
        "dato_kort": dato_kort,
        "ukedag": ukedag,
        "tid": tid,
        "dato_tid": dato_tid,
        "kroner": kroner,
    }


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    text: str
    html: str | None


class Renderer:
    def __init__(self, folder: Path = TEMPLATES) -> None:
        self._templates: dict[str, dict[str, dict[str, Template]]] = {}
        # A template's one-click links (`actions:`, action -> label): the label is a template
        # too, and one that renders empty leaves its link out of that message.
        self._actions: dict[str, dict[str, dict[str, Template]]] = {}
        self._layouts: dict[str, Template] = {}
        for language in LANGUAGES:
            env = Environment(
                loader=FileSystemLoader(folder),
                undefined=StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
                keep_trailing_newline=False,
                autoescape=select_autoescape(["html", "html.j2"], default=False),
            )
            env.filters.update(_filters(language))
            raw = yaml.safe_load((folder / f"{language}.yaml").read_text(encoding="utf-8"))
            self._templates[language] = {
                key: {
                    part: env.from_string(source)
                    for part, source in parts.items()
                    if part != "actions"
                }
                for key, parts in raw.items()
            }
            self._actions[language] = {
                key: {action: env.from_string(label) for action, label in parts["actions"].items()}
                for key, parts in raw.items()
                if "actions" in parts
            }
            self._layouts[language] = env.get_template("layout.html.j2")

    def names(self, language: str = DEFAULT_LANGUAGE) -> set[str]:
        return set(self._templates[language])

    def has(self, template: str, channel: Channel, language: str) -> bool:
        parts = self._templates.get(language, {}).get(template, {})
        return ("sms" in parts) if channel == "sms" else {"subject", "text"} <= set(parts)

    def action_labels(self, template: str, language: str) -> set[str]:
        return set(self._actions.get(language, {}).get(template, {}))

    def render(
        self,
        template: str,
        channel: Channel,
        data: BaseModel,
        *,
        language: str,
        name: str,
        preferences_url: str | None = None,
        links: Mapping[str, str] | None = None,
        manage_url: str | None = None,
    ) -> Rendered:
        """`links`: one-click links by action (shared/action_links.py); an email lists each
        one its template labels, an SMS carries the first, whole, on its last line."""
        language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        parts = self._templates[language][template]
        context = _context(data, language, name)
        actions = self._labelled(template, language, context, links or {})
        if manage_url and not actions:
            # The booker's own page for this booking: an action of its own, last in an email,
            # the SMS's last line.
            actions = [(_MANAGE_LABEL[language], manage_url)]
        if channel == "sms":
            tail = f"{actions[0][0]}: {actions[0][1]}" if actions else ""
            return Rendered(None, fit_sms(parts["sms"].render(context), tail=tail), None)
        subject = " ".join(parts["subject"].render(context).split())
        text = _tidy(parts["text"].render(context))
        if actions:
            text += "\n\n" + "\n".join(f"{label}: {url}" for label, url in actions)
        body = text.rsplit("\n\n", 1)[0] if actions else text
        paragraphs = [p.splitlines() for p in body.split("\n\n") if p.strip()]
        label = _PREFERENCES_LABEL[language]
        html = self._layouts[language].render(
            language=language,
            subject=subject,
            paragraphs=paragraphs,
            actions=actions,
            hub_name=context["hub_name"],
            preferences_url=preferences_url,
            preferences_label=label,
        )
        if preferences_url:
            text += f"\n\n--\n{label}: {preferences_url}"
        return Rendered(subject, text, html)

    def _labelled(
        self, template: str, language: str, context: dict[str, Any], links: Mapping[str, str]
    ) -> list[tuple[str, str]]:
        labels = self._actions[language].get(template, {})
        out = []
        for action, url in links.items():
            label = " ".join(labels[action].render(context).split()) if action in labels else ""
            if label:
                out.append((label, url))
        return out


_MANAGE_LABEL = {"nb": "Se eller avbestill", "en": "See or cancel"}


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if line == "" and out and out[-1] == "":
            continue
        out.append(line)
    return "\n".join(out)


def _context(data: BaseModel, language: str, name: str) -> dict[str, Any]:
    context = data.model_dump()
    hub = context.get("hub") or ""
    context["name"] = name
    context["language"] = language
    context["hub_name"] = HUB_NAMES.get(hub, hub.title() or "Knutepunkt")
    booker = context.get("booker")
    if booker is not None:
        context["booker_label"] = context.get("organisation_name") or booker["name"]
    kind = context.get("item_kind")
    if kind is not None:
        context["kind_label"] = _KINDS[language].get(kind, kind)
    return context


def hub_name(data: EventData) -> str:
    return HUB_NAMES.get(str(getattr(data, "hub", "")), "Knutepunkt")


def booking_invitation(
    data: EventData, method: Literal["publish", "cancel"], hub: str, now: datetime
) -> bytes:
    """The .ics a booking email carries (RFC 5545): one VEVENT per booking, its UID stable,
    so a calendar updates (or, with CANCEL, removes) the entry it already has instead of
    adding a second one."""
    if hasattr(data, "slots"):
        return season_invitation(data, method, hub, now)
    cal = Calendar()
    cal.add("prodid", "-//Knutepunkt//notify//NO")
    cal.add("version", "2.0")
    cal.add("method", method.upper())
    event = Event()
    booking_id = str(getattr(data, "booking_id"))  # noqa: B009
    event.add("uid", f"booking-{booking_id}@knutepunkt")
    event.add("dtstamp", now)
    event.add("dtstart", getattr(data, "start"))  # noqa: B009
    event.add("dtend", getattr(data, "end"))  # noqa: B009
    title = getattr(data, "title", None) or getattr(data, "resource_name", "Booking")
    event.add("summary", title)
    event.add("location", f"{getattr(data, 'resource_name', '')}, {hub}, {ADDRESS}")
    # A cancelled booking gets a higher sequence than its confirmation.
    event.add("sequence", 1 if method == "cancel" else 0)
    event.add("status", "CANCELLED" if method == "cancel" else "CONFIRMED")
    cal.add_component(event)
    return cal.to_ical()


def season_invitation(
    data: EventData, method: Literal["publish", "cancel"], hub: str, now: datetime
) -> bytes:
    """The .ics of a season's granted slots (AllocationGranted): one VEVENT per occurrence,
    each at the slot's Oslo wall time on its date (a weekly RRULE in UTC would move by an hour
    at the DST change), without the skipped dates; UIDs stable per allocation and date."""
    cal = Calendar()
    cal.add("prodid", "-//Knutepunkt//notify//NO")
    cal.add("version", "2.0")
    cal.add("method", method.upper())
    title = str(getattr(data, "activity", "") or "Trening")
    where = f"{getattr(data, 'resource_name', '')}, {hub}, {ADDRESS}"
    for slot in getattr(data, "slots", []):
        for day, start, end in _season_dates(slot):
            event = Event()
            event.add("uid", f"allocation-{slot.allocation_id}-{day.isoformat()}@knutepunkt")
            event.add("dtstamp", now)
            event.add("dtstart", start)
            event.add("dtend", end)
            event.add("summary", title)
            event.add("location", where)
            event.add("sequence", 1 if method == "cancel" else 0)
            event.add("status", "CANCELLED" if method == "cancel" else "CONFIRMED")
            cal.add_component(event)
    return cal.to_ical()


def _season_dates(slot: Any) -> list[tuple[date, datetime, datetime]]:
    """The slot's booked dates: weekly from its first to its last, less the skipped ones."""
    try:
        start_time = time.fromisoformat(slot.start_time)
        end_time = time.fromisoformat(slot.end_time)
    except ValueError:
        return []
    if slot.first is None or slot.last is None:
        return []
    skipped = {s.date for s in slot.skipped}
    day, last = slot.first.astimezone(OSLO).date(), slot.last.astimezone(OSLO).date()
    found = []
    while day <= last:
        if day not in skipped:
            found.append((day, at_local(day, start_time), at_local(day, end_time)))
        day += timedelta(weeks=1)
    return found
