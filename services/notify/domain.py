"""Pure rules of notification: addresses, SMS length, when a message may go out, what a
send's outcome does to a delivery, retries, and what a gateway's delivery report does.

No I/O and no clock: callers pass `now`.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cached_property
from typing import Literal, get_args

from shared import backoff
from shared.calendar import OSLO, at_local, require_aware
from shared.contacts import e164
from shared.errors import Conflict, Refused
from shared.sms_text import is_gsm7, sms_segments

__all__ = ["is_gsm7", "sms_segments"]  # re-exported: notify's texts are cut by them

Channel = Literal["email", "sms"]
CHANNELS: tuple[Channel, ...] = ("email", "sms")
MAX_SMS_SEGMENTS = 2

# queued -> sending -> sent -> delivered; or failed; or suppressed (opted out)
Status = Literal["queued", "sending", "sent", "delivered", "failed", "suppressed"]
STATUSES: tuple[Status, ...] = get_args(Status)
RecipientKind = Literal["person", "staff"]

# --- addresses ---------------------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
INVALID_PREFIX = "invalid:"


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


def recipient_key(raw: str) -> str:
    """The address a preference is kept under; refused when it is neither kind."""
    found = normalise_address(raw)
    if found is None:
        raise Refused(
            "recipient must be an email address or a phone number",
            code="recipient_invalid",
            nb="mottakeren må være en e-postadresse eller et telefonnummer",
            field="path.recipient",
        )
    return found[1]


def invalid_address_key(raw: str) -> str:
    """What an address that cannot be used is kept as: a digest, so that the delivery is
    unique per (event, address, channel) without the raw text being readable."""
    return INVALID_PREFIX + hashlib.sha256(raw.encode()).hexdigest()[:16]


def preference_token(key: bytes, address: str) -> str:
    """The token in an address's preference link: it speaks for that address only."""
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()[:32]


