"""The book swap shelf: bring a book, take a book. No loans, no due dates; the stock is known."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import func, select

from services.loans.api.common import desk_only, runtime_of, transaction
from services.loans.api.schemas import HUB_DEFAULT, BookIn, BookOut, BookTake, Shelf
from services.loans.models import ShelfBook
from services.loans.store import for_update, new_id
from shared.service import ApiError

router = APIRouter(tags=["books"])


def book_out(b: ShelfBook) -> BookOut:
    return BookOut(
        id=b.id,
        hub=b.hub,
        title=b.title,
        author=b.author,
        language=b.language,
        brought_at=b.brought_at,
        taken_at=b.taken_at,
    )


@router.get("/books", response_model=Shelf)
async def shelf(
    request: Request,
    hub: str = Query(default=HUB_DEFAULT, max_length=50, pattern=r"^[a-z0-9_-]+$"),
    limit: int = Query(default=200, ge=1, le=1000),
) -> Shelf:
    runtime = runtime_of(request)
    async with runtime.db.read() as session:
        on_shelf = (ShelfBook.hub == hub) & ShelfBook.taken_at.is_(None)
        count = (await session.execute(select(func.count()).where(on_shelf))).scalar_one()
        rows = (
            await session.execute(
                select(ShelfBook).where(on_shelf).order_by(ShelfBook.title).limit(limit)
            )
        ).scalars()
        return Shelf(hub=hub, on_shelf=int(count), books=[book_out(b) for b in rows])


@router.post(
    "/books/in", status_code=201, response_model=BookOut, dependencies=[Depends(desk_only)]
)
async def book_in(request: Request, body: BookIn) -> BookOut:
    runtime = runtime_of(request)
    async with transaction(runtime) as session:
        book = ShelfBook(
            id=new_id(),
            hub=body.hub,
            title=body.title,
            author=body.author,
            language=body.language,
            brought_at=runtime.now(),
        )
        session.add(book)
        await session.flush()
        return book_out(book)


@router.post("/books/out", response_model=BookOut, dependencies=[Depends(desk_only)])
async def book_out_of_shelf(request: Request, body: BookTake) -> BookOut:
    if (body.book_id is None) == (body.title is None):
        raise ApiError(422, "give either book_id or title")
    runtime = runtime_of(request)
    async with transaction(runtime) as session:
        query = select(ShelfBook).where(ShelfBook.hub == body.hub, ShelfBook.taken_at.is_(None))
        if body.book_id is not None:
            query = query.where(ShelfBook.id == body.book_id)
        else:
            query = query.where(func.lower(ShelfBook.title) == body.title.lower())  # type: ignore[union-attr]
        book = (
            await session.execute(
                for_update(session, query.order_by(ShelfBook.brought_at).limit(1))
            )
        ).scalar_one_or_none()
        if book is None:
            raise ApiError(409, "that book is not on the shelf")
        book.taken_at = runtime.now()
        return book_out(book)
