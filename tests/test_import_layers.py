"""Imports point one way (docs/architecture.md): import-linter's contracts in pyproject.toml."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Runs lint-imports on the tertulia under root/src, with root/pyproject.toml."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(root / "pyproject.toml")],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root / "src")},
        capture_output=True,
        text=True,
        timeout=30,
    )


def flat(text: str) -> str:
    """The report wraps long contract names; compare text with its spacing flattened."""
    return " ".join(text.split())


def test_every_contract_is_kept() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Contracts: {len(contracts())} kept, 0 broken." in done.stdout


@pytest.mark.parametrize(
    "codec_import",
    ["from tertulia.protocols import plain", "from . import plain"],
    ids=["absolute", "relative"],
)
def test_a_bad_import_breaks_its_contract(tmp_path: Path, codec_import: str) -> None:
    shutil.copytree(
        ROOT / "src" / "tertulia",
        tmp_path / "src" / "tertulia",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    core = tmp_path / "src" / "tertulia" / "core" / "names.py"
    core.write_text(core.read_text() + "\nimport asyncio  # noqa\n")
    codec = tmp_path / "src" / "tertulia" / "protocols" / "jsonlines.py"
    codec.write_text(codec.read_text() + f"\n{codec_import}  # noqa\n")

    done = lint_imports(tmp_path)

    assert done.returncode == 1, done.stdout + done.stderr
    report = flat(done.stdout)
    assert f"Contracts: {len(contracts()) - 2} kept, 2 broken." in report
    broken = report.split("Broken contracts", 1)[1]
    for contract in ("no-io", "codecs"):
        assert flat(contracts()[contract]["name"]) in broken
    assert "tertulia.core.names -> asyncio" in broken
    assert "tertulia.protocols.jsonlines -> tertulia.protocols.plain" in broken


def test_core_and_protocols_use_only_the_standard_library() -> None:
    """Backs the named list of the no-third-party contract: any package outside the
    standard library is caught, even one nobody thought to name."""
    allowed = {
        tuple(rule.split(" -> "))
        for rule in contracts()["no-third-party"].get("ignore_imports", [])
    }
    graph = grimp.build_graph("tertulia", include_external_packages=True, cache_dir=None)
    found = {
        (module, imported)
        for module in graph.modules
        if module.split(".")[:2] in (["tertulia", "core"], ["tertulia", "protocols"])
        for imported in graph.find_modules_directly_imported_by(module)
        if not imported.startswith("tertulia")
        and imported.split(".")[0] not in sys.stdlib_module_names
    }
    assert found <= allowed, sorted(found - allowed)
