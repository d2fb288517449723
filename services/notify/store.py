"""Every query and write of the notify service, on one session (the unit of work's).

No request can violate a constraint here: deliveries, keys and senders are inserted if
absent and preferences upserted, so the service has no `refusal_of` of its own.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, bindparam, delete, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.digest import Item, ItemChange
from services.notify.domain import CHANNELS, Channel, HandOff, Preference, Status
from services.notify.models import (
    DeliveryRow,
    DigestItemRow,
    DigestRunRow,
    KeyRow,
    PreferenceRow,
    SenderRow,
)
from shared.anonymise import ANONYMISED
from shared.db import insert_for, on_connection
from shared.messaging.redact import Person
from shared.statement_shapes import RowsInsert, padded

# Set on a session that made deliveries due; after its commit the sender is woken.
DELIVERIES_DUE = "notify.deliveries_due"
# Set on a session that claimed deliveries for a hand-off (domain.HandOff): after its
# commit, they are handed to the sender.
DELIVERIES_HANDED = "notify.deliveries_handed"


# A delivery whose retention ended: "anonymised:" and its own id, not an address.
ANONYMISED_ADDRESS = "anonymised:"
FINISHED = ("sent", "delivered", "failed", "suppressed")


# What a delivery keeps once its person is gone: event, channel, role, status and times.
_ANONYMISED_DELIVERY: dict[str, Any] = {
    "recipient": literal(ANONYMISED_ADDRESS) + DeliveryRow.id,
    "recipient_name": ANONYMISED,
    "subject": None,
    "body_text": "",
    "body_html": None,
    "ics": None,
    "preferences_url": None,
    "preference_token": None,
}


class Store:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _dialect(self) -> str:
        bind = self.session.bind
        assert bind is not None, "a service's sessions are bound to its engine"
        return bind.dialect.name

    @property
    def _insert(self) -> Any:
        return insert_for(self._dialect)

    def _due_now(self, channels: Iterable[Channel] = CHANNELS) -> None:
        """After commit, wake the sender's loops of these channels (timers.Sender)."""
        self.session.info.setdefault(DELIVERIES_DUE, set()).update(channels)

    # --- deliveries -------------------------------------------------------------------

    async def add_deliveries(
        self,
        values: list[dict[str, Any]],
        handing: tuple[HandOff, list[dict[str, Any]]] | None = None,
    ) -> set[str]:
        """Insert the planned deliveries that do not exist yet (unique per event,
        recipient and channel); the ids of those inserted. With `handing`, those of its
        values (some of `values`) are inserted claimed for the hand-off's sender, as
        `claim_due` claims, and the ones inserted are handed to it after commit."""
        if handing is not None:
            hand_off, handed = handing
            for value in handed:
                value.update(_claim(hand_off.sender_id, hand_off.lease_until), attempts=1)
        # One INSERT of the rows' values as the driver's SQL, compiled once per page size
        # (shared/statement_shapes.RowsInsert): the compiled Core statement with a dict a
        # row processed each of a row's thirty values in Python, and cost more than the
        # write. A row whose (event, recipient, channel) is stored already is skipped.
        if not values:
            return set()
        columns = tuple(values[0])
        if any(len(value) != len(columns) for value in values):
            # A column a later row gives and the first does not would go unwritten, unseen.
            raise ValueError("the deliveries inserted together must give the same columns")
        row_of = itemgetter(*columns)
        rows = [row_of(value) for value in values]
        inserted = set(await _delivery_inserts(columns).execute(self.session, rows))
        due = {v["channel"] for v in values if v["status"] == "queued" and v["id"] in inserted}
        if due:
            self._due_now(due)
        if handing is not None:
            rows = [DeliveryRow(**v) for v in handing[1] if v["id"] in inserted]
            if rows:
                self.session.info.setdefault(DELIVERIES_HANDED, []).append((handing[0], rows))
        return inserted

    async def delivery(self, delivery_id: str) -> DeliveryRow | None:
        return await self.session.get(DeliveryRow, delivery_id)

    async def sms_by_provider_ref(self, provider_ref: str) -> DeliveryRow | None:
        query = select(DeliveryRow).where(
            DeliveryRow.provider_ref == provider_ref, DeliveryRow.channel == "sms"
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def deliveries(
        self,
        *,
        event_id: str | None,
        recipient: str | None,
        status: Status | None,
        limit: int,
        offset: int,
    ) -> list[DeliveryRow]:
        query = select(DeliveryRow).order_by(DeliveryRow.created_at.desc(), DeliveryRow.id)
        if event_id is not None:
            query = query.where(DeliveryRow.event_id == event_id)
        if recipient is not None:
            query = query.where(DeliveryRow.recipient == recipient)
        if status is not None:
            query = query.where(DeliveryRow.status == status)
        rows = await self.session.execute(query.limit(limit).offset(offset))
        return list(rows.scalars())

    async def update_delivery(self, delivery_id: str, **values: Any) -> None:
        await self.session.execute(
            update(DeliveryRow).where(DeliveryRow.id == delivery_id).values(**values)
        )

    async def queue_again(self, row: DeliveryRow, now: datetime) -> None:
        """A failed delivery back in the queue, due now, with a fresh round of attempts."""
        row.status, row.attempts, row.next_attempt_at = "queued", 0, now
        row.failed_at, row.updated_at = None, now
        await self.session.flush()
        self._due_now([cast(Channel, row.channel)])

    # --- preferences --------------------------------------------------------------------

    async def preferences_for(self, addresses: Iterable[str]) -> dict[str, Preference]:
        wanted = sorted(set(addresses))
        if not wanted:
            return {}
        # On the session's connection, as add_deliveries: preferences are written with
        # Core statements only, so no pending object of the session can change the answer.
        rows = await on_connection(self.session, _PREFERENCES, {"recipients": padded(wanted)})
        return {recipient: Preference(*kept) for recipient, *kept in rows}

    async def preference(self, recipient: str) -> PreferenceRow | None:
        return await self.session.get(PreferenceRow, recipient)

    async def recipient_of_token(self, token: str) -> str | None:
        """The address a preferences link's token was made for: from the preferences it
        set, else from the newest message that carried it (none once anonymised)."""
        kept = select(PreferenceRow.recipient).where(PreferenceRow.token == token).limit(1)
        found: str | None = (await self.session.execute(kept)).scalar()
        if found is None:
            sent = (
                select(DeliveryRow.recipient)
                .where(DeliveryRow.preference_token == token)
                .order_by(DeliveryRow.created_at.desc())
                .limit(1)
            )
            found = (await self.session.execute(sent)).scalar()
        return found

    async def put_preference(
        self, recipient: str, pref: Preference, now: datetime, *, token: str
    ) -> None:
        values = {
            "email": pref.email,
            "sms": pref.sms,
            "reminders": pref.reminders,
            "token": token,
        }
        stmt = self._insert(PreferenceRow).values(recipient=recipient, updated_at=now, **values)
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["recipient"], set_={**values, "updated_at": now}
            )
        )

    # --- the daily digest's state ---------------------------------------------------------

    async def apply_digest_changes(self, changes: Sequence[tuple[ItemChange, datetime]]) -> None:
        """Each (change, its event's time) written in order, unless an event newer than
        that time wrote its row already: inserted if absent, else updated only where
        older. Consecutive changes of one shape go in one statement (executemany); a key
        seen again in the run starts a new one, so no statement touches a row twice. On
        the session's connection: the digest's rows are only ever written by statements,
        never as objects of a session, so there is nothing of them to flush first."""
        run: list[dict[str, Any]] = []
        statement: Any = None
        keys: set[str] = set()
        for change, event_time in changes:
            shaped, values = _digest_write(self._dialect, change, event_time)
            if run and (shaped is not statement or change.key in keys):
                await on_connection(self.session, statement, run)
                run, keys = [], set()
            statement = shaped
            run.append(values)
            keys.add(change.key)
        if run:
            await on_connection(self.session, statement, run)

    async def digest_items(self, role: str, until: datetime) -> list[Item]:
        """The role's open items that a digest may list: those before `until` (today's and
        overdue), and the ones waiting for an answer whatever their date."""
        query = select(DigestItemRow).where(
            DigestItemRow.role == role,
            DigestItemRow.open.is_(True),
            or_(
                DigestItemRow.at < until,
                DigestItemRow.short_notice.is_(True),
                DigestItemRow.kind == "request",
            ),
        )
        rows = (await self.session.execute(query)).scalars()
        return [
            Item(row.kind, row.at, row.label, row.detail, row.short_notice)  # type: ignore[arg-type]
            for row in rows
            if row.at is not None
        ]

    async def prune_digest_items(self, closed_before: datetime, past_before: datetime) -> int:
        """Tombstones older than `closed_before`, and bookings, orders and requests whose
        time went by before `past_before` (nothing ends them by an event); open loans stay
        until returned."""
        result = await self.session.execute(
            delete(DigestItemRow).where(
                or_(
                    (DigestItemRow.open.is_(False)) & (DigestItemRow.event_time < closed_before),
                    (DigestItemRow.kind != "loan") & (DigestItemRow.at < past_before),
                )
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def anonymise_deliveries(self, ended_before: datetime, limit: int) -> int:
        """Retention (docs/privacy.md): messages sent, delivered, failed or suppressed before
        `ended_before` lose their address, name and texts (a staff member's message names
        the citizen it is about); event, template, channel, role, status and times stay for
        statistics, provider_ref for a late delivery report. Each address becomes one of its
        own, so (event, recipient, channel) stays unique. The UPDATE repeats the condition:
        of two replicas one counts each row."""
        ended = func.coalesce(
            DeliveryRow.delivered_at,
            DeliveryRow.sent_at,
            DeliveryRow.failed_at,
            DeliveryRow.updated_at,
        )
        due = [
            DeliveryRow.recipient_name != ANONYMISED,
            DeliveryRow.status.in_(FINISHED),
            ended < ended_before,
        ]
        ids = list(
            await self.session.scalars(
                select(DeliveryRow.id).where(*due).order_by(DeliveryRow.id).limit(limit)
            )
        )
        if not ids:
            return 0
        done = await self.session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id.in_(ids), *due)
            .values(**_ANONYMISED_DELIVERY)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(done, "rowcount", 0) or 0)

    async def deliveries_to(self, person: Person) -> list[DeliveryRow]:
        found = or_(
            func.lower(DeliveryRow.recipient).in_(sorted(person.emails)),
            DeliveryRow.recipient.in_(sorted(person.phones)),
        )
        query = select(DeliveryRow).where(found).order_by(DeliveryRow.created_at)
        return list(await self.session.scalars(query))

    async def deliveries_of_events(self, event_ids: Iterable[str]) -> list[DeliveryRow]:
        query = select(DeliveryRow).where(DeliveryRow.event_id.in_(sorted(set(event_ids))))
        return list(await self.session.scalars(query.order_by(DeliveryRow.created_at)))

    async def preferences_of(self, person: Person) -> list[PreferenceRow]:
        found = or_(
            func.lower(PreferenceRow.recipient).in_(sorted(person.emails)),
            PreferenceRow.recipient.in_(sorted(person.phones)),
        )
        return list(await self.session.scalars(select(PreferenceRow).where(found)))

    async def delete_preferences(self, rows: list[PreferenceRow]) -> None:
        for pref in rows:
            await self.session.delete(pref)

    async def erase_deliveries(self, ids: list[str], now: datetime) -> int:
        """The retention's anonymisation of these rows, whatever their age; one not sent yet
        is suppressed (it would tell someone about an erased person, or the person)."""
        if not ids:
            return 0
        await self.session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id.in_(ids), DeliveryRow.status == "queued")
            .values(status="suppressed", updated_at=now)
            .execution_options(synchronize_session=False)
        )
        done = await self.session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id.in_(ids), DeliveryRow.recipient_name != ANONYMISED)
            .values(**_ANONYMISED_DELIVERY)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(done, "rowcount", 0) or 0)

    async def claim_digest(self, role: str, day: str, items: int, now: datetime) -> bool:
        """The role's digest for `day` marked as made; False when it was already."""
        result = await self.session.execute(
            self._insert(DigestRunRow)
            .values(role=role, day=day, items=items, made_at=now)
            .on_conflict_do_nothing(index_elements=["role", "day"])
            .returning(DigestRunRow.role)
        )
        return result.scalar_one_or_none() is not None

    # --- keys ---------------------------------------------------------------------------

    async def key(self, name: str, fresh: str) -> str:
        """The named key; `fresh` becomes it if there is none yet (whichever replica
        comes first wins, in one statement)."""
        await self.session.execute(
            self._insert(KeyRow).values(name=name, value=fresh).on_conflict_do_nothing()
        )
        value = await self.session.execute(select(KeyRow.value).where(KeyRow.name == name))
        return str(value.scalar_one())

    # --- sender instances and their claims ----------------------------------------------

    async def add_sender(self, sender_id: str, host: str, pid: int, at: datetime) -> None:
        self.session.add(
            SenderRow(id=sender_id, host=host[:200], pid=pid, started_at=at, heartbeat_at=at)
        )
        await self.session.flush()

    async def beat(self, sender_id: str, at: datetime) -> bool:
        """Refresh the sender's heartbeat; False when it was taken for dead meanwhile."""
        # A Core statement built once: a consumer beats in every transaction that hands
        # deliveries off, and the ORM's update, built anew, cost more than the write.
        result = await on_connection(self.session, _BEAT, {"sender_id": sender_id, "at": at})
        return bool(result.rowcount)

    async def remove_stale_senders(self, before: datetime) -> list[str]:
        """Delete the senders whose heartbeat is older than `before`; their ids. The
        condition is read again under the row lock (PostgreSQL), so a sender that beat
        meanwhile stays."""
        result = await self.session.execute(
            delete(SenderRow).where(SenderRow.heartbeat_at < before).returning(SenderRow.id)
        )
        return list(result.scalars())

    async def remove_sender(self, sender_id: str) -> None:
        await self.session.execute(delete(SenderRow).where(SenderRow.id == sender_id))

    async def release_claims(
        self, senders: Sequence[str], *, leased_before: datetime | None = None
    ) -> int:
        """Claims of these senders (and any claim older than its lease) back to the
        queue, due as they were; the attempt they counted stays counted (it may have
        reached the provider)."""
        held: list[ColumnElement[bool]] = []
        if senders:
            held.append(DeliveryRow.claim_id.in_(list(senders)))
        if leased_before is not None:
            held.append(DeliveryRow.claimed_until < leased_before)
        if not held:
            return 0
        result = await self.session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.status == "sending", or_(*held))
            .values(status="queued", claim_id=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        )
        released = int(result.rowcount)  # type: ignore[attr-defined]  # a CursorResult
        if released:
            self._due_now()
        return released

    async def claim_due(
        self,
        sender_id: str,
        now: datetime,
        lease_until: datetime,
        limit: int,
        channels: Sequence[Channel],
    ) -> list[DeliveryRow]:
        """Take up to `limit` due deliveries of these channels for the sender. PostgreSQL
        skips rows another sender is taking (FOR UPDATE SKIP LOCKED); SQLite's BEGIN
        IMMEDIATE serialises claims. The rows come back as read, with the claim and the
        attempt added."""
        query = _due(self._dialect == "postgresql", limit)
        values = {"now": now, "channels": list(channels)}
        rows = list((await self.session.execute(query, values)).scalars())
        if not rows:
            return []
        claim = {"ids": padded([r.id for r in rows]), "sender_id": sender_id, "until": lease_until}
        await on_connection(self.session, _CLAIM, {**claim, "now": now})
        for row in rows:
            self.session.expunge(row)
            row.claim_id = sender_id
            row.attempts += 1
        return rows

    async def finish(
        self, sender_id: str, outcomes: Sequence[tuple[str, dict[str, Any]]]
    ) -> set[str]:
        """Write each send's outcome (the delivery's id, its new values), only where the
        sender still holds the claim; the ids written. One read of the claims still held,
        locked (SQLite's BEGIN IMMEDIATE holds them already), then an UPDATE per shape of
        values with every row of that shape as its parameters: two statements for a
        sender's group, not one per outcome."""
        if not outcomes:
            return set()
        ids = [delivery_id for delivery_id, _ in outcomes]
        query = _held(self._dialect == "postgresql")
        found = await on_connection(
            self.session, query, {"ids": padded(ids), "sender_id": sender_id}
        )
        held = set(found.scalars())
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for delivery_id, values in outcomes:
            if delivery_id in held:
                params = {f"new_{key}": value for key, value in values.items()}
                params.update(delivery_id=delivery_id, sender_id=sender_id)
                shapes.setdefault(tuple(values), []).append(params)
        for keys, params_of_rows in shapes.items():
            await on_connection(self.session, _finish(keys), params_of_rows)
        return held


