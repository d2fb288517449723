"""Every query and write of the loans service, on the unit of work's one session.

Rows are locked where a rule is checked under the lock: the borrower (their loan count),
the item (one loan at a time), the reservation (the queue). On PostgreSQL picks use
FOR UPDATE SKIP LOCKED, so concurrent check-outs take different items instead of queueing
on one; SQLite's BEGIN IMMEDIATE already makes each write transaction the only one.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Select,
    String,
    Table,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.elements import ColumnElement

from services.loans.domain import OPEN, UNLENDABLE, Policy, ReservationStatus
from services.loans.models import (
    ITEM_FREE,
    Borrower,
    DeskClosure,
    Item,
    Loan,
    LoanPolicy,
    NoticeSent,
    Reservation,
    ShelfBook,
)
from shared.anonymise import ANONYMISED
from shared.calendar import Calendar, Closure
from shared.db import insert_at_flush, insert_for, on_connection, try_advisory_xact_lock
from shared.errors import Conflict, Refusal
from shared.events import Contact
from shared.messaging.redact import Person


def new_id() -> str:
    return str(uuid.uuid4())


def contact_of(borrower: Borrower) -> Contact:
    return Contact(
        name=borrower.name,
        phone=borrower.phone,
        email=borrower.email,
        language=borrower.language,
    )


@dataclass(frozen=True)
class NoticeClaim:
    loan_id: str
    renewal: int
    kind: str
    level: int
    borrower_id: str


_CONSTRAINTS = (
    # (constraint name, SQLite's wording of it, what it means)
    ("uq_loans_active_item", "loans.item_id", "the item is already lent"),
    ("uq_items_hub_label", "items.hub, items.label", "an item with that label exists"),
    ("uq_reservations_offered_item", "reservations.offered_item_id", "the item is already offered"),
)
_CONSTRAINT_CODES = {
    "uq_loans_active_item": ("item_lent", "utstyret er allerede lånt ut"),
    "uq_items_hub_label": ("label_taken", "det finnes allerede utstyr med det navnet"),
    "uq_reservations_offered_item": ("item_offered", "utstyret er allerede tilbudt"),
}


def refusal_of(exc: IntegrityError) -> Refusal:
    """The loans service's reading of its constraint violations (ServiceSpec.integrity)."""
    text = str(exc.orig)
    for name, sqlite_words, meaning in _CONSTRAINTS:
        if name in text or sqlite_words in text:
            code, nb = _CONSTRAINT_CODES[name]
            return Conflict(
                f"conflict with a concurrent change: {meaning}",
                code=code,
                nb=f"kolliderte med en samtidig endring: {nb}",
            )
    return Conflict(
        "conflict with a concurrent change: a uniqueness rule",
        code="concurrent_change",
        nb="kolliderte med en samtidig endring: en entydighetsregel",
    )


def _written_in(*values: str) -> list[ColumnElement[str]]:
    """Constant values as SQL text in the statement, written when it is compiled: a bound
    list is expanded, and a bound value can keep SQLite from a partial index, at each
    execution (SQLAlchemy's post-compile step, 40 µs a check-out for the three below)."""
    return [literal_column(f"'{value}'", String) for value in values]


# The partial index's own condition (see Store._held_for_other).
[_OFFERED] = _written_in(ReservationStatus.OFFERED.value)
_UNLENDABLE = _written_in(*sorted(UNLENDABLE))
_OPEN = _written_in(*(status.value for status in OPEN))


