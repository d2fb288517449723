"""The services' answers that came with an ETag, kept so that the next call for the same
thing by the same person asks "changed since?" (If-None-Match) and an unchanged answer comes
back as 304 Not Modified, without the service loading, shaping and sending it again.

Still one call per page with the person's own token: the service checks the token and its
roles, and logs the look in its access log, each time; only the body is not sent again.
Kept per person and address, in this process's memory only, a bounded number and a short
while: these are staff views of bookers' contacts.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

MAX_ANSWERS = 256
MAX_AGE_SECONDS = 600.0

Key = tuple[str, str, str]  # the service, the address with its query, the person's token


@dataclass(frozen=True)
class Kept:
    etag: str
    value: Any  # the parsed answer: like the public cache's, never changed by a page
    at: float


class KeptAnswers:
    def __init__(self) -> None:
        self._kept: OrderedDict[Key, Kept] = OrderedDict()

    def get(self, key: Key) -> Kept | None:
        kept = self._kept.get(key)
        if kept is None:
            return None
        if time.monotonic() - kept.at > MAX_AGE_SECONDS:
            del self._kept[key]
            return None
        return kept

    def keep(self, key: Key, etag: str, value: Any) -> None:
        self._kept[key] = Kept(etag, value, time.monotonic())
        self._kept.move_to_end(key)
        while len(self._kept) > MAX_ANSWERS:
            self._kept.popitem(last=False)

    def confirmed(self, key: Key, kept: Kept) -> None:
        """The service said it is unchanged: kept as long again."""
        self.keep(key, kept.etag, kept.value)

    def forget(self, token: str) -> None:
        """A person signed out: nothing fetched with their token stays."""
        for key in [k for k in self._kept if k[2] == token]:
            del self._kept[key]
