"""A participant in a public activity, through notify's fan-out use case on SQLite and
PostgreSQL: told of their sign-up by email, by SMS too when moved up close to the start,
and by SMS alone when they gave only a phone number."""

from __future__ import annotations

from services.notify.routing import FanoutRules
from shared.events import Contact
from tests.notify.samples import sample
from tests.notify.test_usecases import NOON, deliveries, fan_out, notify_units, rules

__all__ = ["rules"]  # the module's fixture, shared

PARTICIPANT = Contact(name="Ola Deltaker", email="ola@example.org", phone="+47 000 00 012")


async def test_the_participant_is_told_by_email_and_by_sms_when_it_is_urgent(
    database_url: str, rules: FanoutRules
) -> None:
    async with notify_units(database_url, NOON) as (units, _clock):
        signed = sample("RegistrationConfirmed", participant=PARTICIPANT)
        rows = await deliveries(units, await fan_out(units, rules, signed))
        assert [(r.channel, r.recipient) for r in rows] == [("email", "ola@example.org")]

        calm = sample("RegistrationPromoted", participant=PARTICIPANT, short_notice=False)
        rows = await deliveries(units, await fan_out(units, rules, calm))
        assert [r.channel for r in rows] == ["email"]

        soon = sample("RegistrationPromoted", participant=PARTICIPANT, short_notice=True)
        rows = await deliveries(units, await fan_out(units, rules, soon))
        assert sorted(r.channel for r in rows) == ["email", "sms"]
        (sms,) = [r for r in rows if r.channel == "sms"]
        assert sms.recipient == "+4700000012" and "fått plass" in sms.body_text

        phone_only = PARTICIPANT.model_copy(update={"email": None})
        for kind in ("RegistrationWaitlisted", "RegistrationCancelled"):
            data = sample(kind, participant=phone_only)
            rows = await deliveries(units, await fan_out(units, rules, data))
            assert [(r.channel, r.recipient) for r in rows] == [("sms", "+4700000012")]
