"""Imports point one way (docs/architecture.md): checked on the source, with ast."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "tertulia"

# What each layer may import from tertulia; a layer not listed may import anything.
ALLOWED = {
    "core": {"core"},
    "protocols": {"core", "protocols"},
    "store": {"core", "store"},
    "client": {"core", "protocols", "client", "i18n", "runtime"},
    "tui": {"core", "protocols", "client", "tui", "i18n", "runtime"},
    "chat": {"core", "protocols", "client", "chat", "tui", "i18n", "runtime"},
    "bench": {"core", "protocols", "client", "bench", "i18n", "runtime"},
}
NO_IO = {"core", "protocols"}
IO_MODULES = {"asyncio", "socket", "selectors", "uvloop", "ssl"}


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def violations() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        layer = parts[0] if len(parts) > 1 else None
        if layer not in ALLOWED:
            continue
        for line, module in imports(path):
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            top = module.split(".")
            if top[0] == "tertulia" and len(top) > 1 and top[1] not in ALLOWED[layer]:
                problems.append(f"{where}: {layer} imports {module}")
            if layer in NO_IO and top[0] in IO_MODULES:
                problems.append(f"{where}: {layer} does I/O through {module}")
    return problems


def test_imports_point_one_way() -> None:
    assert violations() == []


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from tertulia.server.app import Server\nimport asyncio\n")
    assert imports(bad) == [(1, "tertulia.server.app"), (2, "asyncio")]
