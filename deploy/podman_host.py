"""Rootful podman on this host: the tools, their config in a scratch folder, and whether the
machine can run containers at all (read ../shared/notes/containers-here.md for the why of
each setting)."""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deploy.outcome import Skip, StepFailed, run

APT_PACKAGES = (
    "podman",
    "podman-compose",
    "runc",
    "netavark",
    "aardvark-dns",
    "iptables",
    "catatonit",
    "debootstrap",
)
NEEDED_COMMANDS = ("podman", "podman-compose", "runc", "iptables", "debootstrap")
NEEDED_FILES = ("/usr/lib/podman/netavark", "/usr/lib/podman/aardvark-dns")


def missing_tools() -> list[str]:
    missing = [cmd for cmd in NEEDED_COMMANDS if shutil.which(cmd) is None]
    missing += [path for path in NEEDED_FILES if not Path(path).exists()]
    return missing


def ensure_tools(log: Path) -> bool:
    """Install podman & friends with apt when one is missing; True when apt ran."""
    if platform.system() != "Linux":
        raise Skip(f"containers need Linux, this is {platform.system()}")
    missing = missing_tools()
    if not missing:
        return False
    if os.geteuid() != 0:
        raise Skip(f"{', '.join(missing)} missing and not root, so apt-get cannot install them")
    if shutil.which("apt-get") is None:
        raise Skip(f"{', '.join(missing)} missing and no apt-get to install them")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        run(["apt-get", "update"], env=env, log=log)
        run(["apt-get", "install", "--yes", *APT_PACKAGES], env=env, log=log)
    except StepFailed as exc:
        raise Skip(f"podman is not installed and apt-get could not install it: {exc}") from exc
    still = missing_tools()
    if still:
        raise StepFailed(f"apt-get ran but {', '.join(still)} still missing")
    return True


def check_can_run_containers() -> None:
    """Rootful podman needs root and new namespaces; without them no container can run."""
    if os.geteuid() != 0:
        raise Skip("rootful podman needs root, and this harness does not set up rootless podman")
    probe = run(
        ["unshare", "--mount", "--uts", "--ipc", "--net", "--pid", "--fork", "true"], check=False
    )
    if probe.returncode != 0:
        reason = (probe.stderr or probe.stdout).strip() or f"exit {probe.returncode}"
        raise Skip(f"cannot create namespaces here (unshare: {reason})")


@dataclass(frozen=True)
class PodmanConfig:
    """Where podman keeps images, containers and networks for these runs."""

    state_dir: Path

    @property
    def graphroot(self) -> Path:
        return self.state_dir / "storage"

    @property
    def network_dir(self) -> Path:
        return self.state_dir / "networks"

    @property
    def runtime_dir(self) -> Path:
        # Volatile state belongs on a folder a reboot clears, and socket paths must stay short.
        digest = hashlib.sha1(str(self.state_dir).encode()).hexdigest()[:10]
        return Path(tempfile.gettempdir()) / f"knutepunkt-podman-{digest}"

    @property
    def storage_conf(self) -> Path:
        return self.state_dir / "storage.conf"

    @property
    def containers_conf(self) -> Path:
        return self.state_dir / "containers.conf"

    def write(self) -> None:
        for folder in (self.graphroot, self.network_dir, self.runtime_dir / "run"):
            folder.mkdir(parents=True, exist_ok=True)
        self.storage_conf.write_text(
            "[storage]\n"
            'driver = "overlay"\n'
            f'graphroot = "{self.graphroot}"\n'
            f'runroot = "{self.runtime_dir / "run"}"\n'
        )
        self.containers_conf.write_text(
            "[containers]\n"
            # podman's default nofile limit is above what this host lets a process set.
            'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
            "\n[engine]\n"
            # No systemd here, and crun does not support this host's hybrid cgroups.
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            'runtime = "runc"\n'
            f'tmp_dir = "{self.runtime_dir / "tmp"}"\n'
            "\n[network]\n"
            # netavark + aardvark-dns give containers each other's service names.
            'network_backend = "netavark"\n'
            f'network_config_dir = "{self.network_dir}"\n'
        )

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CONTAINERS_CONF": str(self.containers_conf),
            "CONTAINERS_STORAGE_CONF": str(self.storage_conf),
        }


class Podman:
    """podman with this run's config, every call logged."""

    def __init__(self, config: PodmanConfig, log: Path) -> None:
        self.config = config
        self.log = log
        self.env = config.env()

    def __call__(
        self,
        *args: str,
        check: bool = True,
        timeout: float | None = 900,
        log: Path | None = None,
    ) -> str:
        proc = run(
            ["podman", *args], env=self.env, log=log or self.log, check=check, timeout=timeout
        )
        return proc.stdout

    def ok(self, *args: str, timeout: float | None = 120) -> bool:
        proc = run(["podman", *args], env=self.env, log=self.log, check=False, timeout=timeout)
        return proc.returncode == 0

    def image_exists(self, name: str) -> bool:
        return self.ok("image", "exists", name)

    def check_info(self) -> None:
        proc = run(["podman", "info"], env=self.env, log=self.log, check=False, timeout=120)
        if proc.returncode != 0:
            raise Skip(f"podman cannot start here: {(proc.stderr or proc.stdout).strip()[-500:]}")

    def output(self, *args: str) -> str:
        """stdout and stderr together, whatever the exit code (logs, diagnostics)."""
        proc = run(["podman", *args], env=self.env, log=self.log, check=False, timeout=120)
        return proc.stdout + proc.stderr

    def compose(self, project_dir: Path, project: str, *args: str, check: bool = True) -> str:
        argv: Sequence[str] = ["podman-compose", "-p", project, "-f", "compose.yaml", *args]
        proc = run(argv, env=self.env, cwd=project_dir, log=self.log, check=check, timeout=600)
        return proc.stdout
