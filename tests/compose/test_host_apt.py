"""Finding the host's Debian mirror and apt settings for the debootstrapped base."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.host_apt import carried_apt_options, deb822_entries, debian_mirror, one_line_entries

DEB822 = """\
Types: deb
# a comment
URIs: http://mirror.example.org/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://security.example.org/debian-security
Suites: bookworm-security
Components: main
"""


def test_deb822_stanzas() -> None:
    entries = deb822_entries(
        DEB822 + "\nTypes: deb\nEnabled: no\nURIs: http://off\nSuites: bookworm\n"
    )
    assert entries == [
        (["deb"], ["http://mirror.example.org/debian"], ["bookworm", "bookworm-updates"]),
        (["deb"], ["http://security.example.org/debian-security"], ["bookworm-security"]),
    ]


def test_one_line_sources_with_options() -> None:
    text = (
        "# deb http://old bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main\n"
    )
    assert one_line_entries(text) == [(["deb"], ["http://m.example/debian"], ["bookworm"])]


def test_the_mirror_is_the_one_serving_the_suite_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEBIAN_MIRROR", raising=False)
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        DEB822.replace("bookworm bookworm-updates", "bookworm-updates", 1)
        + "\nTypes: deb\nURIs: http://second.example.org/debian\nSuites: bookworm\n"
    )
    assert debian_mirror("bookworm", tmp_path) == "http://second.example.org/debian"
    assert debian_mirror("trixie", tmp_path) is None
    monkeypatch.setenv("DEBIAN_MIRROR", "http://override.example.org/debian")
    assert debian_mirror("bookworm", tmp_path) == "http://override.example.org/debian"


def test_only_the_listed_apt_options_are_carried() -> None:
    dump = 'APT "";\nAcquire::Check-Valid-Until "false";\nAcquire::Languages "none";\n'
    assert carried_apt_options(dump) == 'Acquire::Check-Valid-Until "false";\n'
    assert carried_apt_options("") == ""
