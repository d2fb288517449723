"""The citizens' side (issue 17 builds it here): for now the front page, the language
switch, and the page the benchmark compares against."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.web import i18n
from services.web.pages.common import render

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
async def front(request: Request) -> HTMLResponse:
    return render(request, "public/front.html", title_key="front.title")


@router.get("/sprak/{lang}")
async def switch_language(request: Request, lang: str, neste: str = "/") -> RedirectResponse:
    """A link, not a form: it changes only how pages are shown, and keeps the page."""
    target = neste if neste.startswith("/") and not neste.startswith("//") else "/"
    answer = RedirectResponse(target, status_code=303)
    if lang in i18n.LANGUAGES:
        answer.set_cookie(
            i18n.LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True
        )
    return answer