class Store:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    @property
    def _postgres(self) -> bool:
        return self._dialect == "postgresql"

    def _for_update(self, query: Select[Any], *, skip_locked: bool = False) -> Select[Any]:
        if self._postgres:
            return query.with_for_update(skip_locked=skip_locked)
        return query

    # --- the desk's calendar -------------------------------------------------------------

    async def calendar(self, hub: str, after: datetime) -> Calendar:
        """The hub's hours and Norwegian holidays, with the desk's closures that end after
        `after` (earlier ones no longer change any answer)."""
        rows = await on_connection(self.session, _CLOSURE_SPANS_AFTER, {"hub": hub, "after": after})
        return Calendar(closures=[Closure(*row) for row in rows])

    async def closures(self, hub: str, after: datetime) -> Sequence[DeskClosure]:
        rows = await self.session.execute(_CLOSURES_AFTER, {"hub": hub, "after": after})
        return rows.scalars().all()

    async def add_closure(self, closure: DeskClosure) -> None:
        self.session.add(closure)
        await self.session.flush()

    async def loans_due_within(self, hub: str, start: datetime, end: datetime) -> Sequence[Loan]:
        """Active loans of the hub due in [start, end), locked: a new closure moves them."""
        rows = await self.session.execute(
            select(Loan)
            .where(
                Loan.hub == hub,
                Loan.returned_at.is_(None),
                Loan.due_at >= start,
                Loan.due_at < end,
            )
            .order_by(Loan.id)
            .with_for_update()
        )
        return rows.scalars().all()

    async def offers_ending_within(
        self, hub: str, start: datetime, end: datetime
    ) -> Sequence[Reservation]:
        """Offers held until a time in [start, end), locked: a new closure extends them."""
        rows = await self.session.execute(
            select(Reservation)
            .where(
                Reservation.hub == hub,
                Reservation.status == ReservationStatus.OFFERED.value,
                Reservation.hold_until >= start,
                Reservation.hold_until < end,
            )
            .order_by(Reservation.id)
            .with_for_update()
        )
        return rows.scalars().all()

    async def flush(self) -> None:
        """Writes what is pending; a unique index speaks here (IntegrityError)."""
        await self.session.flush()

    def add(self, row: object) -> None:
        self.session.add(row)

    async def lend(self, loan: Loan, item: Item) -> None:
        """Writes the new loan and puts it on the item's row with the unit of work's flush:
        Core statements (shared.db.insert_at_flush: on PostgreSQL one, with the loan's
        event), not the ORM's flush of both, which cost more than the writes. Nothing in
        the check-out reads either after this; the item is locked since it was chosen, and
        the unique active-loan index answers at the flush (store.refusal_of)."""
        lent = {"item_id": item.id, "loan_id": loan.id}
        insert_at_flush(self.session, loan, then=(_LEND_ITEM, lent))
        set_committed_value(item, "current_loan_id", loan.id)

    # --- policies ---------------------------------------------------------------------

    async def policy(self, hub: str, kind: str) -> Policy | None:
        row = (await on_connection(self.session, _POLICY, {"hub": hub, "kind": kind})).first()
        return None if row is None else Policy(**row._mapping)

    # --- items ------------------------------------------------------------------------

    async def item(self, item_id: str, *, lock: bool = False) -> Item | None:
        query = select(Item).where(Item.id == item_id)
        return (
            await self.session.execute(self._for_update(query) if lock else query)
        ).scalar_one_or_none()

    async def items(self, hub: str, kind: str | None, include_retired: bool) -> Sequence[Item]:
        query = select(Item).where(Item.hub == hub).order_by(Item.kind, Item.label)
        if kind is not None:
            query = query.where(Item.kind == kind)
        if not include_retired:
            query = query.where(Item.retired_at.is_(None))
        return (await self.session.execute(query)).scalars().all()

    async def held_item_ids(self, now: datetime) -> set[str]:
        """Items held for an open offer."""
        rows = await self.session.execute(
            select(Reservation.offered_item_id).where(
                Reservation.status == ReservationStatus.OFFERED, Reservation.hold_until > now
            )
        )
        return {r for r in rows.scalars() if r}

    @staticmethod
    def _held_for_other(item_id: Any, now: Any, borrower_id: Any) -> ColumnElement[bool]:
        """An open offer to someone else holds the item."""
        clause = and_(
            Reservation.offered_item_id == item_id,
            # Written into the statement, not bound: with a bound value, SQLite can use the
            # partial index of open offers (status = 'offered') only by planning the
            # statement anew for every new set of values, 120 µs a check-out.
            Reservation.status == _OFFERED,
            Reservation.hold_until > now,
        )
        if borrower_id is not None:
            clause = and_(clause, Reservation.borrower_id != borrower_id)
        return exists().where(clause)

    async def held_for_other(self, item_id: str, now: datetime, borrower_id: str) -> bool:
        return bool(
            (
                await on_connection(
                    self.session,
                    _HELD_FOR_OTHER,
                    {"item_id": item_id, "now": now, "borrower_id": borrower_id},
                )
            ).scalar()
        )

    @staticmethod
    def _lendable(hub: Any, kind: Any) -> Select[Any]:
        # Every condition on the item's own row: PostgreSQL re-checks these on the newest
        # version of a row it locks, so a check-out committed meanwhile is seen.
        return select(Item).where(
            Item.hub == hub,
            Item.kind == kind,
            ITEM_FREE,
            Item.condition.not_in(_UNLENDABLE),
        )

    async def free_item(self, hub: str, kind: str, now: datetime, borrower_id: str) -> Item | None:
        """A free item of the kind, locked; one a concurrent check-out holds is skipped."""
        query = _FREE_ITEM_SKIP_LOCKED if self._postgres else _FREE_ITEM
        values = {"hub": hub, "kind": kind, "now": now, "borrower_id": borrower_id}
        return (await self.session.execute(query, values)).scalar_one_or_none()

    async def offerable_item(self, hub: str, kind: str, now: datetime) -> Item | None:
        """An item to offer the next in line: one still being prepared (the buffer) may be
        offered, the hold starts when it is ready; the readiest first."""
        query = (
            self._lendable(hub, kind)
            .where(~self._held_for_other(Item.id, now, None))
            .order_by(Item.available_from.is_not(None), Item.available_from, Item.label)
            .limit(1)
        )
        return (
            await self.session.execute(self._for_update(query, skip_locked=True))
        ).scalar_one_or_none()

    # --- borrowers --------------------------------------------------------------------

    async def borrower_for_update(
        self,
        now: datetime,
        *,
        name: str,
        phone: str,
        email: str | None,
        language: str,
        token_hash: str | None = None,
    ) -> tuple[Borrower, bool]:
        """The borrower with this (E.164) phone, created if new, locked for the rest of the
        transaction (their loan count is checked under the lock). Returns (borrower,
        created); an existing borrower takes the desk's newest details, and `token_hash`
        becomes the borrower's manage token if they have none.

        One statement (an upsert that returns the row), not an insert, a locking read and
        updates: the conflict's update locks the row as SELECT … FOR UPDATE did."""
        proposed = new_id()
        values = {
            "id": proposed,
            "name": name,
            "phone": phone,
            "email": email,
            "language": language,
            "token_hash": token_hash,
            "created_at": now,
        }
        # Core on the session's connection: the ORM's bulk-insert path cost more than the
        # statement. The borrower comes back as a plain (transient) object: the check-out
        # reads it and does not change it.
        row = (await on_connection(self.session, _borrower_upsert(self._dialect), values)).one()
        borrower = Borrower(**row._mapping)
        return borrower, borrower.id == proposed

    # ----------------------------------------------------------------------- retention

    @staticmethod
    def _still_needed(borrower_id: Any, ended_before: datetime) -> ColumnElement[bool]:
        """A loan out, or returned since `ended_before`; a reservation open, or made since:
        the borrower's contact is still needed."""
        loan = exists().where(
            Loan.borrower_id == borrower_id,
            or_(Loan.returned_at.is_(None), Loan.returned_at >= ended_before),
        )
        reservation = exists().where(
            Reservation.borrower_id == borrower_id,
            or_(Reservation.status.in_(OPEN), Reservation.created_at >= ended_before),
        )
        return or_(loan, reservation)

    async def borrowers_past_retention(self, ended_before: datetime, limit: int) -> list[str]:
        rows = await self.session.scalars(
            select(Borrower.id)
            .where(
                Borrower.name != ANONYMISED,
                Borrower.created_at < ended_before,
                ~self._still_needed(Borrower.id, ended_before),
            )
            .order_by(Borrower.created_at, Borrower.id)
            .limit(limit)
        )
        return list(rows)

    async def anonymise_borrower(self, borrower_id: str, ended_before: datetime) -> bool:
        """Name, phone and email go; the borrower's id stays, so loans, reservations and
        notices still count per item, kind and month. The phone is unique: each anonymised
        borrower gets one of their own, from their id. False when another replica did it
        first, or a loan started meanwhile."""
        done = await self.session.execute(
            update(Borrower)
            .where(
                Borrower.id == borrower_id,
                Borrower.name != ANONYMISED,
                ~self._still_needed(borrower_id, ended_before),
            )
            .values(
                name=ANONYMISED,
                phone="anon-" + borrower_id.replace("-", "")[:15],
                email=None,
                token_hash=None,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(done.rowcount == 1)  # type: ignore[attr-defined]  # a CursorResult

    async def borrowers_of(self, person: Person) -> list[Borrower]:
        found = or_(
            Borrower.phone.in_(sorted(person.phones)),
            func.lower(Borrower.email).in_(sorted(person.emails)),
        )
        return list(await self.session.scalars(select(Borrower).where(found)))

    async def loans_of_borrower(self, borrower_id: str) -> list[Loan]:
        return list(
            await self.session.scalars(
                select(Loan).where(Loan.borrower_id == borrower_id).order_by(Loan.started_at)
            )
        )

    async def reservations_of_borrower(self, borrower_id: str) -> list[Reservation]:
        return list(
            await self.session.scalars(
                select(Reservation)
                .where(Reservation.borrower_id == borrower_id)
                .order_by(Reservation.id)
            )
        )

    async def borrower(self, borrower_id: str, *, lock: bool = False) -> Borrower | None:
        return await self.session.get(Borrower, borrower_id, with_for_update=lock or None)

    async def borrower_by_token(self, token_hash: str) -> Borrower | None:
        return (
            await self.session.execute(select(Borrower).where(Borrower.token_hash == token_hash))
        ).scalar_one_or_none()

    async def borrowers(self, ids: set[str]) -> dict[str, Borrower]:
        if not ids:
            return {}
        rows = await self.session.execute(select(Borrower).where(Borrower.id.in_(ids)))
        return {b.id: b for b in rows.scalars()}

    async def active_loans_of(self, borrower_id: str) -> list[tuple[str, datetime, str]]:
        """The borrower's loans not yet returned: (loan id, due, item kind), in one read for
        both the overdue block and the per-kind limit."""
        rows = await on_connection(self.session, _ACTIVE_LOANS_OF, {"borrower_id": borrower_id})
        return [(loan_id, due_at, kind) for loan_id, due_at, kind in rows.all()]

    # --- loans ------------------------------------------------------------------------

    async def loan_for_update(self, loan_id: str) -> tuple[Loan, Item, Borrower] | None:
        loan = (
            await self.session.execute(self._for_update(select(Loan).where(Loan.id == loan_id)))
        ).scalar_one_or_none()
        if loan is None:
            return None
        item = await self.item(loan.item_id, lock=True)
        borrower = await self.session.get(Borrower, loan.borrower_id)
        assert item is not None and borrower is not None  # foreign keys
        return loan, item, borrower

    async def loan_owner(self, loan_id: str) -> str | None:
        return (
            await self.session.execute(select(Loan.borrower_id).where(Loan.id == loan_id))
        ).scalar_one_or_none()

    async def loan_row(self, loan_id: str) -> tuple[Loan, Item, Borrower] | None:
        row: Any = (await self.session.execute(self._loan_rows().where(Loan.id == loan_id))).first()
        return None if row is None else (row[0], row[1], row[2])

    @staticmethod
    def _loan_rows() -> Select[Loan, Item, Borrower]:
        return (
            select(Loan, Item, Borrower)
            .join(Item, Item.id == Loan.item_id)
            .join(Borrower, Borrower.id == Loan.borrower_id)
        )

    async def loans(
        self,
        now: datetime,
        *,
        borrower_ids: Sequence[str],
        status: str | None,  # active | overdue | returned
        limit: int,
        offset: int,
    ) -> list[tuple[Loan, Item, Borrower]]:
        query = self._loan_rows().order_by(Loan.started_at.desc(), Loan.id).limit(limit)
        query = query.offset(offset)
        for borrower_id in borrower_ids:
            query = query.where(Loan.borrower_id == borrower_id)
        if status == "returned":
            query = query.where(Loan.returned_at.is_not(None))
        elif status == "active":
            query = query.where(Loan.returned_at.is_(None), Loan.due_at > now)
        elif status == "overdue":
            query = query.where(Loan.returned_at.is_(None), Loan.due_at <= now)
        rows: Any = (await self.session.execute(query)).all()
        return [(loan, item, b) for loan, item, b in rows]

    # --- reservations -----------------------------------------------------------------

    async def reservation(self, reservation_id: int, *, lock: bool = False) -> Reservation | None:
        return await self.session.get(Reservation, reservation_id, with_for_update=lock or None)

    async def reservations(self, borrower_id: str | None, open_only: bool) -> Sequence[Reservation]:
        query = select(Reservation).order_by(Reservation.id).limit(1000)
        if borrower_id is not None:
            query = query.where(Reservation.borrower_id == borrower_id)
        if open_only:
            query = query.where(Reservation.status.in_(OPEN))
        return (await self.session.execute(query)).scalars().all()

    async def open_queue(self, hub: str) -> list[tuple[Reservation, Borrower, Item | None]]:
        """The hub's open reservations with their borrower and the item offered (if any)."""
        query = (
            select(Reservation, Borrower, Item)
            .join(Borrower, Borrower.id == Reservation.borrower_id)
            .outerjoin(Item, Item.id == Reservation.offered_item_id)
            .where(Reservation.hub == hub, Reservation.status.in_(OPEN))
            .order_by(Reservation.kind, Reservation.id)
        )
        rows: Any = (await self.session.execute(query)).all()
        return [(r, b, i) for r, b, i in rows]

    async def open_reservation_of(
        self, hub: str, kind: str, borrower_id: str
    ) -> Reservation | None:
        """The borrower's open reservation of the kind, if any: looked for by its id first,
        since most borrowers have none and a read of columns costs less than one of rows."""
        values = {"hub": hub, "kind": kind, "borrower_id": borrower_id}
        found = (await on_connection(self.session, _OPEN_RESERVATION_OF, values)).scalar()
        return None if found is None else await self.reservation(found)

    async def someone_waiting(self, hub: str, kind: str, before: datetime) -> bool:
        """Another borrower waits for this kind (now, or from a date before `before`)."""
        row = (
            await self.session.execute(
                select(Reservation.id)
                .where(
                    Reservation.hub == hub,
                    Reservation.kind == kind,
                    or_(
                        Reservation.status == ReservationStatus.OFFERED,
                        (Reservation.status == ReservationStatus.WAITING)
                        & (Reservation.wanted_from <= before),
                    ),
                )
                .limit(1)
            )
        ).first()
        return row is not None

    async def expire_offers(self, hub: str, kind: str, now: datetime) -> int:
        """Offers not taken up in time lapse (one statement for the kind)."""
        result = await self.session.execute(
            update(Reservation)
            .where(
                Reservation.hub == hub,
                Reservation.kind == kind,
                Reservation.status == ReservationStatus.OFFERED,
                Reservation.hold_until <= now,
            )
            .values(status=ReservationStatus.EXPIRED)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]  # an UPDATE's result

    async def next_waiting(self, hub: str, kind: str, now: datetime) -> Reservation | None:
        """The first in line whose date has come, locked (another offer skips it)."""
        query = (
            select(Reservation)
            .where(
                Reservation.hub == hub,
                Reservation.kind == kind,
                Reservation.status == ReservationStatus.WAITING,
                Reservation.wanted_from <= now,
            )
            .order_by(Reservation.id)
            .limit(1)
        )
        return (
            await self.session.execute(self._for_update(query, skip_locked=True))
        ).scalar_one_or_none()

    async def offers_of_item(self, item_id: str) -> Sequence[Reservation]:
        return (
            (
                await self.session.execute(
                    select(Reservation).where(
                        Reservation.offered_item_id == item_id,
                        Reservation.status == ReservationStatus.OFFERED,
                    )
                )
            )
            .scalars()
            .all()
        )

    async def kinds_with_offers_due(self, now: datetime) -> list[tuple[str, str]]:
        """(hub, kind) with a reservation whose date has come or an offer that lapsed."""
        rows = await self.session.execute(
            select(Reservation.hub, Reservation.kind)
            .where(
                (
                    (Reservation.status == ReservationStatus.WAITING)
                    & (Reservation.wanted_from <= now)
                )
                | (
                    (Reservation.status == ReservationStatus.OFFERED)
                    & (Reservation.hold_until <= now)
                )
            )
            .distinct()
        )
        return [(hub, kind) for hub, kind in rows.all()]

    # --- the scan ---------------------------------------------------------------------

    async def take_the_scan(self) -> bool:
        """The notice scan, for this transaction, or False while another replica's scan
        holds it. One scan at a time: two that split a borrower's loans between them (each
        skipping the rows the other locked) would each tell the borrower of some of them,
        where one notice should cover them all. On SQLite the write lock already
        serialises the scans."""
        return await try_advisory_xact_lock(self.session, "loans-notice-scan")

    async def due_for_notice(self, now: datetime, limit: int) -> list[tuple[Loan, Item, Borrower]]:
        """Loans whose next notice has come, with their item and borrower, in one read;
        another replica's scan holds its rows and they are skipped rather than awaited."""
        query = (
            self._loan_rows()
            .where(Loan.next_notice_at.is_not(None), Loan.next_notice_at <= now)
            .order_by(Loan.next_notice_at)
            .limit(limit)
        )
        if self._postgres:
            query = query.with_for_update(of=Loan, skip_locked=True)
        rows: Any = (await self.session.execute(query)).all()
        return [(loan, item, b) for loan, item, b in rows]

    async def claim_notices(self, claims: list[NoticeClaim], now: datetime) -> set[str]:
        """Insert each notice's key; the loans whose key was new (this scan tells them)."""
        if not claims:
            return set()
        rows = await self.session.execute(
            insert_for(self._dialect)(NoticeSent)
            .values(
                [
                    {
                        "loan_id": c.loan_id,
                        "renewal": c.renewal,
                        "kind": c.kind,
                        "level": c.level,
                        "borrower_id": c.borrower_id,
                        "sent_at": now,
                    }
                    for c in claims
                ]
            )
            .on_conflict_do_nothing(index_elements=["loan_id", "renewal", "kind", "level"])
            .returning(NoticeSent.loan_id)
        )
        return {row[0] for row in rows}

    async def note_notice_events(self, sent: list[tuple[NoticeClaim, str]]) -> None:
        """Each claimed notice names the event that carried it (one executemany)."""
        if not sent:
            return
        table = cast(Table, NoticeSent.__table__)
        await self.session.execute(
            update(table)
            .where(
                table.c.loan_id == bindparam("b_loan"),
                table.c.renewal == bindparam("b_renewal"),
                table.c.kind == bindparam("b_kind"),
                table.c.level == bindparam("b_level"),
                table.c.event_id.is_(None),
            )
            .values(event_id=bindparam("b_event")),
            [
                {
                    "b_loan": c.loan_id,
                    "b_renewal": c.renewal,
                    "b_kind": c.kind,
                    "b_level": c.level,
                    "b_event": event_id,
                }
                for c, event_id in sent
            ],
        )

    # --- the book swap ----------------------------------------------------------------

    async def shelf(self, hub: str, limit: int) -> tuple[int, Sequence[ShelfBook]]:
        on_shelf = (ShelfBook.hub == hub) & ShelfBook.taken_at.is_(None)
        count = (await self.session.execute(select(func.count()).where(on_shelf))).scalar_one()
        rows = (
            await self.session.execute(
                select(ShelfBook).where(on_shelf).order_by(ShelfBook.title).limit(limit)
            )
        ).scalars()
        return int(count), rows.all()

    async def book_on_shelf(
        self, hub: str, book_id: str | None, title: str | None
    ) -> ShelfBook | None:
        """A copy on the shelf, by id or by title (any case), the longest there first; locked."""
        query = select(ShelfBook).where(ShelfBook.hub == hub, ShelfBook.taken_at.is_(None))
        if book_id is not None:
            query = query.where(ShelfBook.id == book_id)
        elif title is not None:
            query = query.where(func.lower(ShelfBook.title) == title.lower())
        return (
            await self.session.execute(
                self._for_update(query.order_by(ShelfBook.brought_at).limit(1))
            )
        ).scalar_one_or_none()


# --- the check-out's statements, built once ------------------------------------------------
# A check-out is a handful of reads; building each statement anew (its expression tree and
# cache key) cost more than SQLite took to answer it (docs/bench.md, fifth pass). These
# take their values as bound parameters.

_CLOSURES_AFTER = (
    select(DeskClosure)
    .where(DeskClosure.hub == bindparam("hub"), DeskClosure.end_at > bindparam("after"))
    .order_by(DeskClosure.start_at)
)
# A calendar's closures: the fields of shared.calendar.Closure, in its order.
_CLOSURE_SPANS_AFTER = _CLOSURES_AFTER.with_only_columns(
    DeskClosure.start_at, DeskClosure.end_at, DeskClosure.reason
)

# The policy's columns are the rule's fields, read by name.
_POLICY = select(*(getattr(LoanPolicy, field.name) for field in fields(Policy))).where(
    LoanPolicy.hub == bindparam("hub"), LoanPolicy.kind == bindparam("kind")
)

_FREE_ITEM = (
    Store._lendable(bindparam("hub"), bindparam("kind"))
    .where(
        or_(Item.available_from.is_(None), Item.available_from <= bindparam("now")),
        ~Store._held_for_other(Item.id, bindparam("now"), bindparam("borrower_id")),
    )
    .order_by(Item.label)
    .limit(1)
)
_FREE_ITEM_SKIP_LOCKED = _FREE_ITEM.with_for_update(skip_locked=True)

_HELD_FOR_OTHER = select(
    Store._held_for_other(bindparam("item_id"), bindparam("now"), bindparam("borrower_id"))
)

_ACTIVE_LOANS_OF = (
    select(Loan.id, Loan.due_at, Item.kind)
    .join(Item, Item.id == Loan.item_id)
    .where(Loan.borrower_id == bindparam("borrower_id"), Loan.returned_at.is_(None))
)

_OPEN_RESERVATION_OF = (
    select(Reservation.id)
    .where(
        Reservation.hub == bindparam("hub"),
        Reservation.kind == bindparam("kind"),
        Reservation.borrower_id == bindparam("borrower_id"),
        Reservation.status.in_(_OPEN),
    )
    .order_by(Reservation.id)
    .limit(1)
)


@functools.cache
def _borrower_upsert(dialect: str) -> Any:
    """The borrower's upsert for the dialect; values are passed with each execution."""
    insert = insert_for(dialect)(cast(Table, Borrower.__table__))
    return insert.on_conflict_do_update(
        index_elements=["phone"],
        set_={
            "name": insert.excluded.name,
            # An empty or missing email keeps the one on file.
            "email": func.coalesce(func.nullif(insert.excluded.email, ""), Borrower.email),
            "language": insert.excluded.language,
            "token_hash": func.coalesce(Borrower.token_hash, insert.excluded.token_hash),
        },
    ).returning(*Borrower.__table__.c)


_LEND_ITEM = (
    update(Item).where(Item.id == bindparam("item_id")).values(current_loan_id=bindparam("loan_id"))
)
