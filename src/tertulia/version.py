"""`tertulia --version`: the version, and the git revision when built or run from a checkout."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tertulia import __version__

# src/tertulia/version.py -> the checkout, when this file is in one (an editable install).
SOURCE_ROOT = Path(__file__).resolve().parent.parent.parent


def checkout_revision(root: Path | None = None) -> str:
    """HEAD's short revision if `root` (SOURCE_ROOT) is the top of a git checkout, else ""
    (no git, not a checkout, or a wheel installed in a venv that happens to sit in one)."""
    root = root or SOURCE_ROOT
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--show-toplevel", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    lines = done.stdout.splitlines()
    if len(lines) != 2 or Path(lines[0]).resolve() != root.resolve():
        return ""
    return lines[1]


def built_revision() -> str:
    """The revision a wheel was built from: setup.py writes tertulia/_revision.py into
    wheels built from a checkout (and into the sdist, for wheels built from it)."""
    try:
        built = importlib.import_module("tertulia._revision")
    except ImportError:
        return ""
    return str(getattr(built, "REVISION", ""))


def version_line() -> str:
    """`tertulia 0.1.0`, or `tertulia 0.1.0 (git 1a2b3c4)`."""
    revision = checkout_revision() or built_revision()
    return f"tertulia {__version__}" + (f" (git {revision})" if revision else "")


class ShowVersion(argparse.Action):
    """--version, whose line is made only when asked: it may run git."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.update(nargs=0, default=argparse.SUPPRESS)
        super().__init__(option_strings, argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        print(version_line(), file=sys.stdout, flush=True)
        parser.exit()
