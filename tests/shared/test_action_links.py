"""One-click link tokens (shared/action_links.py): signed, expiring, bound to one action on
one item, and nothing personal in them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from shared.action_links import PATH, Action, ActionLinks, LinkRefused

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=72)
SECRET = "a-test-secret-of-enough-length"
BOOKING = "0b8f4c1e-5d3a-4f0e-9a57-1c2d3e4f5a6b"


def test_a_token_reads_back_as_its_action_item_and_expiry() -> None:
    links = ActionLinks(SECRET)
    link = links.read(links.token(Action.APPROVE_BOOKING, BOOKING, LATER), NOW)
    assert (link.action, link.item_id, link.expires_at) == (Action.APPROVE_BOOKING, BOOKING, LATER)
    assert link.action.role == "booking" and not link.action.needs_reason
    assert Action.REJECT_ORDER.role == "cafe" and Action.REJECT_ORDER.needs_reason


def test_the_url_is_the_desks_link_page() -> None:
    url = ActionLinks(SECRET).url("https://hub.example.org/", Action.ACCEPT_ORDER, "o-1", LATER)
    assert url.startswith("https://hub.example.org" + PATH + "accept_order.o-1.")


def test_expired_at_its_expiry() -> None:
    links = ActionLinks(SECRET)
    token = links.token(Action.APPROVE_BOOKING, BOOKING, LATER)
    assert links.read(token, LATER - timedelta(seconds=1)).item_id == BOOKING
    with pytest.raises(LinkRefused) as refused:
        links.read(token, LATER)
    assert refused.value.why == "expired"


@pytest.mark.parametrize(
    "tamper",
    [
        # another action, another item, a later expiry: each breaks the signature
        lambda t: t.replace("approve_booking", "reject_booking", 1),
        lambda t: t.replace(BOOKING, BOOKING[:-1] + "c", 1),
        lambda t: t.replace(str(int(LATER.timestamp())), str(int(LATER.timestamp()) + 86400), 1),
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: t.rsplit(".", 1)[0],
        lambda t: "",
        lambda t: t + "æ",
    ],
)
def test_a_changed_token_is_not_valid(tamper: Callable[[str], str]) -> None:
    links = ActionLinks(SECRET)
    token = links.token(Action.APPROVE_BOOKING, BOOKING, LATER)
    with pytest.raises(LinkRefused) as refused:
        links.read(tamper(token), NOW)
    assert refused.value.why == "invalid"


def test_another_secret_does_not_read_it() -> None:
    token = ActionLinks(SECRET).token(Action.APPROVE_BOOKING, BOOKING, LATER)
    with pytest.raises(LinkRefused):
        ActionLinks(SECRET + "-rotated").read(token, NOW)


def test_one_use_key_per_action_item_and_link() -> None:
    links = ActionLinks(SECRET)

    def key(action: Action, item: str, expires: datetime) -> str:
        return links.read(links.token(action, item, expires), NOW).use_key

    first = key(Action.APPROVE_BOOKING, BOOKING, LATER)
    assert first == key(Action.APPROVE_BOOKING, BOOKING, LATER)
    assert first != key(Action.REJECT_BOOKING, BOOKING, LATER)
    assert first != key(Action.APPROVE_BOOKING, "another", LATER)
    assert BOOKING not in first  # a digest: the Redis key names no item


def test_a_short_secret_or_a_strange_item_id_is_refused() -> None:
    with pytest.raises(ValueError, match="ACTION_LINK_SECRET"):
        ActionLinks("short")
    with pytest.raises(ValueError):
        ActionLinks(SECRET).token(Action.APPROVE_BOOKING, "kari@example.org", LATER)
