"""The Makefile's entry points, read with `make -n` against a venv that does not exist yet:
`make run` installs only what serving and the terminal client need (the chat extra), `make
test` the development extra too."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _dry_run(target: str, venv: Path) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    result = subprocess.run(
        ["make", "-n", "-C", str(ROOT), f"VENV={venv}", target],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout


def test_make_run_installs_the_package_and_the_chat_extra_not_the_dev_extra(
    tmp_path: Path,
) -> None:
    steps = _dry_run("run", tmp_path / "venv")
    assert "pip install --quiet -e '.[chat]'" in steps
    assert "[dev]" not in steps and "[bench]" not in steps
    assert f"{tmp_path}/venv/bin/tertulia serve" in steps


def test_make_test_installs_the_dev_extra_in_the_same_venv(tmp_path: Path) -> None:
    steps = _dry_run("pytest", tmp_path / "venv")
    assert "-e '.[dev]'" in steps
    assert f"{tmp_path}/venv/bin/pytest" in steps


def test_make_chat_runs_the_terminal_client_from_the_venv(tmp_path: Path) -> None:
    steps = _dry_run("chat", tmp_path / "venv")
    assert f"{tmp_path}/venv/bin/tertulia chat" in steps
    assert "-e '.[chat]'" in steps  # Textual: the full-screen client is an extra
    assert "[dev]" not in steps


def test_make_docs_builds_the_site_strict_from_the_dev_venv(tmp_path: Path) -> None:
    steps = _dry_run("docs", tmp_path / "venv")
    assert "-e '.[dev]'" in steps  # mkdocs comes with the development extra
    assert f"{tmp_path}/venv/bin/mkdocs build --strict --site-dir site" in steps