def token_speaks_for(key: bytes, address: str, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(str(token), preference_token(key, address))


_HIDDEN = "\u2022\u2022\u2022"  # •••


def masked(address: str) -> str:
    """An address as a page opened from a link may show it: enough for its owner to know
    it (the first letter and the domain, or the last two digits), too little for anyone
    the link was forwarded to."""
    if "@" in address:
        local, _, domain = address.rpartition("@")
        return f"{local[:1]}{_HIDDEN}@{domain}"
    return f"{_HIDDEN}{address[-2:]}"


# --- SMS length ----------------------------------------------------------------------------

_GSM7_LOOKALIKES = str.maketrans(
    {"–": "-", "—": "-", "…": "...", "’": "'", "‘": "'", "“": '"', "”": '"', "\u00a0": " "}
)


def fit_sms(text: str, max_segments: int = MAX_SMS_SEGMENTS, tail: str = "") -> str:
    """Plain, GSM-7 where a look-alike exists (a stray dash must not halve the length),
    and cut to at most `max_segments`. A `tail` (a one-click link) goes on a line of its
    own after the text and is never cut: half a link opens nothing."""
    text = _plain(text)
    end = f"\n{_plain(tail)}" if tail else ""
    if sms_segments(text + end) <= max_segments:
        return text + end
    while text and sms_segments(text + "..." + end) > max_segments:
        text = text[:-1]
    return text.rstrip() + "..." + end


def _plain(text: str) -> str:
    text = " ".join(part for part in text.replace("\r", "").split(" ") if part != "")
    text = "\n".join(line.strip() for line in text.translate(_GSM7_LOOKALIKES).splitlines())
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --- when a message may go out ----------------------------------------------------------------


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

    def outside(self) -> Window:
        """The rest of the day: the hours a quiet window leaves for sending."""
        return Window(self.end, self.start)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


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
    return next_inside(now, quiet.outside())


@dataclass(frozen=True)
class Target:
    """Someone to tell, with every address they have (a person's preferences hold for
    all of them: opting out of SMS from an email link stops SMS to their phone too)."""

    kind: RecipientKind
    name: str
    language: str
    email: str | None
    phone: str | None
    role: str | None = None
    # A staff member's own SMS hours (the staff directory); None for a person.
    sms_window: Window | None = None

    # Normalised once per target: planning a message asks for them per channel and route.
    @cached_property
    def email_address(self) -> str | None:
        return normalise_email(self.email)

    @cached_property
    def phone_number(self) -> str | None:
        return normalise_phone(self.phone)

    def addresses(self) -> list[str]:
        return [a for a in (self.email_address, self.phone_number) if a]


def send_hours(target: Target, channel: Channel, urgent: bool, quiet: Window) -> Window | None:
    """The daily hours a message may go out in, decided once when it is planned and kept
    with it, so that every retry keeps them: staff get SMS inside their own hours,
    citizens not in quiet hours unless urgent; email is never held."""
    if channel != "sms":
        return None
    if target.kind == "staff":
        return target.sms_window
    return None if urgent else quiet.outside()


def not_before(at: datetime, hours: Window | None) -> datetime:
    """The first moment from `at` inside the message's hours."""
    return at if hours is None else next_inside(at, hours)


# --- preferences ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preference:
    email: bool = True
    sms: bool = True
    reminders: bool = True


def opted_out(
    channel: Channel, reminder: bool, target: Target, preferences: dict[str, Preference]
) -> bool:
    """Whether any of the target's addresses said no to this channel (or to reminders)."""
    for address in target.addresses():
        pref = preferences.get(address)
        if pref is None:
            continue
        if (channel == "email" and not pref.email) or (channel == "sms" and not pref.sms):
            return True
        if reminder and not pref.reminders:
            return True
    return False


# --- a send's outcome -------------------------------------------------------------------------


def retry_delay(
    attempts: int, base: float, cap: float, rng: random.Random | None = None
) -> timedelta:
    """Exponential backoff with jitter after `attempts` failed tries: half fixed, half
    random, so that many failures at once do not all come back together."""
    uniform = rng.uniform if rng else random.uniform
    ceiling = backoff.delay(attempts, base, cap)
    return timedelta(seconds=ceiling / 2 + uniform(0, ceiling / 2))


Outcome = Literal["sent", "transient", "permanent"]


@dataclass(frozen=True)
class HandOff:
    """This process's sender, idle on `channels`, offering to take the deliveries a
    fan-out makes due at once (timers.Sender.hand_off): they are claimed in its name in
    the fan-out's transaction, as `claim_due` would claim them, and handed to it at
    commit, so that their first attempt waits for no claim of its own. `generation` and
    `claimed` (monotonic, when the lease began) are the sender's, for it to know them
    again."""

    sender_id: str
    at: datetime
    lease_until: datetime
    channels: frozenset[Channel]
    generation: int
    claimed: float


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    reason: str | None = None
    provider_ref: str | None = None
    retry_after: float | None = None
    # True when the provider certainly did not take the message (connection refused, a
    # refusal, "busy"); False when it may have (a timeout or a 5xx after the request went
    # in): only a message no gateway may hold can be given to another gateway.
    unsent: bool = False
    # The SMS gateway that sent the message, or that may hold it ("primary", "fallback").
    gateway: str | None = None

    @classmethod
    def sent(cls, provider_ref: str | None = None) -> SendResult:
        return cls("sent", provider_ref=provider_ref)

    @classmethod
    def transient(
        cls, reason: str, retry_after: float | None = None, *, unsent: bool = False
    ) -> SendResult:
        return cls("transient", reason=reason[:500], retry_after=retry_after, unsent=unsent)

    @classmethod
    def permanent(cls, reason: str) -> SendResult:
        return cls("permanent", reason=reason[:500], unsent=True)

    def held_by(self) -> str | None:
        """The gateway a later attempt must go to: the one that sent it or may hold it."""
        return None if self.unsent else self.gateway


# --- two SMS gateways ---------------------------------------------------------------------------

PRIMARY, FALLBACK = "primary", "fallback"


class CircuitBreaker:
    """Whether the first SMS gateway is down: `after` transient failures in a row open the
    breaker for `cooldown` seconds, in which new messages go to the fallback; then one
    message tries the first again (a failure opens it anew, a success closes it).

    The clock is the caller's (monotonic seconds): the breaker keeps no time of its own."""

    def __init__(self, after: int, cooldown: float) -> None:
        self.after = after
        self.cooldown = cooldown
        self.failures = 0
        self.open_until = 0.0

    def is_open(self, now: float) -> bool:
        return self.failures >= self.after and now < self.open_until

    def record(self, result: SendResult, now: float) -> None:
        if result.outcome == "transient":
            self.failures += 1
            if self.failures >= self.after:
                self.open_until = now + self.cooldown
        else:
            # A refusal is an answer: the gateway is up.
            self.failures = 0


def gateway_for(held_by: str | None, breaker_open: bool) -> str:
    """Where an SMS goes: to the gateway that may already hold it, whatever its state
    (so that no message is sent by both), else to the fallback while the first is down."""
    if held_by is not None:
        return held_by
    return FALLBACK if breaker_open else PRIMARY


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float


@dataclass(frozen=True)
class AfterSend:
    """What one send's result does to its delivery."""

    status: Status
    reason: str | None = None
    next_attempt_at: datetime | None = None
    # For a failure: whether the far side refused (True) or retries ran out (False).
    permanent: bool = False


def after_send(
    result: SendResult,
    attempts: int,
    now: datetime,
    policy: RetryPolicy,
    hours: Window | None,
    rng: random.Random | None = None,
) -> AfterSend:
    """Sent; failed for good (refused, or the last attempt); or queued again after a
    backoff (at least the provider's Retry-After), inside the message's hours."""
    if result.outcome == "sent":
        return AfterSend("sent")
    if result.outcome == "permanent":
        return AfterSend("failed", result.reason, permanent=True)
    if attempts >= policy.max_attempts:
        return AfterSend("failed", f"gave up after {attempts} attempts: {result.reason}")
    delay = retry_delay(attempts, policy.base_seconds, policy.max_seconds, rng)
    if result.retry_after:
        delay = max(delay, timedelta(seconds=result.retry_after))
    return AfterSend("queued", result.reason, next_attempt_at=not_before(now + delay, hours))


def check_retry(status: str, recipient: str) -> None:
    """Only a failed delivery is sent again by hand, and never to an unusable address."""
    if status != "failed":
        raise Conflict(
            f"only a failed notification can be retried; this one is {status}",
            code="retry_not_failed",
            nb=f"bare et mislykket varsel kan sendes på nytt; dette er {status}",
            current_status=status,
        )
    if recipient.startswith(INVALID_PREFIX):
        raise Conflict(
            "the address is invalid; retrying cannot help",
            code="retry_invalid_address",
            nb="adressen er ugyldig; å prøve igjen hjelper ikke",
        )


# --- delivery reports -------------------------------------------------------------------------

_DELIVERED = {"delivered", "delivrd", "true", "1", "ok", "success"}
LINK_DELIVERED = 1001


def report_says_delivered(status: str | bool | None, result_code: int | None) -> bool:
    """A gateway's word for "it reached the phone": a status (generic, Sveve) or LINK
    Mobility's result code (1001 delivered; other codes are final failures)."""
    if status is not None:
        return str(status).strip().lower() in _DELIVERED
    return result_code == LINK_DELIVERED


def after_report(status: str, delivered: bool) -> Status | None:
    """The status a delivery report moves a sent SMS to. None for an SMS whose fate is
    already known: the first final report stands, a repeated one changes nothing."""
    if status in ("delivered", "failed"):
        return None
    if status != "sent":
        raise Conflict(
            f"the SMS is {status}, not sent; report ignored",
            code="report_before_sent",
            nb=f"SMS-en er {status}, ikke sendt; rapporten er ignorert",
            current_status=status,
        )
    return "delivered" if delivered else "failed"
