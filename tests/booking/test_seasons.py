"""Seasons through the API: apply, allocate, publish over holidays and a closure, give
back with the waiting list, report; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import func, select

from services.booking.models import Booking
from services.booking.timers import expire_offers
from services.notify import usecases as notify_usecases
from services.notify.routing import FanoutRules
from shared.calendar import local
from shared.events import Envelope, parse_data
from tests.booking.conftest import (
    BOOKING_STAFF,
    DESK_STAFF,
    Clock,
    booking_events,
    org_booking,
)
from tests.notify.test_usecases import NOON, deliveries, notify_units, rules
from tests.support.apps import RunningService
from tests.support.waiting import wait_for

__all__ = ["rules"]  # notify's fan-out rules, a fixture

# Valid organisation numbers (MOD11).
YOUTH_CLUB, ADULT_CLUB, SENIOR_CLUB = "974760606", "974760614", "974760622"


def season_body(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resource_id": "gymsalen",
        "name": "Vår 2027",
        "starts_on": "2027-03-08",
        "ends_on": "2027-06-13",
        "applications_open_at": "2027-03-01T00:00:00+01:00",
        "applications_close_at": "2027-03-05T00:00:00+01:00",
        "frame": {"mon-fri": "17:00-21:00"},
        "slot_minutes": 60,
    }
    body.update(extra)
    return body


def application(number: str, group: str, *wishes: tuple[str, str], **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "organisation": {"number": number, "name": f"Klubb {number[-3:]}"},
        "contact": {"name": "Kari Nordmann", "email": f"leder{number[-3:]}@example.org"},
        "target_group": group,
        "activity": "Basistrening",
        "participants": 20,
        "wishes": [{"weekday": d, "start": t} for d, t in wishes],
    }
    body.update(extra)
    return body


async def open_season(svc: RunningService, **extra: Any) -> str:
    made = await svc.client.post("/seasons", headers=BOOKING_STAFF, json=season_body(**extra))
    assert made.status_code == 201, made.text
    season_id = str(made.json()["id"])
    opened = await svc.client.post(f"/seasons/{season_id}/open", headers=BOOKING_STAFF)
    assert opened.status_code == 200, opened.text
    return season_id


async def apply(svc: RunningService, season_id: str, body: dict[str, Any]) -> dict[str, Any]:
    made = await svc.client.post(f"/seasons/{season_id}/applications", json=body)
    assert made.status_code == 201, made.text
    return dict(made.json())


async def close_and_propose(svc: RunningService, season_id: str) -> dict[str, Any]:
    closed = await svc.client.post(f"/seasons/{season_id}/close", headers=BOOKING_STAFF)
    assert closed.status_code == 200, closed.text
    proposed = await svc.client.post(f"/seasons/{season_id}/proposal", headers=BOOKING_STAFF)
    assert proposed.status_code == 200, proposed.text
    return dict(proposed.json())


async def publish(svc: RunningService, season_id: str) -> dict[str, Any]:
    done = await svc.client.post(f"/seasons/{season_id}/publish", headers=BOOKING_STAFF)
    assert done.status_code == 200, done.text
    return dict(done.json())


async def events_of(redis: Redis, prefix: str, kind: str, count: int) -> list[Envelope]:
    """The stream's events of one type once there are `count` of them (the outbox relay
    publishes after the commit)."""

    async def enough() -> list[Envelope] | None:
        found = [e for e in await booking_events(redis, prefix) if e.type == kind]
        return found if len(found) >= count else None

    return await wait_for(enough, timeout=10)


async def active_bookings(svc: RunningService) -> int:
    async with svc.runtime.db.read() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Booking)
                .where(Booking.status.in_(("pending", "confirmed")))
            )
            or 0
        )


async def test_only_a_booking_officer_creates_a_season_and_bad_input_is_4xx(
    service: RunningService,
) -> None:
    assert (await service.client.post("/seasons", json=season_body())).status_code == 401
    desk = await service.client.post("/seasons", headers=DESK_STAFF, json=season_body())
    assert desk.status_code == 403
    for bad in (
        season_body(ends_on="2027-01-01"),
        season_body(frame={"tue": "18:00-18:30"}),
        season_body(frame={"xyz": "18:00-20:00"}),
        season_body(applications_close_at="2027-02-01T00:00:00+01:00"),
        season_body(resource_id="nope"),
    ):
        answer = await service.client.post("/seasons", headers=BOOKING_STAFF, json=bad)
        assert answer.status_code in (404, 422), answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")


async def test_applications_are_taken_changed_and_withdrawn_only_while_the_window_is_open(
    service: RunningService, redis: Redis, prefix: str
) -> None:
    made = await service.client.post("/seasons", headers=BOOKING_STAFF, json=season_body())
    season_id = made.json()["id"]
    body = application(YOUTH_CLUB, "youth", ("tue", "18:00"), ("thu", "18:00"))
    early = await service.client.post(f"/seasons/{season_id}/applications", json=body)
    assert early.status_code == 409 and early.json()["code"] == "season_not_accepting"
    await service.client.post(f"/seasons/{season_id}/open", headers=BOOKING_STAFF)

    bad_number = application("974760607", "youth", ("tue", "18:00"))
    refused = await service.client.post(f"/seasons/{season_id}/applications", json=bad_number)
    assert refused.status_code == 422 and refused.json()["code"] == "organisation_number_invalid"
    off_grid = application(YOUTH_CLUB, "youth", ("tue", "18:30"))
    refused = await service.client.post(f"/seasons/{season_id}/applications", json=off_grid)
    assert refused.status_code == 422 and refused.json()["code"] == "slot_outside_frame"

    created = await apply(service, season_id, body)
    token = {"X-Manage-Token": created["manage_token"]}
    path = f"/season-applications/{created['id']}"
    assert (await service.client.get(path)).status_code == 401
    wrong = await service.client.get(path, headers={"X-Manage-Token": "nope"})
    assert wrong.status_code == 403
    changed = await service.client.put(
        path, headers=token, json={**body, "wishes": [{"weekday": "wed", "start": "19:00"}]}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["wishes"] == [{"weekday": "wed", "start": "19:00", "end": "20:00"}]

    received = await events_of(redis, prefix, "ApplicationReceived", 2)
    assert [e.data["changed"] for e in received] == [False, True]
    assert received[0].data["booker"]["email"] == "leder606@example.org"

    other = await apply(service, season_id, application(ADULT_CLUB, "adults", ("tue", "18:00")))
    gone = await service.client.post(
        f"/season-applications/{other['id']}/withdraw",
        headers={"X-Manage-Token": other["manage_token"]},
    )
    assert gone.status_code == 200 and gone.json()["status"] == "withdrawn"

    await service.client.post(f"/seasons/{season_id}/close", headers=BOOKING_STAFF)
    late = await service.client.put(path, headers=token, json=body)
    assert late.status_code == 409 and late.json()["code"] == "season_not_accepting"


async def test_competing_tuesday_18_is_resolved_by_the_rules_and_explained(
    service: RunningService,
) -> None:
    season_id = await open_season(service)
    adults = await apply(service, season_id, application(ADULT_CLUB, "adults", ("tue", "18:00")))
    youth = await apply(service, season_id, application(YOUTH_CLUB, "youth", ("tue", "18:00")))
    proposal = await close_and_propose(service, season_id)
    assert [a["application_id"] for a in proposal["allocations"]] == [youth["id"]]
    lost = next(d for d in proposal["decisions"] if d["application_id"] == adults["id"])
    assert (lost["outcome"], lost["rule"], lost["holder"]) == (
        "declined",
        "target_group",
        youth["id"],
    )
    assert "Klubb 606" in lost["reason_nb"]
    again = await service.client.post(f"/seasons/{season_id}/proposal", headers=BOOKING_STAFF)
    assert again.json()["decisions"] == proposal["decisions"]  # deterministic

    # The officer sees the contest and each club's hours, and adjusts by hand.
    seen = (
        await service.client.get(f"/seasons/{season_id}/allocations", headers=BOOKING_STAFF)
    ).json()
    assert seen["conflicts"][0]["slot"] == {"weekday": "tue", "start": "18:00", "end": "19:00"}
    assert len(seen["conflicts"][0]["wished_by"]) == 2
    assert seen["hours_per_organisation"] == {YOUTH_CLUB: 1.0}
    taken = await service.client.post(
        f"/seasons/{season_id}/allocations",
        headers=BOOKING_STAFF,
        json={"application_id": adults["id"], "weekday": "tue", "start": "18:00"},
    )
    assert taken.status_code == 409
    assert taken.json()["allocation_id"] == seen["allocations"][0]["id"]
    granted = await service.client.post(
        f"/seasons/{season_id}/allocations",
        headers=BOOKING_STAFF,
        json={"application_id": adults["id"], "weekday": "tue", "start": "19:00"},
    )
    assert granted.status_code == 201 and granted.json()["rule"] == "manual"
    moved = await service.client.patch(
        f"/season-allocations/{granted.json()['id']}",
        headers=BOOKING_STAFF,
        json={"weekday": "wed", "start": "19:00"},
    )
    assert moved.status_code == 200 and moved.json()["weekday"] == "wed"


async def test_publishing_skips_easter_ascension_and_a_closure_and_blocks_the_rest(
    service: RunningService, redis: Redis, prefix: str, clock: Clock
) -> None:
    season_id = await open_season(service)
    youth = await apply(service, season_id, application(YOUTH_CLUB, "youth", ("thu", "18:00")))
    await apply(service, season_id, application(ADULT_CLUB, "adults", ("thu", "18:00")))
    closure = await service.client.post(
        "/closures",
        headers=BOOKING_STAFF,
        json={
            "resource_id": "gymsalen",
            "start": "2027-04-15T00:00:00+02:00",
            "end": "2027-04-16T00:00:00+02:00",
            "reason": "Vannlekkasje",
        },
    )
    assert closure.status_code == 201, closure.text
    # A birthday party booked before publishing keeps its time; that Thursday is skipped.
    party = org_booking("gymsalen", "2027-04-01T17:00:00+02:00", "2027-04-01T18:30:00+02:00")
    assert (await service.client.post("/bookings", json=party)).status_code == 201
    await close_and_propose(service, season_id)
    before = await active_bookings(service)

    done = await publish(service, season_id)
    assert done["already_published"] is False
    [slot] = done["allocations"]
    skipped = {s["date"]: s["reason"] for s in slot["skipped"]}
    assert set(skipped) == {"2027-03-25", "2027-05-06", "2027-04-15", "2027-04-01"}
    assert "Skjærtorsdag" in skipped["2027-03-25"]
    assert "Kristi himmelfartsdag" in skipped["2027-05-06"]
    assert "Vannlekkasje" in skipped["2027-04-15"]
    assert skipped["2027-04-01"].startswith("already booked")
    thursdays = 14  # 11 March to 10 June
    assert slot["occurrences"] == thursdays - 4
    assert await active_bookings(service) == before + thursdays - 4

    # A single booking in the allocated hour: 409 naming the allocation.
    clash = await service.client.post(
        "/bookings",
        json=org_booking("gymsalen", "2027-04-22T18:30:00+02:00", "2027-04-22T19:30:00+02:00"),
    )
    assert clash.status_code == 409, clash.text
    named = clash.json()["conflict"]["allocation"]
    assert named["allocation_id"] == slot["allocation_id"]
    assert named["organisation_name"] == "Klubb 606"
    assert "Vår 2027" in clash.json()["detail"]

    # Publishing again is harmless: the same answer, nothing more booked.
    again = await publish(service, season_id)
    assert again["already_published"] is True
    assert again["allocations"] == done["allocations"]
    assert await active_bookings(service) == before + thursdays - 4
    status = (await service.client.get(f"/seasons/{season_id}")).json()["status"]
    assert status == "published"
    clock.set(datetime(2027, 3, 8, 12, tzinfo=UTC))
    status = (await service.client.get(f"/seasons/{season_id}")).json()["status"]
    assert status == "running"
    granted = await events_of(redis, prefix, "AllocationGranted", 1)
    declined = await events_of(redis, prefix, "AllocationDeclined", 1)
    events = await booking_events(redis, prefix)
    assert [e.data["application_id"] for e in granted] == [youth["id"]]
    assert len(declined) == 1 and declined[0].data["declined"][0]["weekday"] == "thu"
    assert not [e for e in events if e.type == "BookingConfirmed"]  # told once, not per week


async def test_two_officers_publishing_at_once_book_each_hour_once(
    service: RunningService,
) -> None:
    season_id = await open_season(service)
    for number, day in ((YOUTH_CLUB, "mon"), (ADULT_CLUB, "tue"), (SENIOR_CLUB, "wed")):
        await apply(
            service, season_id, application(number, "adults", (day, "17:00"), (day, "18:00"))
        )
    await close_and_propose(service, season_id)
    before = await active_bookings(service)

    answers = await asyncio.gather(
        *(
            service.client.post(f"/seasons/{season_id}/publish", headers=BOOKING_STAFF)
            for _ in range(2)
        )
    )
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert sorted(a.json()["already_published"] for a in answers) == [False, True]
    booked = sum(s["occurrences"] for s in answers[0].json()["allocations"])
    assert booked > 0
    assert await active_bookings(service) == before + booked
    async with service.runtime.db.read() as session:
        starts = list(
            await session.scalars(
                select(Booking.start_at).where(
                    Booking.resource_id == "gymsalen", Booking.status == "confirmed"
                )
            )
        )
    assert len(starts) == len(set(starts))


async def test_an_18_00_slot_stays_18_00_local_through_october(service: RunningService) -> None:
    season_id = await open_season(
        service, name="Høst 2027", starts_on="2027-08-16", ends_on="2027-12-15"
    )
    await apply(service, season_id, application(YOUTH_CLUB, "children", ("tue", "18:00")))
    await close_and_propose(service, season_id)
    [slot] = (await publish(service, season_id))["allocations"]
    async with service.runtime.db.read() as session:
        starts = list(
            await session.scalars(
                select(Booking.start_at)
                .where(Booking.series_id == slot["series_id"])
                .order_by(Booking.start_at)
            )
        )
    assert len(starts) == slot["occurrences"] == 18
    assert {local(s).strftime("%H:%M") for s in starts} == {"18:00"}
    assert {local(s).weekday() for s in starts} == {1}
    # UTC moves by an hour at the end of October; the wall time does not.
    by_day = {local(s).date(): s.astimezone().utcoffset() for s in starts}
    assert starts[0].hour == 16 and starts[-1].hour == 17
    assert date(2027, 10, 26) in by_day and date(2027, 11, 2) in by_day


async def test_a_club_gives_back_one_occurrence_and_the_next_waiting_is_offered_it_once(
    service: RunningService, redis: Redis, prefix: str
) -> None:
    season_id = await open_season(service)
    holder = await apply(service, season_id, application(YOUTH_CLUB, "children", ("tue", "18:00")))
    second = await apply(service, season_id, application(ADULT_CLUB, "adults", ("tue", "18:00")))
    third = await apply(
        service, season_id, application(SENIOR_CLUB, "seniors", ("tue", "18:00"), local=False)
    )
    await close_and_propose(service, season_id)
    [slot] = (await publish(service, season_id))["allocations"]
    before = await active_bookings(service)

    path = f"/season-allocations/{slot['allocation_id']}/release"
    assert (await service.client.post(path, json={"date": "2027-04-13"})).status_code == 401
    # Cancelling the season's bookings as plain bookings would pass the waiting list by.
    plain = await service.client.post(
        f"/bookings/series/{slot['series_id']}/cancel",
        headers={"X-Manage-Token": holder["manage_token"]},
        json={},
    )
    assert plain.status_code == 409 and plain.json()["code"] == "season_time"
    assert plain.json()["allocation_id"] == slot["allocation_id"]
    given = await service.client.post(
        path,
        headers={"X-Manage-Token": holder["manage_token"]},
        json={"date": "2027-04-13", "reason": "Cup"},
    )
    assert given.status_code == 200, given.text
    assert [r["start"][:10] for r in given.json()["released"]] == ["2027-04-13"]
    assert await active_bookings(service) == before - 1
    offer_id = given.json()["offer_id"]

    [released] = await events_of(redis, prefix, "AllocationReleased", 1)
    assert released.data["whole"] is False and released.data["released_by"] == "owner"
    [offered] = await events_of(redis, prefix, "AllocationOffered", 1)
    assert offered.data["application_id"] == second["id"]  # adults before non-local seniors

    # The second says no: the third is offered it, once; nobody is offered it twice.
    no = await service.client.post(
        f"/season-offers/{offer_id}/decline", headers={"X-Manage-Token": second["manage_token"]}
    )
    assert no.status_code == 200 and no.json()["status"] == "declined"
    again = await service.client.post(
        f"/season-offers/{offer_id}/decline", headers={"X-Manage-Token": second["manage_token"]}
    )
    assert again.status_code == 409
    offers = await events_of(redis, prefix, "AllocationOffered", 2)
    assert [e.data["application_id"] for e in offers] == [second["id"], third["id"]]
    yes = await service.client.post(
        f"/season-offers/{offers[1].data['offer_id']}/accept",
        headers={"X-Manage-Token": third["manage_token"]},
    )
    assert yes.status_code == 200 and yes.json()["status"] == "accepted"
    assert await active_bookings(service) == before
    granted = await events_of(redis, prefix, "AllocationGranted", 2)
    assert granted[-1].data["application_id"] == third["id"]
    assert granted[-1].data["slots"][0]["occurrences"] == 1

    # The officer withdraws the rest of the holder's slot: its coming bookings are cancelled.
    withdrawn = await service.client.post(
        f"/season-allocations/{slot['allocation_id']}/withdraw", headers=BOOKING_STAFF
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert await active_bookings(service) == 1  # the third's accepted occurrence


async def test_report_counts_hours_per_organisation_and_target_group(
    service: RunningService,
) -> None:
    season_id = await open_season(service)
    await apply(
        service, season_id, application(YOUTH_CLUB, "youth", ("mon", "17:00"), ("mon", "18:00"))
    )
    await apply(service, season_id, application(SENIOR_CLUB, "seniors", ("wed", "19:00")))
    await close_and_propose(service, season_id)
    await publish(service, season_id)
    path = f"/seasons/{season_id}/report"
    assert (await service.client.get(path)).status_code == 401
    body = (await service.client.get(path, headers=BOOKING_STAFF)).json()
    hours = {o["org_number"]: o["hours"] for o in body["organisations"]}
    groups = {g["target_group"]: g["hours"] for g in body["target_groups"]}
    # Mondays 8 March to 7 June less Easter Monday and Whit Monday (17 May): 12 of 14.
    assert hours[YOUTH_CLUB] == 2 * 12
    assert groups["youth"] == 24 and groups["children"] == 0
    assert body["total_hours"] == 24 + hours[SENIOR_CLUB]
    csv_answer = await service.client.get(path, headers=BOOKING_STAFF, params={"format": "csv"})
    assert csv_answer.headers["content-type"].startswith("text/csv")
    lines = csv_answer.text.splitlines()
    assert lines[0] == "kind,key,name,hours"
    assert f"organisation,{YOUTH_CLUB},Klubb 606,24.00" in lines


async def test_the_events_of_a_round_reach_notify_once_each(
    service: RunningService, redis: Redis, prefix: str, tmp_path: Path, rules: FanoutRules
) -> None:
    season_id = await open_season(service)
    holder = await apply(service, season_id, application(YOUTH_CLUB, "children", ("tue", "18:00")))
    await apply(service, season_id, application(ADULT_CLUB, "adults", ("tue", "18:00")))
    await close_and_propose(service, season_id)
    [slot] = (await publish(service, season_id))["allocations"]
    given = await service.client.post(
        f"/season-allocations/{slot['allocation_id']}/release",
        headers={"X-Manage-Token": holder["manage_token"]},
        json={"date": "2027-04-13"},
    )
    assert given.status_code == 200, given.text
    kinds = (
        "ApplicationReceived",
        "AllocationGranted",
        "AllocationDeclined",
        "AllocationReleased",
        "AllocationOffered",
    )
    await events_of(redis, prefix, "AllocationOffered", 1)
    round_events = [e for e in await booking_events(redis, prefix) if e.type in kinds]
    assert sorted(e.type for e in round_events) == sorted(
        ["ApplicationReceived"] * 2 + list(kinds[1:])
    )

    # Each event through notify's fan-out twice (a redelivery): one delivery per route.
    async with notify_units(f"sqlite+aiosqlite:///{tmp_path / 'notify.db'}", NOON) as (units, _):
        for envelope in round_events:
            data = parse_data(envelope)
            command = notify_usecases.FanOut(envelope, data)

            async def once(uow: Any, command: Any = command) -> Any:
                return await notify_usecases.fan_out(uow, command, rules=rules)

            for _ in range(2):
                await units.run(once)
            rows = await deliveries(units, envelope.id)
            routed = rules.routes.for_event(envelope.type)
            phone = envelope.data["booker"]["phone"]
            expected = [
                (r.to, c)
                for r in routed
                for c in r.channels
                if r.to == "booker" and (c == "email" or phone)
            ]
            to_club = [r for r in rows if r.recipient.startswith(("leder", "+47"))]
            assert len(to_club) == len(expected), (envelope.type, rows)
            if envelope.type == "AllocationGranted":
                # The season's .ics: one entry per booked Tuesday, 18:00 in Oslo.
                ics = (to_club[0].ics or b"").decode()
                assert ics.count("BEGIN:VEVENT") == envelope.data["slots"][0]["occurrences"]
                assert "DTSTART:20270309T170000Z" in ics  # CET
                assert "DTSTART:20270406T160000Z" in ics  # CEST

            assert len({(r.recipient, r.channel) for r in rows}) == len(rows)


async def test_the_officer_moves_an_allocation_in_a_running_season(
    service: RunningService, redis: Redis, prefix: str, clock: Clock
) -> None:
    season_id = await open_season(service)
    await apply(service, season_id, application(YOUTH_CLUB, "children", ("tue", "18:00")))
    await close_and_propose(service, season_id)
    [slot] = (await publish(service, season_id))["allocations"]
    clock.set(datetime(2027, 4, 20, 12, tzinfo=UTC))  # a Tuesday, the season running

    held = await service.client.patch(
        f"/season-allocations/{slot['allocation_id']}",
        headers=BOOKING_STAFF,
        json={"weekday": "wed", "start": "19:00"},
    )
    assert held.status_code == 200, held.text
    moved = held.json()
    assert (moved["weekday"], moved["start"], moved["status"]) == ("wed", "19:00", "granted")
    async with service.runtime.db.read() as session:
        rows = (
            await session.execute(
                select(Booking.series_id, Booking.status, Booking.start_at).where(
                    Booking.resource_id == "gymsalen"
                )
            )
        ).all()
    old = [(st, local(at)) for series, st, at in rows if series == slot["series_id"]]
    new = [(st, local(at)) for series, st, at in rows if series == moved["series_id"]]
    # The old Tuesdays before the move stand; those after it are cancelled.
    assert {st for st, at in old if at < clock.now} == {"confirmed"}
    assert {st for st, at in old if at > clock.now} == {"cancelled"}
    # The new Wednesdays, from the next day: 21 April to 9 June, no holiday among them.
    assert [at.strftime("%a %H:%M") for _, at in new] == ["Wed 19:00"] * 8
    assert {st for st, _ in new} == {"confirmed"}
    [released] = await events_of(redis, prefix, "AllocationReleased", 1)
    assert released.data["released_by"] == "staff" and "wed 19:00" in released.data["reason"]
    granted = await events_of(redis, prefix, "AllocationGranted", 2)
    assert granted[-1].data["slots"][0]["allocation_id"] == moved["id"]
    again = await service.client.patch(
        f"/season-allocations/{slot['allocation_id']}",
        headers=BOOKING_STAFF,
        json={"weekday": "thu", "start": "19:00"},
    )
    assert again.status_code == 409 and again.json()["code"] == "allocation_not_granted"


async def test_a_closure_inside_the_season_tells_the_clubs_it_touches(
    service: RunningService, redis: Redis, prefix: str
) -> None:
    season_id = await open_season(service)
    await apply(service, season_id, application(YOUTH_CLUB, "children", ("tue", "18:00")))
    await close_and_propose(service, season_id)
    [slot] = (await publish(service, season_id))["allocations"]
    closed = await service.client.post(
        "/closures",
        headers=BOOKING_STAFF,
        json={
            "resource_id": "gymsalen",
            "start": "2027-04-13T00:00:00+02:00",
            "end": "2027-04-14T00:00:00+02:00",
            "reason": "Gulvet lakkeres",
        },
    )
    assert closed.status_code == 201, closed.text
    assert len(closed.json()["affected_bookings"]) == 1
    [told] = await events_of(redis, prefix, "BookingAffectedByClosure", 1)
    assert told.data["series_id"] == slot["series_id"]
    assert told.data["booker"]["email"] == "leder606@example.org"


async def test_an_unanswered_offer_passes_to_the_next_once(
    service: RunningService, redis: Redis, prefix: str, clock: Clock
) -> None:
    season_id = await open_season(service)
    holder = await apply(service, season_id, application(YOUTH_CLUB, "children", ("tue", "18:00")))
    second = await apply(service, season_id, application(ADULT_CLUB, "adults", ("tue", "18:00")))
    third = await apply(
        service, season_id, application(SENIOR_CLUB, "seniors", ("tue", "18:00"), local=False)
    )
    await close_and_propose(service, season_id)
    [slot] = (await publish(service, season_id))["allocations"]
    given = await service.client.post(
        f"/season-allocations/{slot['allocation_id']}/release",
        headers={"X-Manage-Token": holder["manage_token"]},
        json={"date": "2027-04-13"},
    )
    offer_id = given.json()["offer_id"]
    assert await expire_offers(service.runtime) == 0  # not yet: 48 hours by default

    clock.set(clock.now + timedelta(hours=48))
    late = await service.client.post(
        f"/season-offers/{offer_id}/accept", headers={"X-Manage-Token": second["manage_token"]}
    )
    assert late.status_code == 409 and late.json()["code"] == "offer_expired"
    assert await expire_offers(service.runtime) == 1
    assert await expire_offers(service.runtime) == 0  # passed on once
    offers = await events_of(redis, prefix, "AllocationOffered", 2)
    assert [e.data["application_id"] for e in offers] == [second["id"], third["id"]]
    # The last on the list lets it expire too: nobody is left, nothing more is offered.
    clock.set(clock.now + timedelta(hours=48))
    assert await expire_offers(service.runtime) == 1
    assert len(await events_of(redis, prefix, "AllocationOffered", 2)) == 2
