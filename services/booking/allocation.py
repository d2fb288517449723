"""Seasonal allocation of training time, pure: no I/O, no clock (every rule takes `now`).

A season of a resource has a weekly frame time ("rammetid") cut into slots of one length;
organisations apply for weekly slots in order of preference; `propose` hands the slots out
by the season's rules and explains each decision; the officer adjusts by hand; publishing
turns each granted weekly slot into a series of bookings (`season_dates`).

The default rules (docs/booking.md, "Seasons"):
1. target group: children and youth before mixed groups, before adults and seniors;
2. local clubs before others (within the same target-group priority);
3. round robin between clubs of equal priority: each gets one slot per round, so nobody
   gets a second slot before everyone of its priority has had a go at a first;
4. within a round, earlier-preferred wishes first: every first wish is placed before any
   second wish;
5. a maximum of weekly hours per organisation (over all its applications);
6. a draw settles what is still equal: a hash of the season and the organisation number,
   so it is the same every time the proposal is computed, and not the order of arrival;
7. an application that ends below its minimum gets nothing, and the proposal is computed
   again without it (its slots go to others).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from services.booking.domain import MAX_SERIES_OCCURRENCES, BookingRefused
from shared.calendar import OpeningHours
from shared.errors import Conflict

TARGET_GROUPS = ("children", "youth", "adults", "seniors", "mixed")
SEASON_STATUSES = ("drafted", "open", "closed", "published", "running")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAYS_NB = ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag")

# Lower is served first.
DEFAULT_GROUP_PRIORITY: Mapping[str, int] = {
    "children": 1,
    "youth": 1,
    "mixed": 2,
    "adults": 3,
    "seniors": 3,
}
DEFAULT_MAX_HOURS_PER_ORG = 6.0

Rule = Literal[
    "target_group",
    "local_first",
    "round_robin",
    "preference",
    "draw",
    "uncontested",
    "max_hours",
    "enough",
    "minimum",
    "manual",
]
RULE_TEXT: Mapping[str, tuple[str, str]] = {
    "target_group": ("target group priority", "prioritet for målgruppen"),
    "local_first": ("local clubs first", "lokale lag først"),
    "round_robin": (
        "one slot each per round between clubs of equal priority",
        "én tid hver per runde mellom lag med lik prioritet",
    ),
    "preference": ("earlier-preferred wishes first", "tidligere ønsker først"),
    "draw": ("the season's draw between equal clubs", "sesongens trekning mellom like lag"),
    "uncontested": ("nobody else wished it", "ingen andre ønsket tiden"),
    "max_hours": ("the maximum hours per organisation", "maks timer per organisasjon"),
    "enough": ("the application got the slots it wanted", "søknaden fikk de tidene den ønsket"),
    "minimum": ("below the application's minimum", "under søknadens minimum"),
    "manual": ("set by the booking officer", "satt av saksbehandler"),
}


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, order=True)
class WeeklySlot:
    weekday: int  # 0 = Monday
    start: time
    end: time

    def label(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.start:%H:%M}-{self.end:%H:%M}"

    def label_nb(self) -> str:
        return f"{_WEEKDAYS_NB[self.weekday]} {self.start:%H:%M}–{self.end:%H:%M}"

    @property
    def hours(self) -> float:
        return _minutes_between(self.start, self.end) / 60

    def to_json(self) -> dict[str, Any]:
        return {
            "weekday": WEEKDAYS[self.weekday],
            "start": f"{self.start:%H:%M}",
            "end": f"{self.end:%H:%M}",
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> WeeklySlot:
        return cls(
            WEEKDAYS.index(raw["weekday"]),
            time.fromisoformat(raw["start"]),
            time.fromisoformat(raw["end"]),
        )


@dataclass(frozen=True)
class Rules:
    """The municipality's rules for a season; the defaults are the documented ones."""

    group_priority: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_GROUP_PRIORITY))
    local_first: bool = True
    max_hours_per_org: float | None = DEFAULT_MAX_HOURS_PER_ORG

    def to_json(self) -> dict[str, Any]:
        return {
            "group_priority": dict(self.group_priority),
            "local_first": self.local_first,
            "max_hours_per_org": self.max_hours_per_org,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> Rules:
        raw = raw or {}
        priority = dict(DEFAULT_GROUP_PRIORITY)
        priority.update(raw.get("group_priority") or {})
        unknown = set(priority) - set(TARGET_GROUPS)
        if unknown:
            raise _refused(
                f"unknown target groups in group_priority: {sorted(unknown)}",
                "season_rules_invalid",
                f"ukjente målgrupper i group_priority: {sorted(unknown)}",
            )
        max_hours = raw.get("max_hours_per_org", DEFAULT_MAX_HOURS_PER_ORG)
        if max_hours is not None and max_hours <= 0:
            raise _refused(
                "max_hours_per_org must be positive (or null: no maximum)",
                "season_rules_invalid",
                "max_hours_per_org må være positiv (eller null: ingen grense)",
            )
        return cls(priority, bool(raw.get("local_first", True)), max_hours)


@dataclass(frozen=True)
class Frame:
    """A season's weekly frame time and its slot length: the grid wishes are laid on."""

    hours: OpeningHours
    slot: timedelta

    def slots(self) -> list[WeeklySlot]:
        found = []
        step = int(self.slot / timedelta(minutes=1))
        for weekday in range(7):
            for open_, close in self.hours.intervals(weekday):
                start = _minutes_of(open_)
                end = _minutes_between(time(0), close) if close != time(0) else 24 * 60
                while start + step <= end:
                    found.append(WeeklySlot(weekday, _time_of(start), _time_of(start + step)))
                    start += step
        return found

    def slot_at(self, weekday: int, start: time) -> WeeklySlot:
        """The frame's slot starting then, or a refusal naming the grid."""
        for slot in self.slots():
            if slot.weekday == weekday and slot.start == start:
                return slot
        raise _refused(
            f"{WEEKDAYS[weekday]} {start:%H:%M} is not a slot of the season's frame time "
            f"({self.hours.describe(weekday)}, slots of {self.slot_minutes} minutes)",
            "slot_outside_frame",
            f"{_WEEKDAYS_NB[weekday]} {start:%H:%M} er ikke en tid i sesongens rammetid "
            f"({self.hours.describe(weekday)}, tider på {self.slot_minutes} minutter)",
        )

    @property
    def slot_minutes(self) -> int:
        return int(self.slot / timedelta(minutes=1))


@dataclass(frozen=True)
class Applicant:
    """An application as the proposal sees it."""

    id: str
    org_number: str
    org_name: str
    target_group: str
    local: bool
    wishes: tuple[WeeklySlot, ...]
    minimum: int
    wanted: int


@dataclass(frozen=True)
class Decision:
    """One wish of one application, and the rule that explains what became of it."""

    application_id: str
    org_number: str
    wish: int  # 1 = first preference
    slot: WeeklySlot
    outcome: Literal["granted", "declined"]
    rule: Rule
    reason: str
    reason_nb: str
    holder: str | None = None  # the application that got the slot instead
    round: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "application_id": self.application_id,
            "org_number": self.org_number,
            "wish": self.wish,
            "slot": self.slot.to_json(),
            "outcome": self.outcome,
            "rule": self.rule,
            "reason": self.reason,
            "reason_nb": self.reason_nb,
            "holder": self.holder,
            "round": self.round,
        }


