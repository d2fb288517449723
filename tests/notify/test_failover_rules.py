"""When the first SMS gateway counts as down (pure rules, no HTTP)."""

from __future__ import annotations

from services.notify.domain import FALLBACK, PRIMARY, CircuitBreaker, SendResult, gateway_for

DOWN = SendResult.transient("SMS gateway unreachable: ConnectError", unsent=True)


def test_the_breaker_opens_after_n_transient_failures_in_a_row_for_its_cooldown() -> None:
    breaker = CircuitBreaker(after=3, cooldown=60)
    breaker.record(DOWN, now=0)
    breaker.record(DOWN, now=1)
    assert not breaker.is_open(1)
    breaker.record(DOWN, now=2)
    assert breaker.is_open(2) and breaker.is_open(61)
    assert not breaker.is_open(62)  # one message tries the first again
    breaker.record(DOWN, now=62)
    assert breaker.is_open(63)  # still down: open anew
    breaker.record(SendResult.sent("x"), now=130)
    assert not breaker.is_open(130) and breaker.failures == 0


def test_an_answer_in_between_resets_the_count() -> None:
    breaker = CircuitBreaker(after=2, cooldown=60)
    breaker.record(DOWN, now=0)
    breaker.record(SendResult.permanent("SMS gateway 400"), now=1)
    breaker.record(DOWN, now=2)
    assert not breaker.is_open(2)


def test_a_message_goes_where_it_may_already_be() -> None:
    assert gateway_for(None, breaker_open=False) == PRIMARY
    assert gateway_for(None, breaker_open=True) == FALLBACK
    assert gateway_for(PRIMARY, breaker_open=True) == PRIMARY
    assert gateway_for(FALLBACK, breaker_open=False) == FALLBACK


def test_only_a_result_the_gateway_may_hold_pins_the_message() -> None:
    maybe = SendResult.transient("SMS gateway timed out")
    assert SendResult(**{**maybe.__dict__, "gateway": PRIMARY}).held_by() == PRIMARY
    assert SendResult(**{**DOWN.__dict__, "gateway": PRIMARY}).held_by() is None