# --- statements built once per shape ------------------------------------------------------
# A sender writes an outcome per message and a consumer a digest row per event: building
# each statement anew (its expression tree and cache key) cost more than the write.

_DELIVERIES = cast(Table, DeliveryRow.__table__)
_DIGEST_ITEMS = cast(Table, DigestItemRow.__table__)


@functools.cache
def _delivery_inserts(columns: tuple[str, ...]) -> RowsInsert:
    """The deliveries' insert of these columns (a planned row's), skipping a row that
    repeats one stored (the once-per-(event, recipient, channel) constraint) and
    returning the ids of those inserted."""
    return RowsInsert(_DELIVERIES, columns, skip_conflicts=True, returning="id")


_PREFERENCES = select(
    PreferenceRow.recipient, PreferenceRow.email, PreferenceRow.sms, PreferenceRow.reminders
).where(PreferenceRow.recipient.in_(bindparam("recipients", expanding=True)))


@functools.cache
def _due(skip_locked: bool, limit: int) -> Any:
    """Up to `limit` deliveries of `channels` due at `now`; PostgreSQL skips rows another
    sender locks."""
    query = (
        select(DeliveryRow)
        .where(
            DeliveryRow.status == "queued",
            DeliveryRow.channel.in_(bindparam("channels", expanding=True)),
            DeliveryRow.next_attempt_at <= bindparam("now"),
        )
        .order_by(DeliveryRow.next_attempt_at)
        .limit(limit)
    )
    return query.with_for_update(skip_locked=True) if skip_locked else query


