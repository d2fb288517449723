"""The ops commands: see and steer a running hub (status, events, dead letters, outbox
republish, a person's export and erasure, demo, docs).

Everything here works against any hub, embedded or compose: Redis and the services are
found through the environment (REDIS_URL, STREAM_PREFIX, BOOKING_URL…, STAFF_TOKENS), and
what it does not say, from the file of a hub `knutepunkt up` runs on this machine
(knutepunkt/hub_file.py)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from knutepunkt.ops import commands
    from knutepunkt.ops.demo import command as demo

    app.command()(commands.status)
    app.add_typer(commands.events_app, name="events")
    app.add_typer(commands.dlq_app, name="dlq")
    app.add_typer(commands.outbox_app, name="outbox")
    from knutepunkt.ops.person import person_app

    app.add_typer(person_app, name="person")
    demo.register(app)
    app.command()(commands.docs)
