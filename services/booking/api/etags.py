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
from functools import cache
from importlib.metadata import PackageNotFoundError, version

from fastapi import Request, Response
from pydantic import BaseModel

from services.booking.usecases import Listing
from shared import access_log

NOT_MODIFIED = "the list is the one with the ETag sent as If-None-Match"
# Personal data: no shared cache may keep it; the caller's own must ask each time.
CACHE_CONTROL = "private, no-cache"


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
    try:
        release = version("knutepunkt")
    except PackageNotFoundError:
        release = ""
    schema = json.dumps(model.model_json_schema(), sort_keys=True)
    return hashlib.blake2b(f"{release}{schema}".encode(), digest_size=6).hexdigest()
