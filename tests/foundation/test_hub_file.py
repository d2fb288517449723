"""The running hub's file (knutepunkt/hub_file.py): read only while its launcher lives,
removed only by the launcher that wrote it, readable by its owner alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from knutepunkt import hub_file
from knutepunkt.ops.target import from_env

VALUES = {"REDIS_URL": "redis://127.0.0.1:41234/0", "STAFF_TOKENS": "t0ken-1:admin"}


def _gone_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    return int(child.stdout)


def test_the_file_of_a_running_launcher_is_read_and_only_its_owner_can(tmp_path: Path) -> None:
    path = hub_file.write(tmp_path, VALUES, os.getpid())
    assert path.stat().st_mode & 0o777 == 0o600
    assert hub_file.read(tmp_path) == VALUES
    assert [p.name for p in tmp_path.iterdir()] == [hub_file.FILE_NAME]


def test_a_file_left_by_a_launcher_killed_outright_is_not_read(tmp_path: Path) -> None:
    hub_file.write(tmp_path, VALUES, _gone_pid())
    assert hub_file.read(tmp_path) == {}


def test_a_launcher_removes_its_own_file_and_no_other(tmp_path: Path) -> None:
    hub_file.write(tmp_path, VALUES, os.getpid())
    hub_file.remove(tmp_path, os.getppid())
    assert hub_file.read(tmp_path) == VALUES
    hub_file.remove(tmp_path, os.getpid())
    assert not (tmp_path / hub_file.FILE_NAME).exists()
    hub_file.remove(tmp_path, os.getpid())  # gone already: nothing to do


def test_the_environment_says_first_and_the_file_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub_file.write(tmp_path, {**VALUES, "BOOKING_URL": "http://127.0.0.1:9001"}, os.getpid())
    for name in ("STAFF_TOKENS", "BOOKING_URL", "STREAM_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KNUTEPUNKT_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("REDIS_URL", "redis://10.0.0.5:6379/0")
    target = from_env()
    assert target.redis_url == "redis://10.0.0.5:6379/0"
    assert target.urls["booking"] == "http://127.0.0.1:9001"
    assert target.token_for("admin") == "t0ken-1"