@dataclass(frozen=True)
class Proposal:
    decisions: list[Decision]
    # Applications in the order the rules serve them: the waiting list's order too.
    order: list[str]

    def granted(self) -> list[Decision]:
        return [d for d in self.decisions if d.outcome == "granted"]


# --------------------------------------------------------------------------- checks


def check_season(
    *, starts_on: date, ends_on: date, opens_at: datetime, closes_at: datetime
) -> None:
    if ends_on < starts_on:
        raise _refused(
            "the season must end after it starts",
            "season_dates_invalid",
            "sesongen må slutte etter at den starter",
        )
    if (ends_on - starts_on).days // 7 + 1 > MAX_SERIES_OCCURRENCES:
        raise _refused(
            f"a season has at most {MAX_SERIES_OCCURRENCES} weeks",
            "season_too_long",
            f"en sesong har høyst {MAX_SERIES_OCCURRENCES} uker",
        )
    if closes_at <= opens_at:
        raise _refused(
            "the application window must close after it opens",
            "season_window_invalid",
            "søknadsfristen må være etter at søknadsperioden åpner",
        )


def frame_of(spec: Mapping[str, str], slot_minutes: int) -> Frame:
    try:
        hours = OpeningHours.parse(spec)
    except ValueError as exc:
        raise _refused(
            f"frame time: {exc}", "season_frame_invalid", f"rammetiden er ugyldig: {exc}"
        ) from exc
    if not 15 <= slot_minutes <= 8 * 60:
        raise _refused(
            "slot_minutes must be between 15 and 480",
            "season_frame_invalid",
            "slot_minutes må være mellom 15 og 480",
        )
    frame = Frame(hours, timedelta(minutes=slot_minutes))
    if not frame.slots():
        raise _refused(
            "the frame time has room for no slot of that length",
            "season_frame_invalid",
            "rammetiden har ikke plass til en eneste tid av den lengden",
        )
    return frame


