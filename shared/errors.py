"""The one refusal vocabulary of every service.

Domain rules and use cases say no by raising one of these; they know nothing of HTTP. The
HTTP edge (`shared.service.problems`) turns each kind into its status code and an RFC 9457
problem details body, the same for every service.

A refusal carries a stable reason `code` (clients and pages branch on it, never on the
text), a message in English and, where written, in Bokmål (`nb`), and `details` that a client
can act on (the conflicting booking, the next free day, the field at fault).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    REFUSED = "refused"
    NOT_ALLOWED = "not_allowed"
    NOT_AUTHENTICATED = "not_authenticated"
    BUSY = "busy"
    UNAVAILABLE = "unavailable"


class Refusal(Exception):
    """A reasoned no. Subclasses fix the kind; `code` defaults to the kind's name."""

    kind: Kind = Kind.REFUSED

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        nb: str | None = None,
        field: str | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.kind.value
        self.nb = nb
        # The request field at fault, so that a page can show the reason beside it.
        self.field = field
        self.details = details

    def text(self, language: str = "en") -> str:
        return self.nb if language == "nb" and self.nb else self.message


class NotFound(Refusal):
    kind = Kind.NOT_FOUND


class Conflict(Refusal):
    """The change collides with the current state; `conflict` names what it collides with."""

    kind = Kind.CONFLICT


class Refused(Refusal):
    """A rule says no to a request that is well formed (too late, too long, full, closed)."""

    kind = Kind.REFUSED


class NotAllowed(Refusal):
    kind = Kind.NOT_ALLOWED


class NotAuthenticated(Refusal):
    kind = Kind.NOT_AUTHENTICATED


class Busy(Refusal):
    """Nothing was done and trying again soon will likely work (a deadlock victim)."""

    kind = Kind.BUSY

    def __init__(self, message: str, *, retry_after: int = 1, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class Unavailable(Busy):
    """A part the service needs (its database, its disk) does not answer; nothing was done."""

    kind = Kind.UNAVAILABLE
