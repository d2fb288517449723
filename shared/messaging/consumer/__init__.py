"""Consumers: a service's consumer group on the streams it listens to.

The promises it keeps (docs/architecture.md, "Consumer"): a group is created at the start of
its stream, reads are bounded, and a batch is handled in one transaction together with its
inbox records, then acked (the ack rides with the next read). A duplicate changes nothing. A
failed entry stays pending and is retried with exponential backoff; after `max_deliveries` it
goes to `<stream>.dlq` with the error. An entry that cannot be parsed goes there at once.
Entries left pending by a dead consumer are taken over after `claim_idle_ms` (XAUTOCLAIM).

One concern per module: `loop` (the read loop, held batches, reconnecting), `batch` (a read
batch applied in one transaction), `inbox` (the duplicate check), `failures` (retry with
backoff, dead letters), `reclaim` (retries due, and what dead consumers left), `acks`,
`member` (the group and consumer the parts read as) and `delivery` (what handlers get).
"""

from shared.messaging.consumer.batch import DatabaseDown
from shared.messaging.consumer.delivery import (
    BatchHandler,
    Delivery,
    Handler,
    batch_handler,
    batch_of,
)
from shared.messaging.consumer.loop import Consumer, ConsumerConfig, default_consumer_name
from shared.messaging.redis import Entry, Fields

__all__ = [
    "BatchHandler",
    "Consumer",
    "ConsumerConfig",
    "DatabaseDown",
    "Delivery",
    "Entry",
    "Fields",
    "Handler",
    "batch_handler",
    "batch_of",
    "default_consumer_name",
]
