"""The host's Debian mirror and apt settings, for the debootstrapped base image.

Which mirror a machine uses (and whether it needs a proxy, or is a dated snapshot whose
Release files have expired) is the machine's business: read it from the host at build time,
never from the repository. DEBIAN_MIRROR overrides the mirror.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable
from pathlib import Path

from deploy.outcome import run

APT_DIR = Path("/etc/apt")
# apt options worth carrying into the image's apt, so apt inside builds behaves like the host's.
CARRIED_APT_OPTIONS = (
    "Acquire::Check-Valid-Until",
    "Acquire::Check-Date",
    "Acquire::http::Proxy",
    "Acquire::https::Proxy",
)


def deb822_entries(text: str) -> list[tuple[list[str], list[str], list[str]]]:
    """(types, uris, suites) of each enabled stanza of a .sources file."""
    entries = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        last = ""
        for line in stanza.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0].isspace() and last:
                fields[last] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            last = key.strip().lower()
            fields[last] = value.strip()
        if fields.get("enabled", "yes").lower() == "no":
            continue
        if "uris" in fields:
            entries.append(
                (
                    fields.get("types", "").split(),
                    fields["uris"].split(),
                    fields.get("suites", "").split(),
                )
            )
    return entries


def one_line_entries(text: str) -> list[tuple[list[str], list[str], list[str]]]:
    """(types, uris, suites) of each `deb [opts] uri suite comps` line of a .list file."""
    entries = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if len(words) < 3 or words[0] not in ("deb", "deb-src"):
            continue
        rest = words[1:]
        if rest[0].startswith("["):
            while rest and not rest[0].endswith("]"):
                rest = rest[1:]
            rest = rest[1:]
        if len(rest) >= 2:
            entries.append(([words[0]], [rest[0]], [rest[1]]))
    return entries


def mirror_from(
    entries: Iterable[tuple[list[str], list[str], list[str]]], suite: str
) -> str | None:
    for types, uris, suites in entries:
        if "deb" in types and suite in suites and uris:
            return uris[0]
    return None


def debian_mirror(suite: str = "bookworm", apt_dir: Path = APT_DIR) -> str | None:
    override = os.environ.get("DEBIAN_MIRROR")
    if override:
        return override
    entries: list[tuple[list[str], list[str], list[str]]] = []
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        entries += deb822_entries(path.read_text(errors="replace"))
    lists = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    for path in lists:
        if path.is_file():
            entries += one_line_entries(path.read_text(errors="replace"))
    return mirror_from(entries, suite)


def carried_apt_options(dump: str) -> str:
    """The CARRIED_APT_OPTIONS lines of an `apt-config dump`, as an apt.conf snippet."""
    lines = []
    for line in dump.splitlines():
        name, _, value = line.partition(" ")
        if name in CARRIED_APT_OPTIONS and value.endswith(";"):
            lines.append(f"{name} {value}")
    return "\n".join(lines) + ("\n" if lines else "")


def host_apt_options() -> str:
    proc = run(["apt-config", "dump"], check=False, timeout=60)
    return carried_apt_options(proc.stdout) if proc.returncode == 0 else ""
