"""`tertulia check-config FILE`: exit 0 for a good file, else the line at fault, one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tertulia.store.passwords import check_password


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
        (
            '[operators]\nprofe = "secreto"\nlog_level = "debug"\n',
            3,
            "log_level is under [operators]; settings go above the table",
        ),
        ('port = 5000\nmotd_file = "/nonexistent/motd"\n', 2, "motd_file: cannot read"),
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


def test_hash_password_prints_a_hash_an_operator_entry_accepts() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tertulia", "hash-password"],
        input="operpass\n", capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    hashed = done.stdout.strip()
    assert hashed.startswith("scrypt$") and "operpass" not in hashed
    assert check_password("operpass", hashed) and not check_password("otra", hashed)
    empty = subprocess.run(
        [sys.executable, "-m", "tertulia", "hash-password", "--lang", "es"],
        input="", capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert empty.returncode == 1 and empty.stderr.count("\n") == 1
