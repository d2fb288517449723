"""The notify service's use cases, each on a unit of work: fan an event out to its
deliveries, keep sender instances and their claims, record what a provider answered, read
and retry deliveries, keep preferences, and take in the gateway's delivery reports."""

from __future__ import annotations

import dataclasses
import hmac
import logging
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from pydantic import BaseModel

from services.notify import digest, routing
from services.notify.domain import (
    CHANNELS,
    AfterSend,
    Channel,
    HandOff,
    Preference,
    RetryPolicy,
    SendResult,
    Status,
    after_report,
    after_send,
    check_retry,
    masked,
    normalise_address,
    opted_out,
    parse_hours,
    preference_token,
    recipient_key,
    report_says_delivered,
    token_speaks_for,
)
from services.notify.models import DeliveryRow, PreferenceRow
from services.notify.routing import FanoutRules, Planned
from services.notify.store import Store
from shared.calendar import Calendar, at_local
from shared.errors import NotAuthenticated, NotFound, Refused
from shared.events import Envelope, EventData, NotificationFailed, NotificationSent
from shared.hubs import DEFAULT_HUB
from shared.manage_links import PREFERENCE_TOKEN
from shared.messaging.redact import Person
from shared.observability import correlation_id, scrub
from shared.person_data import row
from shared.unit_of_work import UnitOfWork

log = logging.getLogger("knutepunkt.notify")

Work = UnitOfWork[Store]


def _facts(row: DeliveryRow) -> dict[str, Any]:
    return {
        "delivery_id": row.id,
        "source_event_id": row.event_id,
        "source_event_type": row.event_type,
        "channel": row.channel,
        "recipient_kind": row.recipient_kind,
        "recipient_role": row.recipient_role,
        "attempts": row.attempts or 0,
    }


def _record(uow: Work, row: DeliveryRow, data: NotificationSent | NotificationFailed) -> None:
    # A delivery's events carry the correlation id of the event that caused it, whatever
    # transaction (a sender's, a report's) records them.
    token = correlation_id.set(row.correlation_id)
    try:
        uow.record(data)
    finally:
        correlation_id.reset(token)


def _clean(reason: str | None, row: DeliveryRow) -> str | None:
    """A provider's error text without personal data: gateways and mail servers echo the
    number, the address or the name they were given, and the text is kept in the row,
    shown to staff and published in NotificationFailed."""
    return None if reason is None else scrub(reason, names=(row.recipient_name,))[:500]


def _failed(uow: Work, row: DeliveryRow, reason: str | None, *, permanent: bool) -> None:
    _record(
        uow,
        row,
        NotificationFailed(
            **_facts(row), reason=_clean(reason, row) or "unknown", permanent=permanent
        ),
    )


# --- fan-out ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FanOut:
    envelope: Envelope
    data: EventData


async def fan_out(uow: Work, cmd: FanOut, *, rules: FanoutRules) -> set[str]:
    """The event's deliveries, planned and stored once per (event, recipient, channel):
    a redelivered or replayed event adds nothing. The ids of those added."""
    return await fan_out_together([(uow, cmd)], rules=rules)


async def fan_out_together(
    work: Sequence[tuple[Work, FanOut]],
    *,
    rules: FanoutRules,
    hand_off: HandOff | None = None,
) -> set[str]:
    """Several events fanned out as `fan_out` does each, in one transaction (a consumer's
    batch, its units of work sharing the store): the recipients' preferences read once
    and the deliveries of all of them stored with one statement (a page of rows at a time:
    shared/statement_shapes). Those due at once on a channel of `hand_off` are stored
    claimed by its sender, when the sender is still alive (beaten here, as a claim beats).
    The ids of those added."""
    routed = [(uow, cmd) for uow, cmd in work if rules.routes.for_event(cmd.envelope.type)]
    if not routed:
        return set()  # silent
    store = routed[0][0].store
    preferences = await store.preferences_for(
        address
        for _, cmd in routed
        for address in routing.all_addresses(cmd.envelope, cmd.data, rules)
    )
    planned: list[tuple[Work, list[dict[str, Any]]]] = []
    for uow, cmd in routed:
        now = uow.now()
        plans = routing.plan(cmd.envelope, cmd.data, rules, preferences, now)
        planned.append(
            (uow, [_planned_row(p, cmd.envelope, rules.routes.version, now) for p in plans])
        )
    values = [value for _, rows in planned for value in rows]
    if not values:
        return set()
    handing = None
    if hand_off is not None and (due := await _due_for(store, hand_off, values)):
        handing = (hand_off, due)
    inserted = await store.add_deliveries(values, handing)
    for uow, rows in planned:
        for value in rows:
            if value["id"] in inserted and value["status"] == "failed":
                _failed(uow, DeliveryRow(**value), value["last_error"], permanent=True)
    return inserted


