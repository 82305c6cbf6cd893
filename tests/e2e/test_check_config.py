"""`tertulia check-config FILE`: exit 0 for a good file, else the line at fault, one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import trustme

from tertulia import config
from tertulia.store.passwords import check_password
from tlscerts import write_cert


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
        ("flood_rate = -1\n", 1, "flood limits must be positive"),
        (
            '[operators]\nprofe = "secreto"\nlog_level = "debug"\n',
            3,
            "log_level is under [operators]; settings go above the table",
        ),
        ('port = 5000\nmotd_file = "/nonexistent/motd"\n', 2, "motd_file: cannot read"),
        ("max_clients = 7\n[server]\nmax_clients = 8\n", 1, "max_clients is set twice"),
        ("port = 5000\n[srever]\nport = 1\n", 2, "unknown setting 'srever'"),
        ("max-clients = 5\nmax_clients = 9\n", 1, "max_clients is set twice"),
        ("port = 1\n[server]\nweb_port = 99999\n", 3, "between 0 and 65535"),
        ("history = true\nhistory_replay = -1\n", 2, "must not be negative"),
        ("flood_rate = 0\n", 1, "flood limits must be positive"),
        ("server = 3\n", 1, "server must be a table"),
        ('[bans]\n"a!*@*" = "x"\n"*" = "todos"\n', 3, "'*' is not a ban mask"),
        ('motd_file = "/dev/zero"\n', 1, "is not a regular file"),
        ('port = 5000\nlog_level = "verbose"\n', 2, "unknown log level 'verbose'"),
        ('lang = "fr"\n', 1, "'fr' is not a language tertulia speaks"),
        (
            'port = 1\nstore = "mysql://ana@db/chat"\n',
            2,
            "store: unknown store 'mysql': use sqlite:///file",
        ),
        ('cluster = "http://x"\n', 1, "cluster: not a Redis address"),
        ('tls_cert = "nope.pem"\ntls_key = "nope.key"\n', 1, "cannot be used"),
        (
            'port = 1\n[operators]\nprofe = "scrypt$16384$8$1$..."\n',
            2,
            "the hash of profe is not one `tertulia hash-password` makes",
        ),
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
    # A line from Windows keeps no \r in the password; bytes that are not UTF-8 are one line.
    crlf = subprocess.run(
        [sys.executable, "-m", "tertulia", "hash-password"],
        input=b"operpass\r\n", capture_output=True, timeout=30,
    )  # fmt: skip
    assert check_password("operpass", crlf.stdout.decode().strip())
    latin1 = subprocess.run(
        [sys.executable, "-m", "tertulia", "hash-password", "--lang", "es"],
        input=b"\xff\xfe123456\n", capture_output=True, timeout=30,
    )  # fmt: skip
    assert latin1.returncode == 1 and b"Traceback" not in latin1.stderr
    assert latin1.stderr.decode() == "tertulia: la contrase\u00f1a no es texto UTF-8\n"


def test_a_bad_operator_entry_never_shows_the_passwords(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('port = 5000\n\n[operators]\nalice = "TopSecretPassword"\nbob = 5\n')
    done = check(bad)
    assert done.returncode == 1 and "TopSecretPassword" not in done.stderr
    assert done.stderr.startswith(f"{bad}:3: ") and "bad value for operators" in done.stderr


def test_a_file_that_is_not_utf8_is_one_line_with_its_line(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('port = 5000\nmotd = "Año nuevo"\n'.encode("latin-1"))
    done = check(latin1, "es")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"{latin1}:2: ") and "UTF-8" in done.stderr
    assert "(línea 2)" in done.stderr  # all of it in Spanish
    assert done.stderr.count("\n") == 1


def test_a_key_of_another_certificate_is_found(tmp_path: Path) -> None:
    ca = trustme.CA()
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    cert, _ = write_cert(ca, tmp_path / "one")
    _, other_key = write_cert(ca, tmp_path / "two")
    conf = tmp_path / "tls.toml"
    conf.write_text(f'tls_cert = "{cert}"\ntls_key = "{other_key}"\n')
    done = check(conf)
    assert done.returncode == 1 and done.stderr.startswith(f"{conf}:1: ")
    assert "cannot be used" in done.stderr


def test_top_level_keys_and_a_server_table_add_up_and_files_are_beside_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "etc" / "tertulia.toml"
    conf.parent.mkdir()
    (conf.parent / "motd.txt").write_text("hola\n")
    conf.write_text('max_clients = 7\nmotd_file = "motd.txt"\n[server]\nserver_name = "aula"\n')
    monkeypatch.chdir("/")  # where systemd starts the server
    found = config.load(env={}, config_file=str(conf))
    assert (found.max_clients, found.server_name) == (7, "aula")
    assert found.motd_file == str(conf.parent / "motd.txt")
    assert check(conf).returncode == 0


def test_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbfport = 5000\n")
    assert check(bom).returncode == 0
