"""The whole hub for the web tests, as real processes: the four services, the web front,
the launcher's mail catcher and SMS sink (knutepunkt.devsinks), and an OpenID Connect
provider (tests/support/oidc_provider.py), on the shared Redis with a key prefix of its own.
Started once per test module."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import uuid
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import httpx
import redis as sync_redis

from shared.calendar import HUB_HOURS, Calendar
from shared.events import WIRE_FIELD
from tests.support.processes import ROOT, ServiceProcess
from tests.support.servers import DEFAULT_REDIS_URL, REDIS_ENV, free_port
from tests.support.staff import STAFF_YAML
from tests.support.waiting import wait_for_sync

OSLO = ZoneInfo("Europe/Oslo")
FAKETIME_LIB = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
SERVICES = ("booking", "loans", "catering", "notify")
CLIENT_ID, CLIENT_SECRET, AUDIENCE = "knutepunkt-web", secrets.token_urlsafe(16), "knutepunkt"
# Notify signs the one-click links in staff messages with it; the web front reads them.
ACTION_LINK_SECRET = secrets.token_urlsafe(32)
# Service accounts, for what a test sets up through the APIs (never used by the web front).
TOKENS = {"booking": "svc-booking", "desk": "svc-desk", "cafe": "svc-cafe", "admin": "svc-admin"}
PEOPLE = {
    "kari": {"name": "Kari Bookingansvarlig", "roles": ["booking"]},
    "jasmin": {"name": "Jasmin Kafé", "roles": ["cafe"]},
    "ole": {"name": "Ole Innbyggertorget", "roles": ["desk"]},
    "anne": {"name": "Anne Admin", "roles": ["admin"]},
    "per": {"name": "Per Uten Rolle", "roles": ["guest"]},
}


def desk_open_offset(now: datetime) -> timedelta:
    """How far to move the hub's clock so that the desk is open for a while (lending and
    returns happen only Mon–Fri 10–14): nothing when it is open for another hour."""
    desk = Calendar(HUB_HOURS)
    if desk.is_open_between(now, now + timedelta(hours=1)):
        return timedelta(0)
    day = desk.next_open_day(now.astimezone(OSLO).date() + timedelta(days=1))
    return datetime.combine(day, time(10, 30), OSLO) - now


def later_today(now: datetime) -> datetime:
    """A meeting today that has not begun and ends inside the rooms' hours (Mon–Fri 10–14):
    the hub's clock is somewhere in 10:00–13:00 (desk_open_offset, above), so at
    noon, or once noon has passed at the next quarter hour (13:15 at the latest)."""
    noon = datetime.combine(now.date(), time(12), OSLO)
    if now < noon:
        return noon
    return now.replace(second=0, microsecond=0) + timedelta(minutes=15 - now.minute % 15)


def org_number(seed: int) -> str:
    """A valid Norwegian organisation number (MOD11), different for each seed."""
    weights = (3, 2, 7, 6, 5, 4, 3, 2)
    n = 90_000_000 + seed
    while True:
        digits = [int(d) for d in f"{n:08d}"]
        check = 11 - sum(w * d for w, d in zip(weights, digits, strict=True)) % 11
        if check == 11:
            check = 0
        if check != 10:
            return f"{n:08d}{check}"
        n += 1


# The staff directory's mailboxes (tests/support/staff.py): booking@, desk@, kafe@example.org.
STAFF_BOXES = ("booking", "desk", "kafe")

# Every process of the hub shares one clock: moved by libfaketime when the desk is closed now
# (monotonic time is left alone, so timers and timeouts behave). Set by WebHub.start.
CLOCK: dict[str, str] = {}


class Process:
    """A child process of ours, with its log in the test's directory."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        env = {**CLOCK, **env}
        self.log_path = log_dir / f"{name}.log"
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def line(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        def found() -> re.Match[str] | None:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log()[-3000:]}")
            return re.search(pattern, self.log())

        return wait_for_sync(found, timeout, interval=0.05, message=f"{self.name} ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class WebHub:
    def __init__(self, tmp: Path, extra_env: dict[str, str] | None = None) -> None:
        self.tmp = tmp
        # For every process of the hub (the services and the web front), e.g. the limits.
        self.extra_env = dict(extra_env or {})
        self.prefix = f"test-web-{uuid.uuid4().hex[:8]}:"
        # The run's Redis, as tests/conftest.py chose it (the shared one, or the run's own).
        self.redis_url = os.environ.get(REDIS_ENV, DEFAULT_REDIS_URL)
        self.children: list[Process] = []
        self.services: dict[str, ServiceProcess] = {}
        self.http = httpx.Client(timeout=15, trust_env=False)
        self._org_seed = secrets.randbelow(1_000_000) * 10
        self._orgs: set[str] = set()
        self._slots: set[tuple[str, date]] = set()
        self.offset = timedelta(0)
        self.desk_closed = False  # and no libfaketime to move the clock: lending cannot run

    # -- start and stop --------------------------------------------------------------------

    def now(self) -> datetime:
        """The hub's time (the tests' own clock plus the hub's offset)."""
        return datetime.now(OSLO) + self.offset

    def start(self) -> WebHub:
        self.offset = desk_open_offset(datetime.now(OSLO))
        CLOCK.clear()
        if self.offset and FAKETIME_LIB.is_file():
            CLOCK.update(
                {
                    "LD_PRELOAD": str(FAKETIME_LIB),
                    "FAKETIME": f"+{int(self.offset.total_seconds())}",
                    "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                }
            )
        elif self.offset:
            self.offset = timedelta(0)
            self.desk_closed = True
        sinks = Process(
            "devsinks",
            [
                *(sys.executable, "-m", "knutepunkt.devsinks", "--smtp-port", "0"),
                *("--mail-http-port", "0", "--sms-port", "0"),
                *("--data-dir", str(self.tmp / "sinks")),
            ],
            {},
            self.tmp,
        )
        self.children.append(sinks)
        provider_port, self.web_port = free_port(), free_port()
        self.issuer = f"http://127.0.0.1:{provider_port}"
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        provider = Process(
            "oidc",
            [
                *(sys.executable, "-m", "tests.support.oidc_provider"),
                *("--port", str(provider_port), "--client-id", CLIENT_ID),
                # "=" keeps a secret that starts with "-" from being read as an option
                f"--client-secret={CLIENT_SECRET}",
                *("--audience", AUDIENCE),
                *("--redirect-uri", f"{self.web_url}/ansatt/innlogget"),
                *("--post-logout-redirect-uri", f"{self.web_url}/ansatt/utlogget"),
                *("--people", json.dumps(PEOPLE)),
            ],
            {},
            self.tmp,
        )
        self.children.append(provider)
        ready = sinks.line(r"devsinks ready (.*)")
        urls = dict(part.split("=", 1) for part in ready[1].split() if "=" in part)
        self.mail_url, self.sms_url = urls["mail_api_url"], urls["sms_url"]
        staff_file = self.tmp / "staff.yaml"
        staff_file.write_text(STAFF_YAML)
        env = {
            "REDIS_URL": self.redis_url,
            "STREAM_PREFIX": self.prefix,
            "SMTP_URL": urls["smtp_url"],
            "SMS_GATEWAY_URL": self.sms_url,
            "SMS_PROVIDER": "generic",
            "STAFF_TOKENS": ",".join(f"{t}:{r}" for r, t in TOKENS.items()),
            "STAFF_DIRECTORY": str(staff_file),
            "OIDC_ISSUER": self.issuer,
            "OIDC_AUDIENCE": AUDIENCE,
            "ACTION_LINK_SECRET": ACTION_LINK_SECRET,
            "WEB_PUBLIC_URL": self.web_url,
            "NOTIFY_QUIET_HOURS": "04:00-04:01",  # the tests may run at night
            "NOTIFY_RETRY_BASE_SECONDS": "1",
            "CONSUMER_BLOCK_MS": "200",
            "OUTBOX_POLL_SECONDS": "0.2",
            "NOTIFY_POLL_SECONDS": "0.2",
            "LOG_FORMAT": "json",
            **CLOCK,
            **self.extra_env,
        }
        for name in SERVICES:
            env[f"{name.upper()}_DATABASE_URL"] = f"sqlite+aiosqlite:///{self.tmp / name}.db"
            self.services[name] = ServiceProcess(name, env, self.tmp)
            self.services[name].start(wait=False)
        provider.line(r"oidc provider ready")
        self.web = self._start_web()
        for proc in self.services.values():
            proc.wait_ready(120)
        wait_for_sync(self._web_ready, 60, interval=0.1, message="web ready")
        return self

    def web_env(self) -> dict[str, str]:
        env = {
            "REDIS_URL": self.redis_url,
            "STREAM_PREFIX": self.prefix,
            "WEB_PORT": str(self.web_port),
            "WEB_PUBLIC_URL": self.web_url,
            "WEB_OIDC_ISSUER": self.issuer,
            "WEB_OIDC_CLIENT_ID": CLIENT_ID,
            "WEB_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "WEB_SESSION_SECRET": secrets.token_urlsafe(32),
            "ACTION_LINK_SECRET": ACTION_LINK_SECRET,
            # The CI machine may be busy: a slow answer is not a service that is down.
            "WEB_SERVICE_TIMEOUT_SECONDS": "30",
            "LOG_FORMAT": "json",
        }
        for name in SERVICES:
            env[f"WEB_{name.upper()}_URL"] = self.services[name].url
        # Never inherit the launcher's switch from the environment the tests run in.
        env["WEB_DEV_SIGNIN"] = "false"
        env.update(self.extra_env)
        return env

    def _start_web(self) -> Process:
        web = Process("web", [sys.executable, "-m", "services.web"], self.web_env(), self.tmp)
        self.children.append(web)
        return web

    def _web_ready(self) -> bool:
        if self.web.proc.poll() is not None:
            raise RuntimeError(f"web exited:\n{self.web.log()[-3000:]}")
        try:
            answer = self.http.get(f"{self.web_url}/health/ready")
        except httpx.HTTPError:
            return False
        return answer.status_code == 200 and bool(answer.json().get("following"))

    def stop(self) -> None:
        for proc in self.services.values():
            proc.stop()
        for child in reversed(self.children):
            child.stop()
        self.http.close()
        client = sync_redis.Redis.from_url(self.redis_url)
        keys = list(client.scan_iter(match=f"{self.prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()

    # -- the services, directly ------------------------------------------------------------

    def url(self, service: str, path: str) -> str:
        return self.services[service].url + path

    def staff(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKENS[role]}"}

    def next_org(self) -> str:
        # Two seeds can give one number (a seed whose check digit would be 10 moves on to
        # the next): a club's second request would then count against the first's hours.
        used = self._orgs
        while True:
            self._org_seed += 1
            number = org_number(self._org_seed)
            if number not in used:
                used.add(number)
                return number

    def request_gymsalen(self, email: str, title: str = "Bursdagsfeiring") -> dict[str, Any]:
        """A club's request for Gymsalen on a free evening (it waits for approval)."""
        org = self.next_org()
        for ahead in range(2, 60):
            day = self.now().date() + timedelta(days=ahead)
            if ("gymsalen", day) in self._slots:
                continue
            start = datetime.combine(day, time(18), OSLO)
            body = {
                "resource_id": "gymsalen",
                "start": start.isoformat(),
                "end": (start + timedelta(hours=2)).isoformat(),
                "booker_type": "organisation",
                "organisation": {"number": org, "name": "Strømsø turn"},
                "booker": {"name": "Kari Leder", "email": email, "phone": "+4700000021"},
                "title": title,
                "attendees": 30,
            }
            answer = self.http.post(self.url("booking", "/bookings"), json=body)
            if answer.status_code == 201:
                self._slots.add(("gymsalen", day))
                created: dict[str, Any] = answer.json()
                assert created["status"] == "pending", created
                return created
        raise AssertionError(f"no free Gymsalen evening: {answer.text}")

    def short_notice_order(self, email: str) -> dict[str, Any]:
        """Catering for the café's next open day: too late for two working days' notice."""
        availability = self.http.get(
            self.url("catering", "/availability"),
            params={
                "from": (self.now().date() + timedelta(days=1)).isoformat(),
                "days": 14,
            },
        ).json()
        day = next(d["date"] for d in availability if d["open"] and d["remaining_portions"] > 20)
        pickup = datetime.combine(date.fromisoformat(day), time(12), OSLO)
        body = {
            "kind": "catering",
            "pickup_at": pickup.isoformat(),
            "people": 10,
            "lines": [{"item_id": "kaffe-te", "quantity": 10}],
            "customer": {"name": "Lise Kunde", "email": email, "phone": "+4700000041"},
        }
        answer = self.http.post(self.url("catering", "/orders"), json=body)
        assert answer.status_code == 201, answer.text
        order: dict[str, Any] = answer.json()
        assert order["status"] == "pending_acceptance" and order["short_notice"], order
        return order

    # -- the sinks ---------------------------------------------------------------------------

    def mails(self) -> list[dict[str, Any]]:
        return self.http.get(f"{self.mail_url}/messages").json()  # type: ignore[no-any-return]

    def mail(self, message_id: int) -> dict[str, Any]:
        return self.http.get(f"{self.mail_url}/messages/{message_id}").json()  # type: ignore[no-any-return]

    def sms(self) -> list[dict[str, Any]]:
        return self.http.get(f"{self.sms_url}/messages").json()  # type: ignore[no-any-return]

    def staff_link(self, item_id: str, label: str, timeout: float = 60) -> str:
        """The one-click link labelled `label` in the staff email about `item_id`, once it
        has arrived (the mail catcher's text part, as a mail program shows it)."""

        def found() -> str | None:
            for summary in self.mails():
                if not any(
                    a.endswith("@example.org") and a.split("@")[0] in STAFF_BOXES
                    for a in summary["to"]
                ):
                    continue
                text = self.mail(summary["id"]).get("text") or ""
                if item_id in text:
                    match = re.search(rf"^{re.escape(label)}: (\S+)$", text, re.MULTILINE)
                    if match:
                        return match[1]
            return None

        return wait_for_sync(found, timeout, interval=0.2, message=f"a staff email with {label}")

    def events(self, stream: str) -> list[dict[str, Any]]:
        """The envelopes on one of the hub's streams (e.g. "booking.events"), oldest first."""
        client = sync_redis.Redis.from_url(self.redis_url)
        try:
            entries = client.xrange(self.prefix + stream)
        finally:
            client.close()
        return [json.loads(fields[WIRE_FIELD.encode()]) for _id, fields in entries]

    def notify_drained(self) -> bool:
        rows = self.http.get(
            self.url("notify", "/notifications"), headers=self.staff("admin"), params={"limit": 500}
        ).json()
        return all(r["status"] not in ("queued", "sending") for r in rows)

    # -- the provider, without a browser ---------------------------------------------------

    def access_token(self, person: str) -> str:
        """A person's access token from the provider: the code flow with PKCE, by HTTP."""
        verifier = secrets.token_urlsafe(48)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        redirect = f"{self.web_url}/ansatt/innlogget"
        query = {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": redirect,
            "scope": "openid profile",
            "state": secrets.token_urlsafe(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        chosen = self.http.post(f"{self.issuer}/authorize", params=query, data={"person": person})
        assert chosen.status_code == 302, chosen.text
        code = parse_qs(urlparse(chosen.headers["location"]).query)["code"][0]
        token = self.http.post(
            f"{self.issuer}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect,
                "code_verifier": verifier,
            },
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
        assert token.status_code == 200, token.text
        return str(token.json()["access_token"])