Transition = Literal["open", "close", "publish"]
_TRANSITIONS: Mapping[str, tuple[str, str]] = {
    "open": ("drafted", "open"),
    "close": ("open", "closed"),
    "publish": ("closed", "published"),
}


def next_season_status(current: str, action: Transition) -> str:
    before, after = _TRANSITIONS[action]
    if current != before:
        raise Conflict(
            f"a {current} season cannot be {action}ed (it must be {before})",
            code="season_status",
            nb=f"en sesong med status {current} kan ikke få handlingen {action} "
            f"(den må ha status {before})",
            status=current,
        )
    return after


def season_status(stored: str, starts_on: date, today: date) -> str:
    """A published season is running from its first day."""
    return "running" if stored == "published" and today >= starts_on else stored


def check_accepting(status: str, opens_at: datetime, closes_at: datetime, now: datetime) -> None:
    """Applications are made, changed and withdrawn only while the window is open."""
    if status != "open" or not opens_at <= now < closes_at:
        raise Conflict(
            "the season does not take applications now",
            code="season_not_accepting",
            nb="sesongen tar ikke imot søknader nå",
            opens_at=opens_at.isoformat(),
            closes_at=closes_at.isoformat(),
        )


def check_allocating(status: str) -> None:
    """The officer proposes and adjusts between the window's close and publishing."""
    if status != "closed":
        raise Conflict(
            f"allocations are made in a closed season, not a {status} one",
            code="season_status",
            nb=f"tildeling gjøres i en lukket sesong, ikke i en med status {status}",
            status=status,
        )


def wishes_of(
    frame: Frame, raw: Sequence[tuple[int, time]], minimum: int, wanted: int | None
) -> tuple[tuple[WeeklySlot, ...], int, int]:
    """An application's wishes on the frame's grid, distinct, with its minimum and the
    number of slots wanted (default: every wish)."""
    wishes = tuple(frame.slot_at(weekday, start) for weekday, start in raw)
    if not wishes:
        raise _refused(
            "an application needs at least one wished slot",
            "application_wishes_required",
            "en søknad trenger minst ett ønske",
        )
    if len(set(wishes)) != len(wishes):
        raise _refused(
            "a slot is wished twice", "application_wish_repeated", "samme tid er ønsket to ganger"
        )
    wanted = len(wishes) if wanted is None else wanted
    if not 1 <= wanted <= len(wishes) or not 1 <= minimum <= wanted:
        raise _refused(
            "need 1 <= minimum <= wanted <= number of wishes",
            "application_minimum_invalid",
            "krever 1 <= minimum <= ønsket antall <= antall ønsker",
        )
    return wishes, minimum, wanted


# --------------------------------------------------------------------------- the proposal


def draw_key(season_id: str, applicant: Applicant) -> str:
    """The season's draw: fixed by the season and the organisation, not by arrival."""
    digest = hashlib.sha256(f"{season_id}:{applicant.org_number}".encode()).hexdigest()
    return f"{digest}:{applicant.id}"


@dataclass
class _Run:
    # slot -> (holder, round, wish rank) as placed
    holder: dict[WeeklySlot, tuple[Applicant, int, int]] = field(default_factory=dict)
    got: dict[str, list[WeeklySlot]] = field(default_factory=dict)
    hours: dict[str, float] = field(default_factory=dict)
    capped: set[tuple[str, WeeklySlot]] = field(default_factory=set)
    # (application, slot) -> (round, wish rank) when it reached for a slot already held:
    # what the explanation compares with the holder's placing.
    blocked: dict[tuple[str, WeeklySlot], tuple[int, int]] = field(default_factory=dict)


