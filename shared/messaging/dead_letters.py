"""The dead-letter record: what a consumer writes to `<stream>.dlq`, and how it is read back.

A dead letter is the original entry's fields, byte for byte (so that a replay puts back
exactly what was published), plus `dlq_*` fields saying where it came from and why it was
given up: the stream (without prefix), the entry id there, the group and consumer that gave
up, the error, how many deliveries it had, and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from redis.typing import EncodableT, FieldT

from shared.events import WIRE_FIELD
from shared.messaging.redis import as_str

STREAM = "dlq_stream"
ENTRY_ID = "dlq_entry_id"
GROUP = "dlq_group"
CONSUMER = "dlq_consumer"
ERROR = "dlq_error"
DELIVERIES = "dlq_deliveries"
AT = "dlq_at"
META_FIELDS = (STREAM, ENTRY_ID, GROUP, CONSUMER, ERROR, DELIVERIES, AT)

MAX_ERROR_CHARS = 2000

# What redis-py takes as an entry's fields.
RecordFields = dict[FieldT, EncodableT]


@dataclass(frozen=True)
class DeadLetter:
    dlq: str  # the dead-letter stream's full name
    id: str  # its entry id there
    stream: str  # the original stream (without prefix)
    entry_id: str
    group: str
    consumer: str
    error: str
    deliveries: int
    at: str
    payload: str | None  # the original `__data__`, when there was one
    fields: dict[str, str]  # the original entry's own fields, readable
    raw: dict[bytes, bytes]  # the same, byte for byte, for replay


def record(
    fields: dict[bytes, bytes],
    *,
    stream: str,
    entry_id: bytes | str,
    group: str,
    consumer: str,
    error: str,
    deliveries: int,
    at: datetime | None = None,
) -> RecordFields:
    """The dead letter of an entry of `stream` (its base name, without prefix)."""
    out: RecordFields = dict(fields.items())
    out.update(
        {
            STREAM: stream,
            ENTRY_ID: as_str(entry_id),
            GROUP: group,
            CONSUMER: consumer,
            ERROR: error[:MAX_ERROR_CHARS],
            DELIVERIES: str(deliveries),
            AT: (at or datetime.now(UTC)).isoformat(),
        }
    )
    return out


def read(dlq: str, entry_id: bytes | str, raw: dict[bytes, bytes]) -> DeadLetter:
    """A dead letter as stored at `entry_id` of the dead-letter stream `dlq`."""
    fields = {_text(k): _text(v) for k, v in raw.items()}
    original = {k: v for k, v in fields.items() if k not in META_FIELDS}
    original_raw = {k: v for k, v in raw.items() if _text(k) not in META_FIELDS}
    return DeadLetter(
        dlq=dlq,
        id=as_str(entry_id),
        stream=fields.get(STREAM, ""),
        entry_id=fields.get(ENTRY_ID, ""),
        group=fields.get(GROUP, ""),
        consumer=fields.get(CONSUMER, ""),
        error=fields.get(ERROR, ""),
        deliveries=int(fields.get(DELIVERIES, "0") or 0),
        at=fields.get(AT, ""),
        payload=original.get(WIRE_FIELD),
        fields=original,
        raw=original_raw,
    )


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
