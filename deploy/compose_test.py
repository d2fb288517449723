"""`make compose-test`: run compose.yaml for real with rootful podman, on a machine with no
Docker engine and no image registry.

Installs podman & friends with apt when missing, writes podman's config into a scratch folder,
builds the images (debootstrapped base, stand-ins for python/redis/postgres, the project's
image; cached between runs), brings the stack up with podman-compose, waits until every
container is ready, checks the stack's shape, runs the end-to-end scenario, and tears it all
down (containers, volumes, network). A machine that cannot run containers at all ends with a
loud `SKIP: <reason>` and exit 0; every other failure exits 1.

    python -m deploy.compose_test [--standin-services] [--keep-up] [--state-dir DIR]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import secrets
import shutil
import sys
import traceback
from pathlib import Path

from deploy.compose_scenario import BUSINESS_SCENARIO_WIRED, run_scenario
from deploy.images import BASE_IMAGE, PROJECT_IMAGE, build_all
from deploy.outcome import Skip, StepFailed
from deploy.podman_host import Podman, PodmanConfig, check_can_run_containers, ensure_tools
from deploy.stack import APP_SERVICES, PUBLISHED_PORT_VARIABLES, Stack, free_port
from deploy.stack_checks import check_all
from deploy.timings import Timings

REPO = Path(__file__).resolve().parent.parent
PROJECT = "knutepunkt-compose-test"
FIRST_READY_WITHIN = 240.0  # the first start runs every migration
READY_WITHIN = 120.0


def default_state_dir() -> Path:
    configured = os.environ.get("COMPOSE_TEST_STATE")
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "knutepunkt" / "compose-test"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy.compose_test", description=__doc__)
    parser.add_argument(
        "--standin-services",
        action="store_true",
        help="run deploy/standin_service.py in place of the services: tests the machinery alone",
    )
    parser.add_argument("--keep-up", action="store_true", help="leave the stack running")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=default_state_dir(),
        help="podman storage and logs, kept between runs (and clones) as the build cache; "
        "default $COMPOSE_TEST_STATE or ~/.cache/knutepunkt/compose-test",
    )
    return parser.parse_args(argv)


def env_example(repo: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (repo / ".env.example").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            values[key.strip()] = value.strip()
    return values


def test_variables(repo: Path, images: dict[str, str]) -> dict[str, str]:
    """.env.example with fresh secrets, free host ports and the locally built images."""
    variables = env_example(repo)
    for key in list(variables):
        if key.endswith("_PASSWORD"):
            variables[key] = secrets.token_hex(16)
    variables["STAFF_TOKENS"] = ",".join(
        f"{secrets.token_hex(12)}:{role}" for role in ("desk", "cafe", "admin+booking")
    )
    # Staff take SMS around the clock and citizens' quiet hours are a minute: the test may run
    # at night, when notify would rightly hold those SMS back.
    variables["STAFF_DIRECTORY_FILE"] = str(repo / "deploy" / "compose-test-staff.yaml")
    variables["NOTIFY_QUIET_HOURS"] = "04:00-04:01"
    variables["BIND_ADDRESS"] = "127.0.0.1"
    variables["NOTIFY_REPLICAS"] = "1"
    variables |= {variable: str(free_port()) for variable in PUBLISHED_PORT_VARIABLES.values()}
    return variables | images


def bring_up(stack: Stack, timings: Timings) -> None:
    # podman-compose does not wait on depends_on conditions; start in the order they declare.
    with timings.step("up: redis, postgres -> healthy"):
        stack.expected = {"redis": 1, "postgres": 1}
        stack.up("redis", "postgres")
        stack.wait_ready(within=READY_WITHIN, http=False)
    with timings.step("up: migrate, services, sinks -> ready"):
        stack.expected |= {"migrate": 1, "devsinks": 1} | dict.fromkeys(APP_SERVICES, 1)
        stack.up()
        stack.wait_ready(within=FIRST_READY_WITHIN)


def compose_test(args: argparse.Namespace, timings: Timings) -> None:
    state_dir: Path = args.state_dir.resolve()
    log_dir = state_dir / "logs"
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    print(f"logs in {log_dir}", flush=True)

    with timings.step("podman & friends") as info:
        info["note"] = "installed with apt" if ensure_tools(log_dir / "apt.log") else "present"
    check_can_run_containers()
    config = PodmanConfig(state_dir)
    config.write()
    podman = Podman(config, log_dir / "podman.log")
    podman.check_info()

    stack = Stack(podman, REPO, state_dir / "project", PROJECT, {}, standin=args.standin_services)
    with timings.step("clean up an earlier run's leftovers"):
        stack.teardown()
    images = build_all(podman, REPO, state_dir, timings)
    with timings.step("first container"):
        podman("run", "--rm", BASE_IMAGE, "true")

    stack.variables = test_variables(REPO, images.variables)
    stack.write()
    try:
        bring_up(stack, timings)
        with timings.step("stack checks"):
            check_all(stack, PROJECT_IMAGE)
        business = BUSINESS_SCENARIO_WIRED and not args.standin_services
        run_scenario(stack, timings, business=business)
    finally:
        if args.keep_up:
            print(f"stack left up: cd {stack.project_dir} && podman-compose -p {PROJECT} ps")
        else:
            with timings.step("teardown (containers, volumes, network)"):
                stack.teardown()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.state_dir.mkdir(parents=True, exist_ok=True)
    timings = Timings()
    with (args.state_dir / "lock").open("w") as lock:
        # Two runs would share the storage, the ports' project and the network names.
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            compose_test(args, timings)
        except Skip as skip:
            print(f"\n{'=' * 72}\nSKIP: {skip}\n{'=' * 72}", flush=True)
            return 0
        except StepFailed as failure:
            print(f"\nFAIL: {failure}", file=sys.stderr, flush=True)
            return 1
        except Exception:
            traceback.print_exc()
            print("\nFAIL: unexpected error (above)", file=sys.stderr, flush=True)
            return 1
        finally:
            print(f"\ncompose-test timings:\n{timings.table()}", flush=True)
            timings.save(args.state_dir / "timings.json")
    mode = "stand-in services" if args.standin_services else "services"
    print(f"PASS: compose-test ({mode})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
