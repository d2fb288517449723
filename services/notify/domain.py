"""Pure rules of notification: addresses, SMS length, quiet hours, retry schedule.

No I/O and no clock: callers pass `now`.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal

from shared.calendar import OSLO, at_local, require_aware
from shared.contacts import e164

Channel = Literal["email", "sms"]
CHANNELS: tuple[Channel, ...] = ("email", "sms")
MAX_SMS_SEGMENTS = 2

# --- addresses ---------------------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


def normalise_phone(raw: str | None, region: str = "NO") -> str | None:
    """E.164, or None when it cannot be a phone number."""
    return e164(raw, region)


def normalise_email(raw: str | None) -> str | None:
    if not raw:
        return None
    value = raw.strip()
    if not _EMAIL.match(value) or len(value) > 254:
        return None
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def normalise_address(raw: str) -> tuple[Channel, str] | None:
    """A recipient key as given in a URL: an email address or a phone number."""
    if "@" in raw:
        email = normalise_email(raw)
        return ("email", email) if email else None
    phone = normalise_phone(raw)
    return ("sms", phone) if phone else None


# --- SMS length ----------------------------------------------------------------------------

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


def is_gsm7(text: str) -> bool:
    return all(ch in _GSM7_BASIC or ch in _GSM7_EXTENDED for ch in text)


def sms_segments(text: str) -> int:
    """How many SMS the text is billed and sent as (GSM 03.38, else UCS-2)."""
    if is_gsm7(text):
        units = len(text) + sum(ch in _GSM7_EXTENDED for ch in text)
        single, multi = 160, 153
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi = 70, 67
    return 1 if units <= single else math.ceil(units / multi)


_GSM7_LOOKALIKES = str.maketrans(
    {"–": "-", "—": "-", "…": "...", "’": "'", "‘": "'", "“": '"', "”": '"', "\u00a0": " "}
)


def fit_sms(text: str, max_segments: int = MAX_SMS_SEGMENTS) -> str:
    """Plain, GSM-7 where a look-alike exists (a stray dash must not halve the length),
    and cut to at most `max_segments`."""
    text = " ".join(part for part in text.replace("\r", "").split(" ") if part != "")
    text = "\n".join(line.strip() for line in text.translate(_GSM7_LOOKALIKES).splitlines())
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if sms_segments(text) <= max_segments:
        return text
    while text and sms_segments(text + "...") > max_segments:
        text = text[:-1]
    return text.rstrip() + "..."


# --- quiet hours ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A daily window of Oslo wall time; it may wrap midnight (21:00-08:00)."""

    start: time
    end: time

    def contains(self, wall: time) -> bool:
        if self.start == self.end:
            return True
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end


def parse_hours(spec: str) -> Window:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", spec or "")
    if not match:
        raise ValueError(f"hours must look like 08:00-21:00, got {spec!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 == 24 and m1 == 0:
        h1 = 0
    if h2 == 24 and m2 == 0:
        h2 = 0
    if not (0 <= h1 < 24 and 0 <= h2 < 24 and m1 < 60 and m2 < 60):
        raise ValueError(f"hours must be valid times, got {spec!r}")
    return Window(time(h1, m1), time(h2, m2))


def next_inside(now: datetime, window: Window) -> datetime:
    """`now` if its Oslo wall time is inside `window`, else the next start of the window."""
    now = require_aware(now)
    wall = now.astimezone(OSLO)
    if window.contains(wall.time()):
        return now
    day = wall.date()
    for offset in range(3):
        start = at_local(day + timedelta(days=offset), window.start)
        if start > now:
            return start
    raise AssertionError("a daily window always starts within two days")


def next_outside(now: datetime, quiet: Window) -> datetime:
    """`now` if outside the quiet window, else the moment it ends."""
    now = require_aware(now)
    if not quiet.contains(now.astimezone(OSLO).time()):
        return now
    allowed = Window(quiet.end, quiet.start)
    return next_inside(now, allowed)


# --- retries ----------------------------------------------------------------------------------


def retry_delay(
    attempts: int, base: float, cap: float, rng: random.Random | None = None
) -> timedelta:
    """Exponential backoff with jitter after `attempts` failed tries: half fixed, half
    random, so that many failures at once do not all come back together."""
    rng = rng or random
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    return timedelta(seconds=ceiling / 2 + rng.uniform(0, ceiling / 2))


Outcome = Literal["sent", "transient", "permanent"]


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    reason: str | None = None
    provider_ref: str | None = None
    retry_after: float | None = None

    @classmethod
    def sent(cls, provider_ref: str | None = None) -> SendResult:
        return cls("sent", provider_ref=provider_ref)

    @classmethod
    def transient(cls, reason: str, retry_after: float | None = None) -> SendResult:
        return cls("transient", reason=reason[:500], retry_after=retry_after)

    @classmethod
    def permanent(cls, reason: str) -> SendResult:
        return cls("permanent", reason=reason[:500])
