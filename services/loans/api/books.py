"""The book swap shelf: bring a book, take a book. No loans, no due dates; the stock is known."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from services.loans import usecases
from services.loans.api.access import desk_only
from services.loans.api.schemas import HUB_DEFAULT, BookIn, BookOut, BookTake, Shelf
from services.loans.api.views import book_out
from services.loans.api.views import shelf_out as shelf_body
from shared.service import runtime_of

router = APIRouter(tags=["books"])


@router.get("/books", response_model=Shelf)
async def shelf(
    request: Request,
    hub: str = Query(default=HUB_DEFAULT, max_length=50, pattern=r"^[a-z0-9_-]+$"),
    limit: int = Query(default=200, ge=1, le=1000),
) -> Shelf:
    cmd = usecases.ShowShelf(hub, limit)
    found = await runtime_of(request).uow.run(
        lambda uow: usecases.show_shelf(uow, cmd), read_only=True
    )
    return shelf_body(found)


@router.post(
    "/books/in", status_code=201, response_model=BookOut, dependencies=[Depends(desk_only)]
)
async def book_in(request: Request, body: BookIn) -> BookOut:
    cmd = usecases.BringBook(body.hub, body.title, body.author, body.language)
    return book_out(await runtime_of(request).uow.run(lambda uow: usecases.bring_book(uow, cmd)))


@router.post("/books/out", response_model=BookOut, dependencies=[Depends(desk_only)])
async def book_out_of_shelf(request: Request, body: BookTake) -> BookOut:
    cmd = usecases.TakeBook(body.hub, body.book_id, body.title)
    return book_out(await runtime_of(request).uow.run(lambda uow: usecases.take_book(uow, cmd)))
