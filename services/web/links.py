"""Single use of the one-click links (shared/action_links.py), kept in Redis: a key per link
(`<prefix>web:link:<digest of action, item and expiry>`), living until the link expires
anyway, so Redis forgets it only when it no longer matters.

A use first *claims* the key (SET NX, briefly), then does the action at the service, then
*spends* it (for good) or *releases* it (the service was down, the person's token had
expired, the form needs another try). Two people pressing at the same moment: one claims it,
the other is told the link is being used.
"""

from __future__ import annotations

from enum import StrEnum

from redis.asyncio import Redis

from shared.action_links import ActionLink

# Long enough for one call to a slow service (WEB_SERVICE_TIMEOUT_SECONDS is 10 by default);
# a claim whose holder died frees itself after this.
CLAIM_SECONDS = 120


class LinkState(StrEnum):
    FRESH = "fresh"
    BUSY = "busy"
    USED = "used"


class UsedLinks:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def _key(self, link: ActionLink) -> str:
        return f"{self.prefix}web:link:{link.use_key}"

    async def state(self, link: ActionLink) -> LinkState:
        value = await self.redis.get(self._key(link))
        if value is None:
            return LinkState.FRESH
        text = value.decode() if isinstance(value, bytes) else value
        return LinkState.USED if text == LinkState.USED else LinkState.BUSY

    async def claim(self, link: ActionLink, seconds_left: int) -> bool:
        """True when this use may go ahead: nobody has used or is using the link."""
        ttl = min(CLAIM_SECONDS, seconds_left)
        return bool(await self.redis.set(self._key(link), LinkState.BUSY.value, nx=True, ex=ttl))

    async def spend(self, link: ActionLink, seconds_left: int) -> None:
        """Used for good: until the link would have expired anyway."""
        await self.redis.set(self._key(link), LinkState.USED.value, ex=seconds_left)

    async def release(self, link: ActionLink) -> None:
        await self.redis.delete(self._key(link))
