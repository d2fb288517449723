"""One-click links in staff messages ("Godkjenn", "Avslå", "Aksepter bestillingen"): notify
writes them, the web front reads them. A link is `<WEB_PUBLIC_URL>/ansatt/lenke/<token>`,
the token signed (itsdangerous, HMAC-SHA256) over the action, the item's id and the expiry,
with ACTION_LINK_SECRET, which both know.

A token is not a credential: it names what to do, and the person who opens it must still be
signed in with a role that may do it (the service checks again). So it carries no personal
data and no identity, only `<action>.<item id>.<expiry, Unix seconds>` and the signature.
Single use is the web front's (a Redis key per link), since only it sees the use.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from itsdangerous import BadSignature, Signer

PATH = "/ansatt/lenke/"
MIN_SECRET_LENGTH = 16
# A salt of its own: a signature made for anything else with the same secret is no link.
_SALT = "knutepunkt.action-link.v1"
_ITEM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Action(StrEnum):
    APPROVE_BOOKING = "approve_booking"
    REJECT_BOOKING = "reject_booking"
    ACCEPT_ORDER = "accept_order"
    REJECT_ORDER = "reject_order"

    @property
    def item_field(self) -> str:
        """The event field that holds the item the action is on."""
        booking = self in (Action.APPROVE_BOOKING, Action.REJECT_BOOKING)
        return "booking_id" if booking else "order_id"

    @property
    def role(self) -> str:
        """The staff role that may do it (admin may do everything)."""
        return "booking" if self.item_field == "booking_id" else "cafe"

    @property
    def needs_reason(self) -> bool:
        return self in (Action.REJECT_BOOKING, Action.REJECT_ORDER)


class LinkRefused(Exception):
    """The token cannot be used: `expired` or `invalid` (bad signature, bad shape)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


@dataclass(frozen=True)
class ActionLink:
    action: Action
    item_id: str
    expires_at: datetime

    @property
    def use_key(self) -> str:
        """What single use is counted on: this action on this item, for this link's life.
        A digest, so the key names no item in Redis either."""
        raw = f"{self.action.value}.{self.item_id}.{int(self.expires_at.timestamp())}"
        return hashlib.sha256(raw.encode()).hexdigest()

    def seconds_left(self, now: datetime) -> int:
        return max(1, int((self.expires_at - now).total_seconds()))


class ActionLinks:
    """Signs and reads link tokens with one secret."""

    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"ACTION_LINK_SECRET must be at least {MIN_SECRET_LENGTH} characters")
        self._signer = Signer(
            secret, salt=_SALT, key_derivation="hmac", digest_method=hashlib.sha256
        )

    def token(self, action: Action, item_id: str, expires_at: datetime) -> str:
        if not _ITEM_ID.fullmatch(item_id):
            raise ValueError("an item id in a link is letters, digits, - and _ (at most 64)")
        payload = f"{action.value}.{item_id}.{int(expires_at.timestamp())}"
        return self._signer.sign(payload).decode("ascii")

    def url(self, base_url: str, action: Action, item_id: str, expires_at: datetime) -> str:
        return base_url.rstrip("/") + PATH + self.token(action, item_id, expires_at)

    def read(self, token: str, now: datetime) -> ActionLink:
        """The link a token stands for; LinkRefused("invalid") for one we did not sign (or
        signed with another secret), LinkRefused("expired") after its expiry."""
        try:
            payload = self._signer.unsign(token.encode("ascii")).decode("ascii")
        except (BadSignature, UnicodeError) as exc:
            raise LinkRefused("invalid") from exc
        parts = payload.split(".")
        if len(parts) != 3 or not parts[2].isdigit():
            raise LinkRefused("invalid")
        try:
            action = Action(parts[0])
        except ValueError as exc:
            raise LinkRefused("invalid") from exc
        expires_at = datetime.fromtimestamp(int(parts[2]), UTC)
        if now >= expires_at:
            raise LinkRefused("expired")
        return ActionLink(action, parts[1], expires_at)
