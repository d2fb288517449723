"""What loans does with booking events: a closure of the whole hub closes the desk (the
rules are in usecases.py; this only builds the command)."""

from __future__ import annotations

from services.loans import usecases
from services.loans.settings import config_of
from services.loans.timers import notice_rules
from shared.events import ClosureAdded
from shared.messaging.consumer import Delivery, Handler
from shared.service import Runtime


def handlers(runtime: Runtime) -> dict[str, Handler]:
    async def on_closure_added(delivery: Delivery) -> None:
        data = delivery.data
        assert isinstance(data, ClosureAdded)
        if data.resource_id is not None:
            return  # one room closed: the desk stays open
        cmd = usecases.HubClosed(
            closure_id=data.closure_id,
            hub=data.hub,
            start=data.start,
            end=data.end,
            reason=data.reason,
            rules=notice_rules(config_of(runtime)),
        )
        await usecases.close_for_hub(delivery.uow, cmd)

    return {"ClosureAdded": on_closure_added}