def propose(season_id: str, rules: Rules, applicants: Iterable[Applicant]) -> Proposal:
    """Hand out the frame's slots by the rules (module docstring), deterministically: the
    same applications give the same proposal, whatever order they come in."""
    apps = sorted(applicants, key=lambda a: (_tier(rules, a), draw_key(season_id, a)))
    excluded: set[str] = set()
    while True:
        run = _allocate(rules, [a for a in apps if a.id not in excluded])
        short = {
            a.id
            for a in apps
            if a.id not in excluded and 0 < len(run.got.get(a.id, [])) < a.minimum
        }
        if not short:
            break
        excluded |= short
    decisions = [d for a in apps for d in _decisions(rules, a, run, apps, a.id in excluded)]
    return Proposal(decisions, [a.id for a in apps])


def _tier(rules: Rules, a: Applicant) -> tuple[int, int]:
    local = 0 if a.local or not rules.local_first else 1
    return (rules.group_priority.get(a.target_group, 99), local)


def _allocate(rules: Rules, apps: Sequence[Applicant]) -> _Run:
    run = _Run()
    tiers: dict[tuple[int, int], list[Applicant]] = {}
    for a in apps:
        tiers.setdefault(_tier(rules, a), []).append(a)
    for tier in sorted(tiers):
        members = tiers[tier]
        rnd = 1
        while True:
            served: set[str] = set()
            for rank in range(max(len(a.wishes) for a in members)):
                for a in members:
                    mine = run.got.setdefault(a.id, [])
                    if a.id in served or len(mine) >= a.wanted or rank >= len(a.wishes):
                        continue
                    slot = a.wishes[rank]
                    if slot in mine:
                        continue
                    if slot in run.holder:
                        run.blocked.setdefault((a.id, slot), (rnd, rank))
                        continue
                    used = run.hours.get(a.org_number, 0.0)
                    cap = rules.max_hours_per_org
                    if cap is not None and used + slot.hours > cap + 1e-9:
                        run.capped.add((a.id, slot))
                        continue
                    run.holder[slot] = (a, rnd, rank)
                    mine.append(slot)
                    run.hours[a.org_number] = used + slot.hours
                    served.add(a.id)
            if not served:
                break
            rnd += 1
    return run


def _why(
    rules: Rules, winner: tuple[Applicant, int, int], loser: Applicant, tried: tuple[int, int]
) -> Rule:
    """The first rule that put the winner ahead of the loser for one slot."""
    w, w_round, w_rank = winner
    w_tier, l_tier = _tier(rules, w), _tier(rules, loser)
    if w_tier[0] != l_tier[0]:
        return "target_group"
    if w_tier[1] != l_tier[1]:
        return "local_first"
    l_round, l_rank = tried
    if w_rank < l_rank:
        return "preference"
    if w_round < l_round:
        return "round_robin"
    return "draw"


def _decisions(
    rules: Rules, a: Applicant, run: _Run, apps: Sequence[Applicant], excluded: bool
) -> list[Decision]:
    out = []
    mine = [] if excluded else run.got.get(a.id, [])
    for rank, slot in enumerate(a.wishes):
        wish = rank + 1
        held = run.holder.get(slot)
        if slot in mine and held is not None:
            rivals = [o for o in apps if (o.id, slot) in run.blocked]
            rule: Rule = (
                _why(rules, held, rivals[0], run.blocked[(rivals[0].id, slot)])
                if rivals
                else "uncontested"
            )
            en, nb = RULE_TEXT[rule]
            ahead = f" ahead of {rivals[0].org_name}" if rivals else ""
            ahead_nb = f" foran {rivals[0].org_name}" if rivals else ""
            out.append(
                Decision(
                    a.id,
                    a.org_number,
                    wish,
                    slot,
                    "granted",
                    rule,
                    f"granted {slot.label()} (wish {wish}){ahead}: {en}",
                    f"fikk {slot.label_nb()} (ønske {wish}){ahead_nb}: {nb}",
                    round=held[1],
                )
            )
            continue
        holder: Applicant | None = None
        if excluded:
            rule = "minimum"
        elif held is not None and (a.id, slot) in run.blocked:
            rule = _why(rules, held, a, run.blocked[(a.id, slot)])
            holder = held[0]
        elif (a.id, slot) in run.capped:
            rule = "max_hours"
        else:
            rule = "enough"
        en, nb = RULE_TEXT[rule]
        by = f" (went to {holder.org_name})" if holder else ""
        by_nb = f" (gikk til {holder.org_name})" if holder else ""
        out.append(
            Decision(
                a.id,
                a.org_number,
                wish,
                slot,
                "declined",
                rule,
                f"not granted {slot.label()} (wish {wish}){by}: {en}",
                f"fikk ikke {slot.label_nb()} (ønske {wish}){by_nb}: {nb}",
                holder=holder.id if holder else None,
            )
        )
    return out


