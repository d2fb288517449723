"""What every page shares: rendering a template with the page's language and the signed-in
person, the form and its CSRF check, a message for the next page (post/redirect/get), and
the day in Oslo."""

from __future__ import annotations

import calendar
import hmac
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.web import i18n
from services.web.staff import Actor

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
MAX_FORM_BYTES = 16 * 1024


class _Environment(Environment):
    """Jinja, looking a name up in a dict first: the pages show the services' JSON, and
    `b.start` on a dict otherwise costs an AttributeError before the key is tried (hundreds
    of times on a page of bookings). The templates reach no dict method whose name is also
    a key of that dict; a name that is not a key still finds the method (`errors.get`)."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


env = _Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class NoSuchPage(Exception):
    """A page that is not there for this front (the dev sign-in when it is off): a 404 page."""


class BadForm(Exception):
    """The form did not come from our page (CSRF), or is not a form at all."""


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return str(token)


class LazyCsrf:
    """The CSRF token, made (and the session with it) only when a page has a form: a page
    without one, as most public pages, costs no session."""

    def __init__(self, request: Request) -> None:
        self.request = request

    def __str__(self) -> str:
        return csrf_token(self.request)

    __html__ = __str__


async def form_of(request: Request) -> dict[str, str]:
    """The posted form (urlencoded), after its CSRF token matched the session's."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        raise BadForm()
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise BadForm()
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadForm() from exc
    form = {k: v[0].replace("\x00", "").strip() for k, v in parsed.items()}
    expected = request.session.get("csrf")
    given = form.pop("csrf", "")
    if not expected or not hmac.compare_digest(str(expected), given):
        raise BadForm()
    return form


def flash(request: Request, key: str, **values: Any) -> None:
    """A message for the next page the person sees (after the redirect)."""
    request.session["flash"] = {"key": key, "values": values}


def back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def today() -> date:
    return datetime.now(i18n.OSLO).date()


def day_bounds(day: date, days: int = 1) -> tuple[datetime, datetime]:
    """[midnight, midnight `days` later) in Oslo, as aware datetimes (DST-safe)."""
    start = datetime.combine(day, time(0), i18n.OSLO)
    end = datetime.combine(day + timedelta(days=days), time(0), i18n.OSLO)
    return start, end


def month_of(text: str | None) -> date | None:
    """The first day of the month "YYYY-MM" names; None for anything else."""
    if not text:
        return None
    try:
        year, month = (int(p) for p in text.split("-"))
        return date(year, month, 1)
    except ValueError:
        return None


@dataclass(frozen=True)
class Month:
    """A calendar month by its first day: what a month page lays out and links to."""

    first: date

    @property
    def last(self) -> date:
        return self.first.replace(day=calendar.monthrange(self.first.year, self.first.month)[1])

    @property
    def previous(self) -> date:
        return (self.first - timedelta(days=1)).replace(day=1)

    @property
    def following(self) -> date:
        return self.last + timedelta(days=1)

    @property
    def weeks(self) -> list[list[date]]:
        """Monday to Sunday, the days of the months around it filling the first and last."""
        return calendar.Calendar().monthdatescalendar(self.first.year, self.first.month)


def parse_day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def render(
    request: Request,
    template: str,
    status: int = 200,
    *,
    title_key: str,
    live: tuple[str, ...] = (),
    **context: Any,
) -> HTMLResponse:
    lang: str = request.state.lang
    actor: Actor | None = getattr(request.state, "actor", None)
    # A page that fetches itself for a live update must not take the message meant for the
    # page the person lands on next: an approval's own event can wake that fetch while the
    # form's redirect is still on its way.
    live_refresh = request.headers.get("X-Live") == "1"
    message = None if live_refresh else request.session.pop("flash", None)

    def t(key: str, **values: Any) -> str:
        return i18n.text(lang, key, **values)

    topics = set(live)
    if actor is not None and actor.may("booking"):
        topics.add("bookings")  # the count in the navigation
    page = env.get_template(template).render(
        request=request,
        path=request.url.path,
        # The language switch's way back (i18n.KEPT_QUERY only), URL-encoded for its query;
        # none from a page whose address holds a token (/mine/...): it would put the token
        # in a query, so the switch goes back by the Referer there (pages/public.py).
        switch_next=""
        if request.url.path.startswith(i18n.TOKEN_PAGES)
        else quote(i18n.switch_target(request.url.path, request.url.query), safe="/"),
        lang=lang,
        t=t,
        actor=actor,
        nav_count=getattr(request.state, "nav_count", None),
        flash=t(message["key"], **message["values"]) if message else None,
        csrf=LazyCsrf(request),
        live_topics=" ".join(sorted(topics)),
        title=t(title_key),
        contact_email=request.app.state.settings.contact_email,
        day_name=lambda d, year=False: i18n.day_name(lang, d, year),
        when=lambda m: i18n.when(lang, m),
        clock=i18n.clock,
        short_date=i18n.short_date,
        kroner=i18n.kroner,
        number=i18n.number,
        **context,
    )
    return HTMLResponse(page, status_code=status)


class Part:
    """One part of a page that may fail on its own: its value, or which service is down."""

    def __init__(self, value: Any = None, down: str | None = None) -> None:
        self.value = value
        self.down = down


async def part(work: Any, default: Any = None) -> Part:
    """Await `work`; a service that is down (or refuses) gives an empty part, not a page."""
    from services.web.clients import Refused, ServiceDown

    try:
        return Part(await work)
    except ServiceDown as exc:
        return Part(default, down=exc.service)
    except Refused:
        return Part(default, down="refused")


async def skipped() -> Part:
    """A part the person's roles do not cover: nothing fetched."""
    return Part(None)
