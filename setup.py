"""Build hooks only (everything else is in pyproject.toml): a wheel or sdist built from a git
checkout carries the revision it was built from, in tertulia/_revision.py, for `--version`.

The module is written into the build, never into src/ (git ignores it there anyway). A
wheel built from such an sdist keeps its revision; one built from sources outside a
checkout has none, and `tertulia --version` then says only the version."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
MODULE = Path("tertulia", "_revision.py")


def revision() -> str:
    """HEAD's short revision when ROOT is the top of a git checkout, else "": asked the way
    `tertulia --version` asks it in a checkout (tertulia.version, which needs nothing but
    the standard library). TERTULIA_REVISION names it where there is no checkout to ask
    (a container build, whose context leaves .git out)."""
    given = os.environ.get("TERTULIA_REVISION", "").strip()
    if given:
        return given
    sys.path.insert(0, str(ROOT / "src"))
    try:
        from tertulia.version import checkout_revision
    finally:
        sys.path.pop(0)
    return checkout_revision(ROOT)


def write_revision(package_root: Path) -> None:
    found = revision()
    if found:
        target = package_root / MODULE
        # Not written through: a file in a release tree may be a hard link to the source's.
        target.unlink(missing_ok=True)
        doc = '"""The git revision this build was made from (written by setup.py)."""'
        target.write_text(f'{doc}\n\nREVISION = "{found}"\n', encoding="utf-8")


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        # An editable install reads the checkout's revision at run time instead.
        if not self.editable_mode:
            write_revision(Path(self.build_lib))


class Sdist(sdist):
    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        write_revision(Path(base_dir, "src"))


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist})