# --------------------------------------------------------------------------- by hand


@dataclass(frozen=True)
class Held:
    """A granted slot as the officer's checks see it."""

    allocation_id: str
    application_id: str
    org_number: str
    slot: WeeklySlot


def check_free(slot: WeeklySlot, held: Iterable[Held], *, moving: str | None = None) -> None:
    """A slot is granted to one application at a time: 409 naming the holder."""
    for h in held:
        if h.slot == slot and h.allocation_id != moving:
            raise Conflict(
                f"{slot.label()} is already granted (allocation {h.allocation_id})",
                code="slot_already_granted",
                nb=f"{slot.label_nb()} er allerede tildelt (tildeling {h.allocation_id})",
                allocation_id=h.allocation_id,
                application_id=h.application_id,
            )


def hours_per_org(held: Iterable[Held]) -> dict[str, float]:
    hours: dict[str, float] = {}
    for h in held:
        hours[h.org_number] = hours.get(h.org_number, 0.0) + h.slot.hours
    return dict(sorted(hours.items()))


def conflicts(applicants: Iterable[Applicant], held: Iterable[Held]) -> list[dict[str, Any]]:
    """Each slot wished by more than one application: who wished it (and as which wish)
    and who holds it now, for the officer's grid."""
    wished: dict[WeeklySlot, list[dict[str, Any]]] = {}
    for a in applicants:
        for rank, slot in enumerate(a.wishes):
            wished.setdefault(slot, []).append({"application_id": a.id, "wish": rank + 1})
    holders = {h.slot: h.allocation_id for h in held}
    return [
        {"slot": slot.to_json(), "wished_by": who, "allocation_id": holders.get(slot)}
        for slot, who in sorted(wished.items())
        if len(who) > 1
    ]


def waiting_list(
    decisions: Iterable[Mapping[str, Any]], order: Sequence[str], slot: WeeklySlot
) -> list[str]:
    """Applications that wished the slot and did not get it, in the proposal's order
    (the rules' order); those refused for their minimum are not waiting."""
    wanting = {
        d["application_id"]
        for d in decisions
        if d["outcome"] == "declined"
        and d["rule"] != "minimum"
        and WeeklySlot.from_json(d["slot"]) == slot
    }
    return [a for a in order if a in wanting]


# --------------------------------------------------------------------------- publishing


def season_dates(starts_on: date, ends_on: date, weekday: int) -> list[date]:
    """Every date of the weekday within the season."""
    first = starts_on + timedelta(days=(weekday - starts_on.weekday()) % 7)
    dates = []
    while first <= ends_on:
        dates.append(first)
        first += timedelta(weeks=1)
    return dates


def report(rows: Iterable[tuple[str, str, str, float]]) -> dict[str, Any]:
    """Hours booked per organisation and per target group, from (org number, org name,
    target group, hours) per occurrence."""
    per_org: dict[str, dict[str, Any]] = {}
    per_group: dict[str, float] = {g: 0.0 for g in TARGET_GROUPS}
    for number, name, group, hours in rows:
        entry = per_org.setdefault(number, {"org_number": number, "name": name, "hours": 0.0})
        entry["hours"] += hours
        per_group[group] = per_group.get(group, 0.0) + hours
    return {
        "organisations": [per_org[k] for k in sorted(per_org)],
        "target_groups": [{"target_group": g, "hours": h} for g, h in per_group.items()],
        "total_hours": sum(per_group.values()),
    }


# --------------------------------------------------------------------------- helpers


def _refused(message: str, code: str, nb: str) -> BookingRefused:
    return BookingRefused(message, code=code, nb=nb)


def _minutes_of(t: time) -> int:
    return t.hour * 60 + t.minute


def _minutes_between(a: time, b: time) -> int:
    end = _minutes_of(b) or 24 * 60
    return end - _minutes_of(a)


def _time_of(minutes: int) -> time:
    return time(0) if minutes >= 24 * 60 else time(minutes // 60, minutes % 60)
