"""The host's pip configuration, handed to pip inside image builds.

Package indexes, certificates and constraints are this machine's business (a mirror, a proxy's
CA), so none of them is written into the repository: at build time `pip config list` gives
the host's settings, they go into a pip.conf mounted at /etc/pip.conf for the build only, and
the local files and folders they name are mounted read-only at the same paths. Nothing of it
stays in the image.
"""

from __future__ import annotations

import ast
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from deploy.outcome import run

# pip's own order: [global], then the command's section, then PIP_* variables (":env:").
OVERRIDE_ORDER = ("global", "install", ":env:")
# Where and how pip installs is the Containerfile's choice, not the host's.
NOT_FORWARDED = frozenset(
    {
        "user",
        "target",
        "prefix",
        "root",
        "src",
        "editable",
        "require-virtualenv",
        "break-system-packages",
        "cache-dir",
        "no-cache-dir",
        "log",
        "log-file",
        "verbose",
        "quiet",
        "no-input",
        "disable-pip-version-check",
        "no-build-isolation",
        "no-deps",
    }
)
# Without a `cert` setting, pip's HTTP client still trusts these (as requests does).
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")


@dataclass(frozen=True)
class PipForwarding:
    settings: dict[str, str]
    mounts: tuple[Path, ...]

    def pip_conf(self) -> str:
        lines = ["[global]"]
        lines += [f"{key} = {value}" for key, value in sorted(self.settings.items())]
        return "\n".join(lines) + "\n"

    def volume_args(self, pip_conf: Path) -> list[str]:
        args = ["--volume", f"{pip_conf}:/etc/pip.conf:ro"]
        for path in self.mounts:
            args += ["--volume", f"{path}:{path}:ro"]
        return args


def parse_config_list(text: str) -> list[tuple[str, str, str]]:
    """`pip config list` lines (`section.key='value'`) as (section, key, value)."""
    items: list[tuple[str, str, str]] = []
    for line in text.splitlines():
        name, sep, raw = line.partition("=")
        if not sep:
            continue
        section, dot, key = name.rpartition(".")
        if not dot:
            continue
        try:
            value = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            value = raw.strip()
        items.append((section, key, str(value)))
    return items


def effective_settings(
    items: Iterable[tuple[str, str, str]], environ: Mapping[str, str]
) -> dict[str, str]:
    by_section: dict[str, dict[str, str]] = {section: {} for section in OVERRIDE_ORDER}
    for section, key, value in items:
        if section in by_section:
            by_section[section][key] = value
    merged: dict[str, str] = {}
    for section in OVERRIDE_ORDER:
        merged.update(by_section[section])
    settings = {k: v for k, v in merged.items() if k not in NOT_FORWARDED}
    if "cert" not in settings:
        for variable in CA_BUNDLE_VARIABLES:
            bundle = environ.get(variable)
            if bundle and Path(bundle).is_file():
                settings["cert"] = bundle
                break
    return settings


def local_paths(settings: Mapping[str, str]) -> tuple[Path, ...]:
    """Files and folders on this host that the settings name (file:// URLs, absolute paths)."""
    found: list[Path] = []
    for value in settings.values():
        for token in value.split():
            if token.startswith("file://"):
                candidate = Path(unquote(urlparse(token).path))
            elif token.startswith("/"):
                candidate = Path(token)
            else:
                continue
            # A file:// index's simple/ folder links into its sibling folders (../files).
            if token.startswith("file://") and candidate.name == "simple":
                candidate = candidate.parent
            if candidate.exists() and candidate not in found:
                found.append(candidate)
    # A folder already mounted covers what lies inside it.
    return tuple(p for p in found if not any(o != p and o in p.parents for o in found))


def host_pip_forwarding(python: str = sys.executable) -> PipForwarding:
    proc = run([python, "-m", "pip", "config", "list"], check=False, timeout=60)
    items = parse_config_list(proc.stdout) if proc.returncode == 0 else []
    settings = effective_settings(items, os.environ)
    return PipForwarding(settings=settings, mounts=local_paths(settings))