def _claim(sender_id: Any, until: Any) -> dict[str, Any]:
    """What a claim writes on a delivery, besides its attempt counted: a claim made by an
    UPDATE (claim_due) and one made as the delivery is inserted (add_deliveries) alike."""
    return {"status": "sending", "claim_id": sender_id, "claimed_until": until}


_SENDERS = cast(Table, SenderRow.__table__)
_BEAT = (
    update(_SENDERS)
    .where(_SENDERS.c.id == bindparam("sender_id"))
    .values(heartbeat_at=bindparam("at"))
)

_CLAIM = (
    update(_DELIVERIES)
    .where(_DELIVERIES.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        **_claim(bindparam("sender_id"), bindparam("until")),
        attempts=_DELIVERIES.c.attempts + 1,
        updated_at=bindparam("now"),
    )
)


@functools.cache
def _held(lock: bool) -> Any:
    """Which of `ids` the sender still holds, in `sending`; locked on PostgreSQL, so that
    no takeover changes them before their outcome is written."""
    query = select(_DELIVERIES.c.id).where(
        _DELIVERIES.c.id.in_(bindparam("ids", expanding=True)),
        _DELIVERIES.c.claim_id == bindparam("sender_id"),
        _DELIVERIES.c.status == "sending",
    )
    return query.with_for_update() if lock else query


