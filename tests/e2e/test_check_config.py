"""`tertulia check-config FILE`: exit 0 for a good file, else the line at fault, one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def check(path: Path, lang: str = "en") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tertulia", "check-config", str(path), "--lang", lang],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30,
    )  # fmt: skip


def test_a_good_file(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('port = 5000\nserver_name = "aula"\n\n[operators]\nprofe = "secreto"\n')
    done = check(good)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{good}: good\n", "")
    assert check(good, "es").stdout == f"{good}: bien\n"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("port = 5000\nmax_clientz = 3\n", 2, "unknown setting 'max_clientz'"),
        ('port = 5000\n\nmax_clients = "many"\n', 3, "bad value 'many' for max_clients"),
        ("port = 5000\n[oops\n", 2, "is not valid TOML"),
        ('port = 5000\ntls_cert = "cert.pem"\n', 2, "tls_cert and tls_key go together"),
        ("flood_rate = -1\n", 0, "flood limits must be positive"),
    ],
)
def test_a_bad_file_says_which_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    done = check(bad)
    assert done.returncode == 1 and done.stdout == ""
    where = f"{bad}:{line}: " if line else f"{bad}: "
    assert done.stderr.startswith(where) and words in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_a_missing_file(tmp_path: Path) -> None:
    done = check(tmp_path / "nope.toml")
    assert done.returncode == 1 and "cannot read" in done.stderr
