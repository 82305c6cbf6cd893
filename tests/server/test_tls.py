"""TLS on every door, with certificates made by trustme for 127.0.0.1 and localhost."""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path

import pytest
import trustme

from chatclient import TIMEOUT, LineClient
from conftest import ServerFactory
from tertulia.core.errors import TlsUnusable
from tertulia.server.app import Server
from tlscerts import client_context, write_cert


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


def port_of(server: Server, name: str) -> int:
    return int(server.addresses(name)[0].rsplit(":", 1)[1])


async def test_plain_over_tls_chats_with_plain_in_the_clear(
    tls_server: Server, ca: trustme.CA
) -> None:
    clear = await LineClient.connect(tls_server.port, "claro")
    secure = await LineClient.connect(
        port_of(tls_server, "plain-tls"), "cifrado", ssl=client_context(ca),
        server_hostname="localhost",
    )  # fmt: skip
    await secure.send("hola por TLS")
    await clear.expect("[cifrado] hola por TLS")
    await clear.send("y en claro")
    await secure.expect("[claro] y en claro")
    for client in (clear, secure):
        await client.close()


async def test_irc_and_https_over_tls(tls_server: Server, ca: trustme.CA) -> None:
    context = client_context(ca)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port_of(tls_server, "irc-tls"), ssl=context, server_hostname="localhost"
    )
    writer.write(b"NICK segura\r\nUSER segura 0 * :Segura\r\n")
    welcome = await asyncio.wait_for(reader.readline(), TIMEOUT)
    assert b" 001 segura " in welcome
    writer.close()
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port_of(tls_server, "web-tls"), ssl=context, server_hostname="localhost"
    )
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
    reply = await asyncio.wait_for(reader.read(), TIMEOUT)
    assert reply.startswith(b"HTTP/1.1 200 ")
    writer.close()


async def test_a_client_without_tls_on_a_tls_port_harms_nobody(tls_server: Server) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(tls_server, "irc-tls"))
    writer.write(b"NICK plano\r\nUSER plano 0 * :x\r\n")  # not a TLS handshake
    assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""  # closed, nothing sent
    writer.close()
    other = await LineClient.connect(tls_server.port, "sigue")
    await other.close()


async def test_unusable_certificate_files_are_one_clear_error(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(TlsUnusable):
        await make_server(tls_cert=str(bad), tls_key=str(bad))


async def secure_client(port: int, ca: trustme.CA, nick: str | None = None) -> LineClient:
    """A plain client over TLS that trusts `ca` alone, connecting by address (no SNI)."""
    return await LineClient.connect(port, nick, ssl=client_context(ca), server_hostname="127.0.0.1")


async def test_a_reload_serves_the_new_certificate_and_open_connections_stay(
    tls_server: Server, tmp_path: Path
) -> None:
    ca_a, ca_b = trustme.CA(), trustme.CA()
    write_cert(ca_a, tmp_path)  # the files the server was started with, now from CA A
    assert tls_server.reload_tls()
    port = port_of(tls_server, "plain-tls")
    before = await secure_client(port, ca_a, "antes")
    write_cert(ca_b, tmp_path)  # a certificate from another CA, in the same files
    assert tls_server.reload_tls()
    after = await secure_client(port, ca_b, "despues")
    with pytest.raises(ssl.SSLCertVerificationError):
        await secure_client(port, ca_a)  # new connections no longer get A's certificate
    # The connection made before the reload still chats both ways.
    await before.send("sigo aquí")
    await after.expect("[antes] sigo aquí")
    await after.send("y yo con el nuevo")
    await before.expect("[despues] y yo con el nuevo")
    # Every TLS door shares the reloaded certificate: IRC too, with SNI this time.
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port_of(tls_server, "irc-tls"), ssl=client_context(ca_b),
        server_hostname="localhost",
    )  # fmt: skip
    writer.write(b"NICK irc\r\nUSER irc 0 * :x\r\n")
    assert b" 001 irc " in await asyncio.wait_for(reader.readline(), TIMEOUT)
    writer.close()
    for client in (before, after):
        await client.close()


async def test_a_reload_from_unusable_files_keeps_the_old_certificate(
    tls_server: Server, ca: trustme.CA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = port_of(tls_server, "plain-tls")
    (tmp_path / "key.pem").write_text("half a key")
    with caplog.at_level(logging.INFO, logger="tertulia"):
        assert not tls_server.reload_tls()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None
    # A whole reload (SIGHUP, `tertulia admin reload`) says the files did not take.
    tls_server.reread = lambda: tls_server.settings
    done = tls_server.reload()
    assert done is not None and done.failed == ("tls_cert", "tls_key")
    assert "keeping the previous certificate" in errors[0].getMessage()
    client = await secure_client(port, ca, "sigue")  # still the first certificate
    await client.close()
    # A certificate whose key belongs to another one is refused the same way.
    write_cert(trustme.CA(), tmp_path)
    other_key = trustme.CA().issue_cert("127.0.0.1").private_key_pem.bytes()
    (tmp_path / "key.pem").write_bytes(other_key)
    assert not tls_server.reload_tls()
    client = await secure_client(port, ca, "sigue")
    await client.close()


async def test_a_reload_without_tls_changes_nothing(server: Server) -> None:
    assert not server.reload_tls()
    client = await LineClient.connect(server.port, "claro")
    await client.close()


async def test_a_tls_client_that_closes_leaves_no_raw_line_in_the_log(
    tls_server: Server, ca: trustme.CA, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncio")
    for door, say in (("plain-tls", "/help"), ("irc-tls", "PING :hola")):
        client = await LineClient.connect(
            port_of(tls_server, door), ssl=client_context(ca), server_hostname="localhost"
        )
        await client.send(say)
        await client.line()  # the door has answered: the handshake is done
        await client.close()  # close_notify: the server's protocol gets eof_received
    async with asyncio.timeout(TIMEOUT):
        # The server's count of connections has no public event to wait on.
        while tls_server.connections:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert not [r for r in caplog.records if "eof_received" in r.getMessage()]
