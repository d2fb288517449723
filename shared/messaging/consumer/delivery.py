"""What a handler gets and is: a delivery (the event and a unit of work bound to the inbox
transaction), one handler per event type, or a batch handler that takes a run of them."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from shared.events import Envelope, EventData
from shared.unit_of_work import UnitOfWork

S = TypeVar("S")


@dataclass
class Delivery(Generic[S]):
    """What a handler gets: the event, and a unit of work bound to the consumer's inbox
    transaction (its store, its clock, `record` for the handler's own events)."""

    uow: UnitOfWork[S]
    envelope: Envelope
    data: EventData


Handler = Callable[[Delivery[Any]], Awaitable[None]]
BatchHandler = Callable[[list[Delivery[Any]]], Awaitable[None]]


class _TakesBatch:
    """A batch handler seen as a handler: called with one delivery, it gets a list of one."""

    def __init__(self, fn: BatchHandler) -> None:
        self.batch = fn
        functools.update_wrapper(self, fn)

    async def __call__(self, delivery: Delivery[Any]) -> None:
        await self.batch([delivery])


def batch_handler(fn: BatchHandler) -> Handler:
    """Mark a handler that takes the fresh deliveries of a batch at once (one multi-row
    statement instead of one per event): each run of consecutive ones it handles, whatever
    their types when it is the handler of several. It may be called with a single one."""
    return _TakesBatch(fn)


def batch_of(handler: Handler) -> BatchHandler | None:
    """The batch form of a handler made with `batch_handler`, else None."""
    return handler.batch if isinstance(handler, _TakesBatch) else None
