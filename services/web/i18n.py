"""Bokmål first, English available: the texts of the pages, and Norwegian formats of
dates, times and money in Europe/Oslo."""

from __future__ import annotations

import functools
import re
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from services.web.texts import TEXTS

OSLO = ZoneInfo("Europe/Oslo")
LANGUAGES = ("nb", "en")
LANG_COOKIE = "kp_sprak"
# The query keys the language switch keeps (which week, month, day, kind of order, time):
# never a name, an address, a note or a token, whatever else a page's address carries.
KEPT_QUERY = ("uke", "m", "dato", "type", "fra", "til")
_KEPT_VALUE = re.compile(r"^[A-Za-z0-9:._-]{1,40}$")
# The pages whose address holds their owner's token (manage links, a recipient's choices):
# the switch never names them in its own query.
TOKEN_PAGES = "/mine/"


def switch_target(path: str, query: str = "") -> str:
    """Where the language switch goes back to: this page, with only the kept query keys
    (`KEPT_QUERY`, short plain values); anything not a local path is the front page."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    kept = [
        (key, value)
        for key, value in parse_qsl(query, keep_blank_values=False)
        if key in KEPT_QUERY and _KEPT_VALUE.match(value)
    ]
    return path + ("?" + urlencode(kept) if kept else "")


_WEEKDAYS = {
    "nb": ["mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"],
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
}
_MONTHS = {
    "nb": "januar februar mars april mai juni juli august september oktober november desember",
    "en": "January February March April May June July August September October November December",
}


def text(lang: str, key: str, **values: Any) -> str:
    entry = TEXTS.get(key)
    if entry is None:
        return key
    template = entry.get(lang) or entry["nb"]
    return template.format(**values) if values else template


def local(moment: datetime | str) -> datetime:
    if isinstance(moment, str):
        return _local_of_text(moment)
    return moment.astimezone(OSLO)


@functools.lru_cache(maxsize=16_384)
def _local_of_text(moment: str) -> datetime:
    # A page shows the services' ISO times, the same ones on every request and several
    # times on one page (a row's start, its end, the button's label).
    return datetime.fromisoformat(moment).astimezone(OSLO)


def weekday_name(lang: str, weekday: int) -> str:
    """`lørdag` / `Saturday` (0 is Monday)."""
    return _WEEKDAYS[lang][weekday]


def day_name(lang: str, day: date | datetime | str, year: bool = False) -> str:
    if isinstance(day, str):
        day = date.fromisoformat(day[:10]) if len(day) <= 10 else local(day).date()
    elif isinstance(day, datetime):
        day = local(day).date()
    weekday = weekday_name(lang, day.weekday())
    month = _MONTHS[lang].split()[day.month - 1]
    tail = f" {day.year}" if year else ""
    return (
        f"{weekday} {day.day}. {month}{tail}"
        if lang == "nb"
        else f"{weekday} {day.day} {month}{tail}"
    )


def clock(moment: datetime | str) -> str:
    if isinstance(moment, str):
        return _clock_of_text(moment)
    return local(moment).strftime("%H:%M")


@functools.lru_cache(maxsize=16_384)
def _clock_of_text(moment: str) -> str:
    return _local_of_text(moment).strftime("%H:%M")


def when(lang: str, moment: datetime | str) -> str:
    """`tirsdag 5. mai kl. 10:00` / `Tuesday 5 May 10:00`."""
    if isinstance(moment, str):
        return _when_of_text(lang, moment)
    return _when_local(lang, local(moment))


@functools.lru_cache(maxsize=16_384)
def _when_of_text(lang: str, moment: str) -> str:
    return _when_local(lang, _local_of_text(moment))


def _when_local(lang: str, at: datetime) -> str:
    joint = " kl. " if lang == "nb" else " "
    return day_name(lang, at) + joint + at.strftime("%H:%M")


def short_date(moment: datetime | str) -> str:
    """`05.05.2026`, the Norwegian numeric date."""
    return local(moment).strftime("%d.%m.%Y")


def number(value: float) -> str:
    """`2`, `1,5`: Norwegian decimals, no trailing zeros."""
    return f"{value:.1f}".rstrip("0").rstrip(".").replace(".", ",")


def kroner(ore: int) -> str:
    """`1 250,00 kr` (a no-break space between the thousands)."""
    whole, part = divmod(abs(ore), 100)
    grouped = f"{whole:,}".replace(",", "\u00a0")
    return f"{'-' if ore < 0 else ''}{grouped},{part:02d}\u00a0kr"


def language_of(cookie: str | None) -> str:
    """Bokmål, unless the person chose English (the switch on every page sets a cookie): a
    browser's own language says little about which language a Norwegian office works in."""
    return "en" if cookie == "en" else "nb"


def month_name(lang: str, day: date) -> str:
    """`mai 2027` / `May 2027`."""
    return f"{_MONTHS[lang].split()[day.month - 1]} {day.year}"
