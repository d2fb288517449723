"""How `make compose-test` ends: SKIP with exit 0 only when containers cannot run at all."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from deploy import compose_test, podman_host
from deploy.outcome import Skip, StepFailed
from deploy.timings import Timings


def run_main(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, error: Exception | None) -> int:
    def fake_run(args: argparse.Namespace, timings: Timings) -> None:
        with timings.step("a step"):
            pass
        if error is not None:
            raise error

    monkeypatch.setattr(compose_test, "compose_test", fake_run)
    return compose_test.main(["--state-dir", str(tmp_path)])


def test_skip_is_loud_and_exits_zero(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(monkeypatch, tmp_path, Skip("no namespaces")) == 0
    out = capsys.readouterr().out
    assert "\nSKIP: no namespaces\n" in out
    assert "PASS" not in out


def test_a_failed_step_exits_non_zero(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(monkeypatch, tmp_path, StepFailed("migrate exited 1")) == 1
    assert "FAIL: migrate exited 1" in capsys.readouterr().err


def test_an_unexpected_error_exits_non_zero(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert run_main(monkeypatch, tmp_path, KeyError("x")) == 1


def test_a_full_run_passes_and_keeps_its_timings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(monkeypatch, tmp_path, None) == 0
    assert "PASS: compose-test" in capsys.readouterr().out
    assert '"step": "a step"' in (tmp_path / "timings.json").read_text()


def test_without_root_there_is_no_container_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(podman_host.os, "geteuid", lambda: 1000)
    with pytest.raises(Skip, match="root"):
        podman_host.check_can_run_containers()


def test_missing_tools_without_root_skip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(podman_host, "missing_tools", lambda: ["podman"])
    monkeypatch.setattr(podman_host.os, "geteuid", lambda: 1000)
    with pytest.raises(Skip, match="podman missing and not root"):
        podman_host.ensure_tools(tmp_path / "apt.log")


def test_tools_present_means_no_apt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(podman_host, "missing_tools", lambda: [])
    assert podman_host.ensure_tools(tmp_path / "apt.log") is False
