"""The documentation site builds with `mkdocs build --strict` and no warning: a broken link,
a missing anchor or a page left out of the nav fails here, as it fails `make docs`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_docs_site_builds_strict_with_no_warning_and_has_the_guides(tmp_path: Path) -> None:
    # A skip inside the test, not at import: conftest.py turns a test's skip into a failure
    # under TERTULIA_REQUIRE_ALL=1, but not a module's skip at collection.
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install 'mkdocs>=1.6')")
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    warnings = [line for line in output.splitlines() if "WARNING" in line]
    assert warnings == [], output
    for page in ("index.html", "user-guide/index.html", "guia-usuario/index.html"):
        assert (site / page).is_file(), page
    # The Spanish guide is a page of its own, not the English one under another name.
    assert "Guía de usuario" in (site / "guia-usuario" / "index.html").read_text("utf-8")
