"""Manage links in the messages a booker gets: `<WEB_PUBLIC_URL>/mine/booking/<id>/<token>`;
so too a participant's about a sign-up (`/mine/pamelding/`, the kind `registration`) and a
café customer's about an order (`/mine/bestilling/`, the kind `order`), each signed over its
kind and id, so a token opens only the one thing it was made for.

The manage token a booking is made with is returned once, to whoever made it, and only its
hash is kept: notify never sees it. So the links in emails and SMS carry a second token of
the same standing, an HMAC of the booking's id with MANAGE_LINK_SECRET, which notify (that
writes the links) and the booking service (that takes it as X-Manage-Token) both know. It
names one booking and nothing else (no personal data); it does not expire, as the random
token does not, and a new secret makes every link sent before not valid.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from itsdangerous import Signer

MIN_SECRET_LENGTH = 16
# A salt of its own: a signature made with the same secret for anything else is no link.
_SALT = "knutepunkt.manage-link.v1"
PATHS = {
    "booking": "/mine/booking/",
    "registration": "/mine/pamelding/",
    "order": "/mine/bestilling/",
}
# A person's notification choices (`/mine/varsler/<token>`), linked at the foot of their
# emails: the token is notify's own (an HMAC of the address with its preference key), and
# the web front hands it to notify, which alone can check it.
PREFERENCES_PATH = "/mine/varsler/"
PREFERENCE_TOKEN = re.compile(r"^[0-9a-f]{32}$")  # services/notify/domain.preference_token


class ManageLinks:
    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"MANAGE_LINK_SECRET needs at least {MIN_SECRET_LENGTH} characters")
        self._signer = Signer(secret, salt=_SALT, digest_method=hashlib.sha256)

    def token(self, kind: str, item_id: str) -> str:
        """URL-safe base64 (no padding): fits a path segment as it is."""
        return self._signer.get_signature(f"{kind}.{item_id}").decode("ascii")

    def valid(self, token: str, kind: str, item_id: str) -> bool:
        return hmac.compare_digest(self.token(kind, item_id), token)

    def url(self, web_url: str, kind: str, item_id: str) -> str:
        return f"{web_url.rstrip('/')}{PATHS[kind]}{item_id}/{self.token(kind, item_id)}"
