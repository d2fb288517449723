"""The images a compose test needs, built here without any registry: a Debian bookworm base
from debootstrap (`podman import`), stand-ins for the public python / redis / postgres images
built FROM it, and the project's image from the Containerfile.

The base is built once and kept; the others are rebuilt each run and come from podman's
layer cache unless their inputs changed.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from deploy.host_apt import debian_mirror, host_apt_options
from deploy.host_pip import host_pip_forwarding
from deploy.outcome import StepFailed, run, tail
from deploy.podman_host import Podman
from deploy.timings import Timings

PREFIX = "localhost/knutepunkt-test"
BASE_IMAGE = f"{PREFIX}/debian:bookworm"
STANDINS = {
    # compose variable -> (image, folder under deploy/standins)
    "PYTHON_IMAGE": (f"{PREFIX}/python:3.11", "python"),
    "REDIS_IMAGE": (f"{PREFIX}/redis:7", "redis"),
    "POSTGRES_IMAGE": (f"{PREFIX}/postgres:15", "postgres"),
}
PROJECT_IMAGE = f"{PREFIX}/knutepunkt:test"
# The Containerfile's build stage, tagged so that pruning dangling images keeps its layers
# (the dependency install above all) as cache for the next run.
PROJECT_BUILD_STAGE = f"{PREFIX}/knutepunkt-build-stage:test"


@dataclass(frozen=True)
class BuiltImages:
    variables: dict[str, str]  # what compose.yaml's image variables are set to
    project_size_bytes: int


def build_base(podman: Podman, work_dir: Path, log: Path) -> None:
    mirror = debian_mirror()
    if not mirror:
        raise StepFailed("no Debian bookworm mirror in /etc/apt sources; set DEBIAN_MIRROR")
    rootfs = work_dir / "rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    try:
        run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), mirror], log=log)
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (rootfs / leftover).glob("*"):
                if entry.is_file():
                    entry.unlink()
        options = host_apt_options()
        if options:
            (rootfs / "etc/apt/apt.conf.d/90host").write_text(options)
        with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
            imported = subprocess.run(
                ["podman", "import", "-", BASE_IMAGE],
                stdin=tar.stdout,
                env=podman.env,
                capture_output=True,
                text=True,
                check=False,
            )
        if tar.returncode != 0 or imported.returncode != 0:
            raise StepFailed(f"podman import failed\n{tail(imported.stdout + imported.stderr)}")
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)


def build_standins(podman: Podman, standins_dir: Path, log_dir: Path) -> None:
    """The three stand-ins at once: each is mostly waiting on apt downloads."""
    started: dict[str, tuple[subprocess.Popen[bytes], Path, float]] = {}
    for image, folder in STANDINS.values():
        log = log_dir / f"build-{folder}.log"
        with log.open("w") as out:
            started[folder] = (
                subprocess.Popen(
                    [
                        "podman",
                        "build",
                        "--format",
                        "docker",
                        "--build-arg",
                        f"BASE_IMAGE={BASE_IMAGE}",
                        "--tag",
                        image,
                        str(standins_dir / folder),
                    ],
                    env=podman.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                ),
                log,
                time.monotonic(),
            )
    failures = []
    for folder, (proc, log, _) in started.items():
        if proc.wait(timeout=900) != 0:
            failures.append(f"stand-in {folder}: exit {proc.returncode}\n{tail(log.read_text())}")
    if failures:
        raise StepFailed("\n".join(failures))


def build_project(podman: Podman, repo: Path, work_dir: Path, log: Path) -> None:
    forwarding = host_pip_forwarding()
    pip_conf = work_dir / "pip.conf"
    pip_conf.write_text(forwarding.pip_conf())
    pip_conf.chmod(0o600)  # an index URL may carry credentials
    common = [
        *("--format", "docker"),
        *("--build-arg", f"PYTHON_IMAGE={STANDINS['PYTHON_IMAGE'][0]}"),
        *forwarding.volume_args(pip_conf),
        *("--file", str(repo / "Containerfile")),
    ]
    for target in (("--target", "build", "--tag", PROJECT_BUILD_STAGE), ("--tag", PROJECT_IMAGE)):
        podman("build", *common, *target, str(repo), timeout=1800, log=log)


def image_size(podman: Podman, image: str) -> int:
    return int(podman("image", "inspect", "--format", "{{.Size}}", image).strip())


def build_all(podman: Podman, repo: Path, work_dir: Path, timings: Timings) -> BuiltImages:
    log_dir = work_dir / "logs"
    with timings.step("base image (debootstrap + import)") as info:
        if podman.image_exists(BASE_IMAGE):
            info["note"] = "cached"
        else:
            build_base(podman, work_dir, log_dir / "base.log")
    with timings.step("stand-in images (python, redis, postgres)"):
        build_standins(podman, repo / "deploy" / "standins", log_dir)
    with timings.step("project image"):
        build_project(podman, repo, work_dir, log_dir / "build-project.log")
    # Rebuilt tags leave their old images behind; drop them so the cache stays bounded.
    podman("image", "prune", "--force")
    size = image_size(podman, PROJECT_IMAGE)
    base = image_size(podman, STANDINS["PYTHON_IMAGE"][0])
    timings.facts["project image size"] = (
        f"{size / 1e6:.0f} MB ({(size - base) / 1e6:.0f} MB above its python stand-in)"
    )
    variables = {variable: image for variable, (image, _) in STANDINS.items()}
    variables["KNUTEPUNKT_IMAGE"] = PROJECT_IMAGE
    return BuiltImages(variables=variables, project_size_bytes=size)
