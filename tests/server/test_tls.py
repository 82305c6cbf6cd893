"""TLS on every door, with certificates made by trustme for 127.0.0.1 and localhost."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
import trustme

from chatclient import TIMEOUT, LineClient
from conftest import ServerFactory
from tertulia.core.errors import TlsUnusable
from tertulia.server.app import Server


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_server(make_server: ServerFactory, ca: trustme.CA, tmp_path: Path) -> Server:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    key.write_bytes(cert.private_key_pem.bytes())
    server: Server = await make_server(
        tls_cert=str(chain), tls_key=str(key), plain_tls_port=0, irc_tls_port=0, web_tls_port=0
    )
    return server


def port_of(server: Server, name: str) -> int:
    return int(server.addresses(name)[0].rsplit(":", 1)[1])


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


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
