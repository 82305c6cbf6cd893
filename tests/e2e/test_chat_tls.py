"""`tertulia chat --tls` as a subprocess against a server with a trustme certificate."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
import trustme

from chatclient import TIMEOUT, LineClient
from conftest import ServerFactory
from tertulia.server.app import Server
from tlscerts import ca_file, write_cert

pytestmark = pytest.mark.timeout(60)


def port_of(server: Server, name: str) -> int:
    return int(server.addresses(name)[0].rsplit(":", 1)[1])


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_server(make_server: ServerFactory, ca: trustme.CA, tmp_path: Path) -> Server:
    chain, key = write_cert(ca, tmp_path)
    server: Server = await make_server(
        tls_cert=str(chain), tls_key=str(key), plain_tls_port=0, irc_tls_port=0, web_tls_port=0
    )
    return server


async def start_chat(*args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "", "LANGUAGE": ""}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tertulia", "chat", "--lang", "en", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip


async def chat(*args: str, stdin: str = "") -> tuple[int, str, str]:
    proc = await start_chat(*args)
    async with asyncio.timeout(30):
        out, err = await proc.communicate(stdin.encode())
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_line_mode_over_tls_chats_with_a_plain_client(
    tls_server: Server, ca: trustme.CA, tmp_path: Path
) -> None:
    clear = await LineClient.connect(tls_server.port, "claro")
    proc = await start_chat(
        "--ca-file", str(ca_file(ca, tmp_path)), "--tls", "--port",
        str(port_of(tls_server, "plain-tls")), "--nick", "cifra", "--plain",
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    output = LineClient(proc.stdout, proc.stdin)
    await output.expect("* you are cifra, in #lobby")
    await clear.expect("cifra joined")
    await output.send("hola por TLS")
    await clear.expect("[cifra] hola por TLS")
    await clear.send("y en claro")
    await output.expect("[claro] y en claro")
    proc.stdin.close()
    async with asyncio.timeout(TIMEOUT):
        assert await proc.wait() == 0
    await clear.close()


@pytest.mark.parametrize(
    ("trust", "reason"),
    [
        ("system", "the server's certificate is not trusted: unable to get local issuer"),
        ("another CA", "the server's certificate is not trusted: unable to get local issuer"),
        ("a file with no certificate", "cannot use the CA file"),
        ("a missing file", "cannot use the CA file"),
    ],
)
async def test_an_untrusted_certificate_is_one_clear_line(
    tls_server: Server, tmp_path: Path, trust: str, reason: str
) -> None:
    args = ["--tls"]
    if trust == "another CA":
        args += ["--ca-file", str(ca_file(trustme.CA(), tmp_path))]
    elif trust == "a file with no certificate":
        (tmp_path / "empty.pem").write_text("nothing here\n")
        args += ["--ca-file", str(tmp_path / "empty.pem")]
    elif trust == "a missing file":
        args += ["--ca-file", str(tmp_path / "missing.pem")]
    port = str(port_of(tls_server, "plain-tls"))
    code, out, err = await chat(*args, "--port", port, "--nick", "nadie", stdin="hola\n")
    assert code == 1
    assert err.startswith("tertulia: ") and reason in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert "you are" not in out
    # Nobody called nadie ever arrived.
    who = await LineClient.connect(tls_server.port, "quien")
    await who.send("/who")
    listing = await who.expect("* #lobby (")
    assert "nadie" not in listing
    await who.close()


async def test_tls_to_a_port_without_tls_is_one_clear_line(
    tls_server: Server, ca: trustme.CA, tmp_path: Path
) -> None:
    code, _, err = await chat(
        "--ca-file", str(ca_file(ca, tmp_path)), "--port", str(tls_server.port), "--nick", "x"
    )
    assert code == 1
    assert len(err.strip().splitlines()) == 1, err
    assert f"cannot connect to 127.0.0.1:{tls_server.port}: TLS failed" in err
    assert "TLS port?" in err


async def test_a_self_signed_servers_own_certificate_is_a_ca_file(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    chain, key = tmp_path / "self.pem", tmp_path / "self.key"
    made = await asyncio.create_subprocess_exec(
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        "-keyout", str(key), "-out", str(chain), stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert await made.wait() == 0
    server: Server = await make_server(
        tls_cert=str(chain), tls_key=str(key), plain_tls_port=0, irc_tls_port=0, web_tls_port=0
    )
    reader = await LineClient.connect(server.port, "lee")
    port = str(port_of(server, "plain-tls"))
    code, out, err = await chat(
        "--ca-file", str(chain), "--port", port, "--nick", "propia", "--plain", stdin="hola\n"
    )
    assert code == 0, err
    assert "* you are propia, in #lobby" in out
    await reader.expect("[propia] hola")
    await reader.close()
