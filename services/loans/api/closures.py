"""The desk's closures: staff close the desk for whole days (besides holidays)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from services.loans import usecases
from services.loans.api.access import desk_only
from services.loans.api.schemas import HUB_DEFAULT, ClosureIn, ClosureOut
from services.loans.settings import config_of
from services.loans.timers import notice_rules
from shared.service import runtime_of

router = APIRouter(tags=["closures"])


@router.post(
    "/closures", status_code=201, response_model=ClosureOut, dependencies=[Depends(desk_only)]
)
async def add_closure(request: Request, body: ClosureIn) -> ClosureOut:
    """Close the desk for whole days: no check-out or return, and loans due or offers held
    until a closed day run to closing time of the next open day (also those already out).
    422 `closure_in_past`, `closure_ends_before_start` or `closure_too_long`."""
    runtime = runtime_of(request)
    cmd = usecases.AddClosure(
        body.hub, body.first_date, body.last_date, body.reason, notice_rules(config_of(runtime))
    )
    added = await runtime.uow.run(lambda uow: usecases.add_closure(uow, cmd))
    row = added.closure
    return ClosureOut(
        id=row.id,
        hub=row.hub,
        start_at=row.start_at,
        end_at=row.end_at,
        reason=row.reason,
        loans_moved=added.loans_moved,
        offers_extended=added.offers_extended,
    )


@router.get("/closures", response_model=list[ClosureOut])
async def list_closures(
    request: Request,
    hub: str = Query(default=HUB_DEFAULT, max_length=50, pattern=r"^[a-z0-9_-]+$"),
) -> list[ClosureOut]:
    """The desk's closures that have not ended yet."""
    cmd = usecases.ClosuresQuery(hub)
    rows = await runtime_of(request).uow.run(
        lambda uow: usecases.list_closures(uow, cmd), read_only=True
    )
    return [
        ClosureOut(id=r.id, hub=r.hub, start_at=r.start_at, end_at=r.end_at, reason=r.reason)
        for r in rows
    ]
