"""Events and dead letters the ops tests put on the hub's streams (placeholder contacts)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time

from shared.calendar import Calendar, at_local, local_date
from shared.events import (
    BOOKING_STREAM,
    BookingConfirmed,
    CateringLine,
    CateringRequest,
    Contact,
    Envelope,
    LoanReturned,
    new_event,
)

EMAIL = "ops-test@example.org"
PHONE = "+4700000099"


def _contact() -> Contact:
    return Contact(name="Test Testesen", email=EMAIL, phone=PHONE)


def booking_confirmed(with_catering: bool = False) -> Envelope:
    calendar = Calendar()
    day = calendar.add_working_days(local_date(datetime.now(UTC)), 5)
    start, end = at_local(day, time(10)), at_local(day, time(12))
    catering = None
    if with_catering:
        catering = CateringRequest(
            lines=[CateringLine(item_id="kaffe-te", quantity=4)], people=4, serve_at=start
        )
    return new_event(
        BookingConfirmed(
            booking_id=str(uuid.uuid4()),
            hub="stromso",
            resource_id="moterom-2",
            resource_name="Møterom 2",
            start=start,
            end=end,
            booker_type="organisation",
            booker=_contact(),
            organisation_name="Ops-testlaget",
            attendees=4,
            catering=catering,
        )
    )


def loan_returned() -> Envelope:
    return new_event(
        LoanReturned(
            loan_id=str(uuid.uuid4()),
            hub="stromso",
            item_id=str(uuid.uuid4()),
            item_label="PC 9",
            item_kind="pc",
            borrower_id=str(uuid.uuid4()),
            borrower=_contact(),
            returned_at=datetime.now(UTC),
            condition="ok",
        )
    )


def dead_letter_fields(envelope: Envelope, group: str, error: str) -> dict[str, str]:
    """A dead letter as the backbone writes one after the group gave up on the event."""
    return {
        "__data__": envelope.to_json(),
        "dlq_stream": BOOKING_STREAM,
        "dlq_entry_id": "1-1",
        "dlq_group": group,
        "dlq_consumer": f"{group}-test",
        "dlq_error": error,
        "dlq_deliveries": "5",
        "dlq_at": datetime.now(UTC).isoformat(),
    }