@functools.cache
def _finish(keys: tuple[str, ...]) -> Any:
    """The outcome's UPDATE for these columns, their values bound as `new_<column>`."""
    return (
        update(_DELIVERIES)
        .where(
            _DELIVERIES.c.id == bindparam("delivery_id"),
            _DELIVERIES.c.claim_id == bindparam("sender_id"),
            _DELIVERIES.c.status == "sending",
        )
        .values(claim_id=None, claimed_until=None, **{k: bindparam(f"new_{k}") for k in keys})
    )


def _digest_write(
    dialect: str, change: ItemChange, event_time: datetime
) -> tuple[Any, dict[str, Any]]:
    """The statement for one digest change, and its values."""
    fields: dict[str, Any] = {"open": change.open, "event_time": event_time}
    if change.role is not None:
        fields.update(
            role=change.role,
            kind=change.kind,
            hub=change.hub,
            at=change.at,
            label=change.label,
            detail=change.detail,
            short_notice=change.short_notice,
        )
    elif change.open:
        # A partial change (an order accepted): only to a row that is there and open.
        values = {"k": change.key, "t": event_time, "s": change.short_notice}
        return _DIGEST_TOUCH, values
    # Inserted if absent, else updated only where older, in one statement: two consumers
    # on one item cannot both insert.
    return _digest_upsert(dialect, tuple(fields)), {"key": change.key, "label": "", **fields}


_DIGEST_TOUCH = (
    update(_DIGEST_ITEMS)
    .where(
        _DIGEST_ITEMS.c.key == bindparam("k"),
        _DIGEST_ITEMS.c.open.is_(True),
        _DIGEST_ITEMS.c.event_time <= bindparam("t"),
    )
    .values(short_notice=bindparam("s"), event_time=bindparam("t"))
)


@functools.cache
def _digest_upsert(dialect: str, changed: tuple[str, ...]) -> Any:
    """A digest row inserted with the values given, or its `changed` columns updated
    where the stored row is older than the event."""
    insert = insert_for(dialect)(_DIGEST_ITEMS)
    return insert.on_conflict_do_update(
        index_elements=["key"],
        set_={column: insert.excluded[column] for column in changed},
        where=_DIGEST_ITEMS.c.event_time <= insert.excluded.event_time,
    )