async def _due_for(
    store: Store, hand_off: HandOff, values: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The planned rows due at once on the hand-off's channels, to be claimed for its
    sender; none when the sender was taken for dead (its beat, here, finds no row)."""
    due = [
        v
        for v in values
        if v["status"] == "queued"
        and v["channel"] in hand_off.channels
        and v["next_attempt_at"] <= v["created_at"]
    ]
    if not due or not await store.beat(hand_off.sender_id, hand_off.at):
        return []
    return due


def _planned_row(p: Planned, envelope: Envelope, version: int, now: datetime) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "event_id": envelope.id,
        "event_type": envelope.type,
        "correlation_id": envelope.correlationid,
        "routes_version": version,
        "template": p.route.template,
        "channel": p.channel,
        "recipient": p.recipient,
        "recipient_kind": p.target.kind,
        "recipient_role": p.target.role,
        "recipient_name": p.target.name[:200],
        "language": p.target.language,
        "urgent": p.route.urgent,
        "send_hours": str(p.send_hours) if p.send_hours else None,
        "subject": p.subject,
        "body_text": p.text,
        "body_html": p.html,
        "ics": p.ics,
        "ics_method": p.route.ics if p.ics else None,
        "preferences_url": p.preferences_url,
        "preference_token": p.preference_token,
        "status": p.status,
        "attempts": 0,
        "next_attempt_at": p.next_attempt_at,
        "claim_id": None,
        "claimed_until": None,
        "last_error": p.reason,
        "created_at": now,
        "updated_at": now,
        "failed_at": now if p.status == "failed" else None,
    }


# --- the staff's daily digest ----------------------------------------------------------------

# How long a closed item's tombstone is kept (against late, older events), and how long
# after its time a booking or order is dropped (no event ends it).
DIGEST_TOMBSTONE = timedelta(days=7)
DIGEST_PAST = timedelta(days=2)


async def keep_digest_states(work: Sequence[tuple[Work, FanOut]]) -> None:
    """The events' effects on the digest state, in their order, in the consumer's
    transaction (a batch's units of work share the store): a statement per run of changes
    of one shape, not one per change."""
    if work:
        await work[0][0].store.apply_digest_changes(
            [
                (change, cmd.envelope.time)
                for _, cmd in work
                for change in digest.changes_for(cmd.data)
            ]
        )


class DigestEntry(BaseModel):
    at: datetime
    end: datetime | None = None
    label: str
    detail: str | None = None


class DigestView(BaseModel):
    """What a digest template sees: the day, and the sections of its role."""

    hub: str
    day: datetime
    due_today: list[DigestEntry] = []
    overdue: list[DigestEntry] = []
    prep: list[DigestEntry] = []
    short_notice: list[DigestEntry] = []
    bookings: list[DigestEntry] = []
    requests: list[DigestEntry] = []


def _entry(item: digest.Item) -> DigestEntry:
    end = None
    if item.kind in ("booking", "request") and item.detail:
        end, detail = datetime.fromisoformat(item.detail), None
    else:
        detail = item.detail
    return DigestEntry(at=item.at, end=end, label=item.label, detail=detail)


@dataclass(frozen=True)
class MakeDigests:
    plans: tuple[digest.DigestPlan, ...]
    # (role, ISO day) this process knows to be made already: not asked again.
    known: frozenset[tuple[str, str]] = frozenset()


async def make_digests(
    uow: Work, cmd: MakeDigests, *, rules: FanoutRules
) -> list[tuple[str, str, int]]:
    """Each role's digest that is due now and not made yet: one email per staff member
    with the role (unless they opted out of email), marked made in the same transaction,
    so that it is made once per role and day whatever the replicas. A digest with nothing
    in it is marked made and sends nothing. (role, day, emails) of each due digest, with
    no emails when it had nothing in it or was made already (by this or another replica)."""
    now = uow.now()
    calendar = Calendar()
    made: list[tuple[str, str, int]] = []
    for plan in cmd.plans:
        day = digest.due_day(plan, now, calendar)
        if day is None or (plan.role, day.isoformat()) in cmd.known:
            continue
        tomorrow = at_local(day + timedelta(days=1), time(0))
        composed = digest.compose(plan.role, day, await uow.store.digest_items(plan.role, tomorrow))
        count = sum(len(section) for section in composed.sections.values())
        if not await uow.store.claim_digest(plan.role, day.isoformat(), count, now):
            made.append((plan.role, day.isoformat(), 0))
            continue
        values = [] if composed.empty else await _digest_rows(uow, composed, rules, now)
        if values:
            await uow.store.add_deliveries(values)
        made.append((plan.role, day.isoformat(), len(values)))
    if made:
        await uow.store.prune_digest_items(now - DIGEST_TOMBSTONE, now - DIGEST_PAST)
    return made


async def _digest_rows(
    uow: Work, composed: digest.Digest, rules: FanoutRules, now: datetime
) -> list[dict[str, Any]]:
    sections = {name: [_entry(i) for i in items] for name, items in composed.sections.items()}
    view = DigestView(hub=DEFAULT_HUB, day=composed.start, **sections)
    members = [m for m in rules.staff.with_role(composed.role) if m.email]
    preferences = await uow.store.preferences_for(m.email for m in members if m.email)
    event_id = digest.digest_event_id(composed.role, composed.day)
    values = []
    for member in members:
        target = member.target(composed.role)
        if opted_out("email", False, target, preferences):
            continue
        rendered = rules.renderer.render(
            f"digest_{composed.role}", "email", view, language=target.language, name=target.name
        )
        values.append(
            {
                "id": str(uuid.uuid4()),
                "event_id": event_id,
                "event_type": digest.DIGEST_EVENT_TYPE,
                "correlation_id": event_id,
                "routes_version": rules.routes.version,
                "template": f"digest_{composed.role}",
                "channel": "email",
                "recipient": member.email,
                "recipient_kind": "staff",
                "recipient_role": composed.role,
                "recipient_name": target.name[:200],
                "language": target.language,
                "urgent": False,
                "send_hours": None,
                "subject": rendered.subject,
                "body_text": rendered.text,
                "body_html": rendered.html,
                "ics": None,
                "ics_method": None,
                "preferences_url": None,
                "preference_token": None,
                "status": "queued",
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": None,
                "created_at": now,
                "updated_at": now,
                "failed_at": None,
            }
        )
    return values


# --- senders and their claims -------------------------------------------------------------------
#
# Liveness is real time (the `at` of these commands), not the service's clock: a test or
# the demo may move the service's clock by hours, and a sender must not look dead for it.


@dataclass(frozen=True)
class RegisterSender:
    sender_id: str
    host: str
    pid: int
    at: datetime


async def register_sender(uow: Work, cmd: RegisterSender) -> None:
    await uow.store.add_sender(cmd.sender_id, cmd.host, cmd.pid, cmd.at)


@dataclass(frozen=True)
class Heartbeat:
    sender_id: str
    at: datetime
    # Senders whose last beat is older than this are dead; their claims are taken over.
    stale_before: datetime


@dataclass(frozen=True)
class Beaten:
    alive: bool  # False: this sender was taken for dead; it must stop and start anew
    dead: tuple[str, ...] = ()
    released: int = 0


async def beat(uow: Work, cmd: Heartbeat) -> Beaten:
    """The sender's heartbeat, and the takeover of every dead sender's claims (and of any
    claim past its lease): they go back to the queue at once, due as they were."""
    if not await uow.store.beat(cmd.sender_id, cmd.at):
        return Beaten(alive=False)
    dead = await uow.store.remove_stale_senders(cmd.stale_before)
    released = await uow.store.release_claims(dead, leased_before=cmd.at)
    if dead:
        log.warning("took over the claims of %d dead sender(s): %d back in the queue",
                    len(dead), released)  # fmt: skip
    return Beaten(alive=True, dead=tuple(dead), released=released)


@dataclass(frozen=True)
class ClaimDue:
    sender_id: str
    at: datetime
    lease_until: datetime
    limit: int
    channels: tuple[Channel, ...] = CHANNELS


async def claim_due(uow: Work, cmd: ClaimDue) -> list[DeliveryRow] | None:
    """Due deliveries for this sender, claimed in its name; None when the sender was
    taken for dead (the heartbeat in the same transaction says so), so that a sender
    never claims in the name of an instance whose claims are being taken over."""
    if not await uow.store.beat(cmd.sender_id, cmd.at):
        return None
    return await uow.store.claim_due(
        cmd.sender_id, uow.now(), cmd.lease_until, cmd.limit, cmd.channels
    )


async def retire_sender(uow: Work, sender_id: str) -> int:
    """A sender stopping: its claims back to the queue and its row gone, so that the
    others take over at once rather than after the heartbeat goes stale."""
    released = await uow.store.release_claims([sender_id])
    await uow.store.remove_sender(sender_id)
    return released


@dataclass(frozen=True)
class SendOutcome:
    delivery: DeliveryRow  # as claimed (attempts counted)
    # What the provider answered; None when it was not asked (the claim was no longer
    # safe to send on): the delivery goes back to the queue and the attempt is not counted.
    result: SendResult | None


@dataclass(frozen=True)
class RecordOutcomes:
    sender_id: str
    outcomes: tuple[SendOutcome, ...]


async def record_outcomes(
    uow: Work, cmd: RecordOutcomes, *, policy: RetryPolicy
) -> list[tuple[str, Status]]:
    """Each answer written where the sender still holds the claim, with
    NotificationSent or NotificationFailed; the (channel, status) of each one written."""
    now = uow.now()
    # Each outcome's new values (and the decision; None: put back unsent), then all of
    # them written at once, where the sender still holds the claim.
    planned: list[tuple[DeliveryRow, dict[str, Any], AfterSend | None]] = []
    values: dict[str, Any]
    for outcome in cmd.outcomes:
        row, result = outcome.delivery, outcome.result
        if result is None:
            values = {"status": "queued", "attempts": row.attempts - 1, "updated_at": now}
            planned.append((row, values, None))
            continue
        hours = parse_hours(row.send_hours) if row.send_hours else None
        decision = after_send(result, row.attempts, now, policy, hours)
        reason = _clean(decision.reason, row)
        values = {"status": decision.status, "updated_at": now}
        if result.held_by() is not None:
            values["sms_gateway"] = result.held_by()
        if decision.status == "sent":
            values.update(sent_at=now, provider_ref=result.provider_ref, last_error=None)
        elif decision.status == "failed":
            values.update(failed_at=now, last_error=reason)
        else:
            values.update(next_attempt_at=decision.next_attempt_at, last_error=reason)
        planned.append((row, values, decision))
    held = await uow.store.finish(cmd.sender_id, [(row.id, values) for row, values, _ in planned])
    written: list[tuple[str, Status]] = []
    for row, values, done in planned:
        if row.id not in held:
            if done is not None:
                # Taken over while we were sending: the new holder's outcome counts.
                log.warning("delivery %s was taken over while sending", row.id)
            continue
        if done is None:
            written.append((row.channel, "queued"))
            continue
        if done.status == "sent":
            _record(uow, row, NotificationSent(**_facts(row), provider_ref=values["provider_ref"]))
        elif done.status == "failed":
            _failed(uow, row, done.reason, permanent=done.permanent)
        written.append((row.channel, done.status))
    return written


# --- reading and retrying deliveries ----------------------------------------------------------


@dataclass(frozen=True)
class NotificationQuery:
    event_id: str | None = None
    recipient: str | None = None
    status: Status | None = None
    limit: int = 100
    offset: int = 0


async def export_person(uow: Work, person: Person) -> dict[str, list[dict[str, Any]]]:
    """Access (docs/privacy.md): the messages sent to the person (with their texts), what
    staff were told by the same events (without the staff's addresses or texts), and the
    person's preferences."""
    to_them = await uow.store.deliveries_to(person)
    own = {d.id for d in to_them}
    staff = [
        {
            "event_type": d.event_type,
            "channel": d.channel,
            "role": d.recipient_role,
            "status": d.status,
            "created_at": d.created_at.isoformat(),
            "sent_at": d.sent_at.isoformat() if d.sent_at else None,
        }
        for d in await uow.store.deliveries_of_events({d.event_id for d in to_them})
        if d.id not in own and d.recipient_kind == "staff"
    ]
    return {
        "notifications": [row(d) for d in to_them],
        "staff_told": staff,
        "preferences": [row(p) for p in await uow.store.preferences_of(person)],
    }


async def erase_person(uow: Work, person: Person) -> dict[str, int]:
    """Erasure (docs/privacy.md): every message to the person, and the staff's messages
    about the same events (they name the person), anonymised as retention does; queued ones
    are not sent; their preferences go."""
    to_them = await uow.store.deliveries_to(person)
    rows = await uow.store.deliveries_of_events({d.event_id for d in to_them})
    erased = await uow.store.erase_deliveries([d.id for d in rows], uow.now())
    preferences = await uow.store.preferences_of(person)
    await uow.store.delete_preferences(preferences)
    return {"notifications": erased, "preferences": len(preferences)}


@dataclass(frozen=True)
class AnonymiseExpired:
    """Deliveries finished more than `retention` ago lose their personal data."""

    retention: timedelta
    limit: int = 500


async def anonymise_expired(uow: Work, cmd: AnonymiseExpired) -> int:
    return await uow.store.anonymise_deliveries(uow.now() - cmd.retention, cmd.limit)


async def list_notifications(uow: Work, query: NotificationQuery) -> list[DeliveryRow]:
    recipient = query.recipient
    if recipient is not None:
        found = normalise_address(recipient)
        recipient = found[1] if found else recipient
    return await uow.store.deliveries(
        event_id=query.event_id,
        recipient=recipient,
        status=query.status,
        limit=query.limit,
        offset=query.offset,
    )


async def get_notification(uow: Work, delivery_id: str) -> DeliveryRow:
    row = await uow.store.delivery(delivery_id)
    if row is None:
        raise NotFound(
            "no such notification", code="notification_not_found", nb="fant ikke varselet"
        )
    return row


async def retry_notification(uow: Work, delivery_id: str) -> DeliveryRow:
    """A failed delivery queued again, now, with a fresh round of attempts."""
    row = await get_notification(uow, delivery_id)
    check_retry(row.status, row.recipient)
    await uow.store.queue_again(row, uow.now())
    return row


# --- preferences ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Manager:
    """Who asks to read or change an address's preferences: staff, or a token."""

    staff: bool
    token: str | None = None


@dataclass(frozen=True)
class PreferencesView:
    recipient: str
    email: bool
    sms: bool
    reminders: bool
    updated_at: datetime | None


def _managed(recipient: str, who: Manager, key: bytes) -> str:
    address = recipient_key(recipient)
    if not who.staff and not token_speaks_for(key, address, who.token):
        raise NotAuthenticated(
            "a staff bearer token, or the recipient's token (X-Preference-Token), is required",
            code="preference_token_required",
            nb="krever innlogging som ansatt, eller mottakerens token (X-Preference-Token)",
        )
    return address


def _view(address: str, row: PreferenceRow | None) -> PreferencesView:
    if row is None:
        return PreferencesView(address, True, True, True, None)
    return PreferencesView(address, row.email, row.sms, row.reminders, row.updated_at)


async def get_preferences(
    uow: Work, recipient: str, who: Manager, *, key: bytes
) -> PreferencesView:
    address = _managed(recipient, who, key)
    return _view(address, await uow.store.preference(address))


@dataclass(frozen=True)
class SetPreferences:
    recipient: str
    who: Manager
    preference: Preference


async def set_preferences(uow: Work, cmd: SetPreferences, *, key: bytes) -> PreferencesView:
    address = _managed(cmd.recipient, cmd.who, key)
    return await _put(uow, address, cmd.preference, key)


async def _put(uow: Work, address: str, pref: Preference, key: bytes) -> PreferencesView:
    now = uow.now()
    token = preference_token(key, address)
    await uow.store.put_preference(address, pref, now, token=token)
    return PreferencesView(address, pref.email, pref.sms, pref.reminders, now)


def _unknown_link() -> NotFound:
    # The same answer for a token never made, one whose messages are anonymised, and one
    # made with a key since replaced: a guess learns nothing.
    return NotFound(
        "this preferences link is not valid (any more); use the link in a newer message",
        code="preference_link_unknown",
        nb="denne lenken til varslingsvalg gjelder ikke (lenger); bruk lenken i en nyere melding",
    )


async def _linked(uow: Work, token: str | None, key: bytes) -> str:
    """The address a preferences link (its token alone) speaks for."""
    if not token or not PREFERENCE_TOKEN.match(token):
        raise _unknown_link()
    address = await uow.store.recipient_of_token(token)
    if address is None or not token_speaks_for(key, address, token):
        raise _unknown_link()
    return address


async def get_linked_preferences(uow: Work, token: str | None, *, key: bytes) -> PreferencesView:
    """The preferences a link opens, its address masked (whoever holds a forwarded link
    learns no more of the address than its owner needs to know it)."""
    address = await _linked(uow, token, key)
    view = _view(address, await uow.store.preference(address))
    return dataclasses.replace(view, recipient=masked(address))


@dataclass(frozen=True)
class SetLinkedPreferences:
    token: str | None
    preference: Preference


async def set_linked_preferences(
    uow: Work, cmd: SetLinkedPreferences, *, key: bytes
) -> PreferencesView:
    address = await _linked(uow, cmd.token, key)
    view = await _put(uow, address, cmd.preference, key)
    return dataclasses.replace(view, recipient=masked(address))


async def preference_key(uow: Work, *, secret: str | None) -> bytes:
    """The key preference links are signed with: the configured secret, else one random
    key per installation, made by whichever replica starts first."""
    if secret:
        return secret.encode()
    return (await uow.store.key("preferences", secrets.token_hex(32))).encode()


# --- delivery reports -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryReport:
    """A gateway's word on one SMS, by our reference (the delivery id) or its own id."""

    reference: str | None
    provider_ref: str | None
    status: str | bool | None
    result_code: int | None
    token: str | None = None  # what the gateway sent as the report token


async def record_delivery_report(
    uow: Work, report: DeliveryReport, *, token: str | None
) -> tuple[str, Status]:
    """The SMS's status after the report: delivered, or failed (with NotificationFailed);
    a report on an SMS whose fate is known changes nothing. With a report `token`
    configured, only a report that carries it is read."""
    if token and not (report.token and hmac.compare_digest(report.token, token)):
        raise NotAuthenticated(
            "a valid report token is required",
            code="report_token_required",
            nb="krever gyldig rapport-token",
        )
    if report.status is None and report.result_code is None:
        raise Refused(
            "a report needs a status or a resultCode",
            code="report_without_status",
            nb="en rapport må ha status eller resultCode",
        )
    if not report.reference and not report.provider_ref:
        raise Refused(
            "a report needs our reference or the gateway's message id",
            code="report_without_reference",
            nb="en rapport må ha vår referanse eller gatewayens meldings-id",
        )
    row = await uow.store.delivery(report.reference) if report.reference else None
    if row is None and report.provider_ref:
        row = await uow.store.sms_by_provider_ref(report.provider_ref)
    if row is None or row.channel != "sms":
        raise NotFound(
            "no SMS with that reference",
            code="sms_not_found",
            nb="fant ingen SMS med den referansen",
        )
    status = after_report(row.status, report_says_delivered(report.status, report.result_code))
    if status is None:
        return row.id, row.status  # type: ignore[return-value]  # a column of Status values
    now = uow.now()
    if status == "delivered":
        await uow.store.update_delivery(row.id, status=status, delivered_at=now, updated_at=now)
        return row.id, status
    reason = _clean(f"gateway reports not delivered ({report.status or report.result_code})", row)
    await uow.store.update_delivery(
        row.id, status=status, failed_at=now, updated_at=now, last_error=reason
    )
    _failed(uow, row, reason, permanent=True)
    return row.id, status
