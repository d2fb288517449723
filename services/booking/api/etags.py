"""ETags on the staff's lists: a list that has not changed since the caller last fetched it
is answered 304 Not Modified, without the rows it would otherwise load, shape and send
again (the staff desk asks for the same day's bookings on every page and live update).

The tag is the use case's version of what the list was made from, and the shape of the
answer (its model's schema and this code's release), so that a release that changes the
answer does not keep an old one alive. A 304 is given only for a tag the access log knows
the readers of, so the log records the look as it would the answer (shared/access_log.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from functools import cache
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel

from services.booking.usecases import Listing
from shared import access_log
from shared.service import VERSION, runtime_of

NOT_MODIFIED = "the list is the one with the ETag sent as If-None-Match"
# Personal data: no shared cache may keep it; the caller's own must ask each time.
CACHE_CONTROL = "private, no-cache"


async def answered(
    request: Request,
    response: Response,
    model: type[BaseModel],
    listed: Callable[[Any, str | None], Awaitable[Listing]],
    shaped: Callable[[Listing], Sequence[BaseModel]],
) -> Sequence[BaseModel] | Response:
    """A list route's answer: `listed(uow, held)` in a read-only unit of work, then 304
    when the caller holds its version, else the list `shaped`, with its ETag."""
    known = held(request, model)
    found = await runtime_of(request).uow.run(lambda uow: listed(uow, known), read_only=True)
    tag = etag(found, model)
    if found.unchanged:
        return not_modified(tag)
    tagged(response, tag)
    return shaped(found)


def etag(listing: Listing, model: type[BaseModel]) -> str:
    return f'"{_shape(model)}-{listing.version}"'


def held(request: Request, model: type[BaseModel]) -> str | None:
    """The version of the list the caller holds: from an If-None-Match tag of this shape
    whose readers the access log knows; None when there is none (a full answer)."""
    asked = request.headers.get("if-none-match")
    if not asked:
        return None
    shape = f'"{_shape(model)}-'
    for tag in (t.strip().removeprefix("W/") for t in asked.split(",")):
        if tag.startswith(shape) and tag.endswith('"') and _known(tag):
            return tag[len(shape) : -1]
    return None


def _known(tag: str) -> bool:
    return access_log.readers_of(tag) is not None  # an answer that named nobody is known too


def not_modified(tag: str) -> Response:
    return Response(status_code=304, headers={"ETag": tag, "Cache-Control": CACHE_CONTROL})


def tagged(response: Response, tag: str) -> None:
    response.headers["ETag"] = tag
    response.headers["Cache-Control"] = CACHE_CONTROL


@cache
def _shape(model: type[BaseModel]) -> str:
    schema = json.dumps(model.model_json_schema(), sort_keys=True)
    return hashlib.blake2b(f"{VERSION}{schema}".encode(), digest_size=6).hexdigest()
