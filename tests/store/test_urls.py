"""Store URLs shown to people: redacted() masks a password in every shape of URL and of
libpq settings, scrubbed() takes it out of error text, and `tertulia store copy` shows
neither a password nor a traceback."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tertulia.store import from_url
from tertulia.store.urls import redacted, scrubbed, split

# What a URL may hold, one for one: the URL as typed, and as shown.
SHOWN = [
    ("postgresql://ana:sekrit@db/chat", "postgresql://ana:***@db/chat"),
    ("postgres://ana:sekrit@db:5432/chat", "postgres://ana:***@db:5432/chat"),
    ("POSTGRESQL://ana:sekrit@db/chat", "POSTGRESQL://ana:***@db/chat"),
    ("postgress://ana:sekrit@db/chat", "postgress://ana:***@db/chat"),  # a mistyped scheme
    # libpq's host lists, where urlsplit's .port raises ValueError.
    (
        "postgresql://u:p4ss@h1:5432,h2:5433/db",
        "postgresql://u:***@h1:5432,h2:5433/db",
    ),
    ("postgresql://u:p4ss@h1,h2,h3/db", "postgresql://u:***@h1,h2,h3/db"),
    # IPv6 in brackets, alone and in a list.
    ("postgresql://ana:sekrit@[::1]:5432/chat", "postgresql://ana:***@[::1]:5432/chat"),
    (
        "postgresql://ana:sekrit@[2001:db8::1]:5432,[::1]/chat",
        "postgresql://ana:***@[2001:db8::1]:5432,[::1]/chat",
    ),
    # A password in the query, alone, among others, as sslpassword, its name encoded.
    (
        "postgresql://ana@127.0.0.1:5432/chat?password=sekrit",
        "postgresql://ana@127.0.0.1:5432/chat?password=***",
    ),
    (
        "postgresql://db/chat?sslmode=require&password=sekrit&application_name=t",
        "postgresql://db/chat?sslmode=require&password=***&application_name=t",
    ),
    ("postgresql://db/chat?PASSWORD=sekrit", "postgresql://db/chat?PASSWORD=***"),
    ("postgresql://db/chat?sslpassword=sekrit", "postgresql://db/chat?sslpassword=***"),
    ("postgresql://db/chat?pass%77ord=sekrit", "postgresql://db/chat?pass%77ord=***"),
    (
        "postgresql://ana:sekrit@db/chat?password=other",
        "postgresql://ana:***@db/chat?password=***",
    ),
    # Percent-encoded passwords, and one libpq cannot decode.
    ("postgresql://ana:s%40k%2Frit@db/chat", "postgresql://ana:***@db/chat"),
    ("postgresql://u:sek%zzrit@127.0.0.1:5/db", "postgresql://u:***@127.0.0.1:5/db"),
    # Passwords typed raw with what a URL reserves: base64's "/", a "?", an "@".
    ("postgresql://app:Ab3/xY+z==@db/chat", "postgresql://app:***@db/chat"),
    ("postgresql://app:pa?ss@db/chat", "postgresql://app:***@db/chat"),
    ("postgresql://app:p@ss@db/chat", "postgresql://app:***@db/chat"),
    ("postgresql://app:@db/chat", "postgresql://app:***@db/chat"),
    # Without a password: unchanged.
    ("postgresql://ana@db/chat", "postgresql://ana@db/chat"),
    ("postgresql://db:5432/chat", "postgresql://db:5432/chat"),
    ("postgresql://[::1]:5432/chat", "postgresql://[::1]:5432/chat"),
    ("postgresql://h1:1,h2:2/chat", "postgresql://h1:1,h2:2/chat"),
    ("postgresql:///chat", "postgresql:///chat"),
    ("postgresql://", "postgresql://"),
    (
        "postgresql://db:5432/chat?application_name=ana@home&sslmode=require",
        "postgresql://db:5432/chat?application_name=ana@home&sslmode=require",
    ),
    # SQLite names a file: unchanged, whatever the file is called.
    ("sqlite:///var/lib/tertulia/history.db", "sqlite:///var/lib/tertulia/history.db"),
    ("sqlite://relative.db", "sqlite://relative.db"),
    ("sqlite:///tmp/a:b@c.db", "sqlite:///tmp/a:b@c.db"),
    ("", ""),
    # Not URLs: libpq's key=value settings, bare, quoted, escaped; a scheme mistyped.
    ("host=db password=secret", "host=db password=***"),
    ("host=db password = secret user=ana", "host=db password = *** user=ana"),
    ("host=db password='se cret' user=ana", "host=db password=*** user=ana"),
    (r"host=db password='it\'s here' user=ana", "host=db password=*** user=ana"),
    (r"host=db password=se\ cret user=ana", "host=db password=*** user=ana"),
    ("host=db PASSWORD=secret sslpassword=other", "host=db PASSWORD=*** sslpassword=***"),
    ("host=db password='unterminated and more", "host=db password=***"),
    ("host=db password=a://b", "host=db password=***"),
    ("postgresql:/ana:sekrit@db/chat", "postgresql:***@db/chat"),
    ("ana:sekrit@db/chat", "ana:***@db/chat"),
    ("host=db user=ana", "host=db user=ana"),
    ("/var/lib/tertulia/history.db", "/var/lib/tertulia/history.db"),
]


@pytest.mark.parametrize(("url", "shown"), SHOWN)
def test_redacted_shows_a_url_without_its_password(url: str, shown: str) -> None:
    assert redacted(url) == shown


def test_redacted_is_a_fixed_point() -> None:
    """What a store shows (its `where`) may be redacted again: nothing more changes."""
    for _, shown in SHOWN:
        assert redacted(shown) == shown


def test_split_tells_a_url_from_what_is_not_one() -> None:
    assert split("postgresql://ana@db/chat") == ("postgresql", "ana@db/chat")
    assert split("sqlite:///x.db") == ("sqlite", "/x.db")
    assert split("host=db password=secret") is None
    assert split("host=db password=a://b") is None  # "://" in a value makes no scheme
    assert split("://db") is None


@pytest.mark.parametrize(
    ("text", "url", "scrubbed_text"),
    [
        # libpq quotes the token it could not decode.
        (
            'invalid percent-encoded token: "sek%zzrit"',
            "postgresql://u:sek%zzrit@127.0.0.1:5/db",
            'invalid percent-encoded token: "***"',
        ),
        # As typed and percent-decoded.
        ("raw s%40krit, decoded s@krit", "postgresql://u:s%40krit@db/x", "raw ***, decoded ***"),
        # The whole user info, which leaves no "u:" behind.
        ('bad "u:sekrit"', "postgresql://u:sekrit@db/x", 'bad "***"'),
        # The longer pieces of a raw password a parser cut at its "/".
        (
            'invalid integer value "Ab3x" for connection option "port"',
            "postgresql://app:Ab3x/yZ+q==@db/chat",
            'invalid integer value "***" for connection option "port"',
        ),
        # A password in the query, and in key=value settings, quoted and escaped.
        ("no sekrit here", "postgresql://db/chat?password=sekrit", "no *** here"),
        ("no secret here", "host=db password=secret", "no *** here"),
        ("no 'it's' here", r"host=db password='it\'s'", "no '***' here"),
        ("no se cret here", r"host=db password='se cret'", "no *** here"),
        # Text without the password, and URLs without one, are left as they are.
        ("connection refused", "postgresql://u:sekrit@db/x", "connection refused"),
        ("a plain error", "postgresql://u@db/x", "a plain error"),
        ("a plain error", "sqlite:///a:plain@error.db", "a plain error"),
        ("a plain error", "", "a plain error"),
    ],
)
def test_scrubbed_takes_the_password_out_of_error_text(
    text: str, url: str, scrubbed_text: str
) -> None:
    assert scrubbed(text, url) == scrubbed_text


# Passwords of any characters, short ones aside: "a" is in almost any text.
passwords = st.text(min_size=4, max_size=40).filter(lambda p: p.strip() == p and p.strip())


def _libpq_quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _libpq_bare(value: str) -> str:
    return re.sub(r"([\s\\'])", r"\\\1", value)


def _shapes(password: str) -> list[str]:
    """Every place a password can go, each given the same password."""
    encoded = quote(password, safe="")
    return [
        f"postgresql://ana:{encoded}@db:5432/chat",
        f"postgresql://ana:{encoded}@h1:5432,h2:5433/chat",
        f"postgresql://ana:{encoded}@[::1]:5432/chat",
        f"postgresql://ana@db/chat?sslmode=require&password={encoded}",
        f"host=db password={_libpq_quoted(password)} user=ana",
        f"host=db password={_libpq_bare(password)} user=ana",
    ]


@given(passwords)
def test_redacted_never_raises_and_never_shows_a_password(password: str) -> None:
    # What is shown does not depend on the password at all: it cannot tell any of it.
    for url, placeholder in zip(_shapes(password), _shapes("placeholder"), strict=True):
        assert redacted(url) == redacted(placeholder)


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40))
def test_a_password_typed_raw_is_masked_too(password: str) -> None:
    """A password pasted into a URL unencoded: what the user info may hold (a "?" after a
    "/" aside, which reads as the start of a query) is masked whole."""
    if "?" in password.partition("/")[2]:
        password = password.replace("?", "")
    url = f"postgresql://ana:{password}@db:5432/chat"
    assert redacted(url) == "postgresql://ana:***@db:5432/chat"


@given(st.text(max_size=80))
def test_redacted_and_scrubbed_never_raise(text: str) -> None:
    redacted(text)
    scrubbed(text, text)
    for prefix in ("postgresql://", "sqlite://", "password=", "x:"):
        redacted(prefix + text)
        scrubbed(text, prefix + text)


@given(passwords, st.text(max_size=40))
def test_scrubbed_text_never_holds_the_password(password: str, around: str) -> None:
    for url in _shapes(password):
        text = f"{around} {password} {quote(password, safe='')} {around}"
        assert password not in scrubbed(text, url)


# -- the real command ------------------------------------------------------------------------

ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith(("TERTULIA_", "LC_", "LANG"))},
    "LANG": "C.UTF-8",
}


@pytest.fixture
def closed_ports() -> Iterator[tuple[int, int]]:
    """Two ports on 127.0.0.1, bound and never listening: connections are refused."""
    with socket.socket() as one, socket.socket() as two:
        one.bind(("127.0.0.1", 0))
        two.bind(("127.0.0.1", 0))
        yield one.getsockname()[1], two.getsockname()[1]


@pytest.mark.parametrize(
    ("url", "code"),
    [
        pytest.param("postgress://ana:sekrit@db/chat", 2, id="unknown scheme"),
        pytest.param(
            "postgresql://ana:sekrit@127.0.0.1:{one},127.0.0.1:{two}/chat",
            1,
            id="host list",
        ),
        pytest.param(
            "postgresql://ana@127.0.0.1:{one}/chat?password=sekrit",
            1,
            id="query password",
        ),
        pytest.param("postgresql://u:sek%zzrit@127.0.0.1:{one}/db", 1, id="undecodable password"),
        pytest.param("host=127.0.0.1 port={one} password=sekrit", 2, id="key=value"),
    ],
)
@pytest.mark.parametrize("side", ["source", "destination"])
def test_store_copy_never_shows_a_password(
    url: str, code: int, side: str, closed_ports: tuple[int, int], tmp_path: Path
) -> None:
    url = url.format(one=closed_ports[0], two=closed_ports[1])
    sqlite = f"sqlite:///{tmp_path / 'history.db'}"
    if side == "source":
        args = [url, sqlite]
    else:
        source = from_url(sqlite, tmp_path)  # an existing source: the copy gets to the URL
        source.open()
        source.close()
        args = [sqlite, url]
    done = subprocess.run(
        [sys.executable, "-m", "tertulia", "store", "copy", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=ENV,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == code, done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("tertulia store copy: ")
    assert "Traceback" not in done.stderr
    for secret in ("sekrit", "sek%zzrit"):
        assert secret not in done.stdout + done.stderr
