"""The language switch of every page (the citizens' pages live in their own modules: the
front page in hub.py)."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from services.web import i18n

router = APIRouter()


@router.get("/sprak/{lang}")
async def switch_language(
    request: Request, lang: str, neste: str | None = None
) -> RedirectResponse:
    """A link, not a form: it changes only how pages are shown, and keeps the page and
    its week, month or day (only those: i18n.KEPT_QUERY). A page whose address holds a
    token (i18n.TOKEN_PAGES) links here without `neste`: back to the Referer's page (sent
    by Referrer-Policy: same-origin), or without one to the front page."""
    if neste is None:
        came_from = urlsplit(request.headers.get("referer", ""))
        path, query = came_from.path or "/", came_from.query
    else:
        path, _, query = neste.partition("?")
    target = i18n.switch_target(path, query)
    answer = RedirectResponse(target, status_code=303)
    if lang in i18n.LANGUAGES:
        answer.set_cookie(
            i18n.LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True
        )
    return answer
