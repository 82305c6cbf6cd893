"""IRCv3 STS on the IRC door: the upgrade policy in the clear, the persistence one over TLS."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trustme

from chatclient import LineClient
from conftest import ServerFactory
from ircclient import IrcClient
from tertulia import config
from tertulia.config import ConfigError
from tertulia.protocols.irc.caps import CapState, offered
from tertulia.server.app import Server
from tlscerts import client_context, write_cert

CAP_LS = re.compile(r"^:\S+ CAP \* LS :(.*)$")


def port_of(server: Server, name: str) -> int:
    return int(server.addresses(name)[0].rsplit(":", 1)[1])


async def sts_server(
    make_server: ServerFactory, tmp_path: Path, ca: trustme.CA, **settings: object
) -> Server:
    chain, key = write_cert(ca, tmp_path)
    server: Server = await make_server(
        tls_cert=str(chain), tls_key=str(key), plain_tls_port=0, irc_tls_port=0,
        web_tls_port=0, **settings,
    )  # fmt: skip
    return server


async def caps_listed(client: LineClient, ls: str = "CAP LS 302") -> list[str]:
    """What CAP LS lists, on a connection that has not registered."""
    await client.send(ls + "\r")
    line = await client.expect(CAP_LS)
    match = CAP_LS.match(line.rstrip("\r"))
    assert match, line
    return match[1].split()


async def clear_client(server: Server) -> IrcClient:
    client = await IrcClient.connect(port_of(server, "irc"))
    assert isinstance(client, IrcClient)
    return client


async def tls_client(server: Server, ca: trustme.CA) -> IrcClient:
    client = await IrcClient.connect(
        port_of(server, "irc-tls"), ssl=client_context(ca), server_hostname="127.0.0.1"
    )
    assert isinstance(client, IrcClient)
    return client


async def test_sts_sends_clear_clients_to_the_tls_port_and_tls_clients_stay(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    ca = trustme.CA()
    server = await sts_server(make_server, tmp_path, ca, sts=True, sts_duration=15552000)
    clear = await clear_client(server)
    listed = await caps_listed(clear)
    assert f"sts=port={port_of(server, 'irc-tls')}" in listed
    assert not any(c.startswith("sts=duration") for c in listed)
    secure = await tls_client(server, ca)
    listed = await caps_listed(secure)
    assert "sts=duration=15552000" in listed
    assert not any(c.startswith("sts=port") for c in listed)
    # Nobody may request it, on either port, and it is never on.
    for client in (clear, secure):
        await client.send("CAP REQ :sts\r")
        await client.expect(re.compile(r" CAP \* NAK :?sts$"))
        await client.send("CAP LIST\r")
        enabled = await client.expect(re.compile(r" CAP \* LIST :?(.*)$"))
        assert "sts" not in enabled.split(" LIST ", 1)[1].lstrip(":").split()
        await client.send("NICK n\r\nUSER n 0 * :n\r\nCAP END\r")  # registration goes on
        await client.expect(" 001 ")
        await client.close()


async def test_sts_is_listed_only_with_cap_302(make_server: ServerFactory, tmp_path: Path) -> None:
    ca = trustme.CA()
    server = await sts_server(make_server, tmp_path, ca, sts=True)
    for client in (await clear_client(server), await tls_client(server, ca)):
        listed = await caps_listed(client, "CAP LS")
        assert "sasl" in listed  # the usual list, without values
        assert not any(c.startswith("sts") for c in listed)
        await client.close()


async def test_no_sts_unless_the_operator_asks(make_server: ServerFactory, tmp_path: Path) -> None:
    ca = trustme.CA()
    server = await sts_server(make_server, tmp_path, ca)  # TLS on, sts off (the default)
    for client in (await clear_client(server), await tls_client(server, ca)):
        listed = await caps_listed(client)
        assert "server-time" in listed
        assert not any(c.startswith("sts") for c in listed)
        await client.close()


def test_sts_needs_the_tls_files_and_a_duration_of_zero_or_more() -> None:
    with pytest.raises(ConfigError, match="sts needs the IRC door and tls_cert"):
        config.load({"sts": True}, env={})
    with pytest.raises(ConfigError, match="sts needs the IRC door and tls_cert"):
        config.load({"sts": True, "tls_cert": "c", "tls_key": "k", "irc": False}, env={})
    with pytest.raises(ConfigError, match="sts_duration must not be negative"):
        config.load({"sts_duration": -1}, env={})
    settings = config.load(env={"TERTULIA_STS": "yes", "TERTULIA_STS_DURATION": "86400",
                                "TERTULIA_TLS_CERT": "c", "TERTULIA_TLS_KEY": "k"})  # fmt: skip
    assert settings.sts and settings.sts_duration == 86400


def test_policies_in_cap_ls_302_only_and_never_requested() -> None:
    caps = CapState()
    policies = (("sts", "port=6697"),)
    available = offered(True)
    [(_, _, old)] = caps.handle("LS", "", available, False, policies)
    assert "sts" not in old
    [(_, _, new)] = caps.handle("LS", "302", available, False, policies)
    assert new.endswith(" sts=port=6697")
    assert caps.handle("REQ", "sts server-time", available, False, policies) == [
        ("CAP", "NAK", "sts server-time")
    ]
    assert caps.enabled == frozenset({"cap-notify"})


async def test_whois_says_who_came_in_over_tls(make_server: ServerFactory, tmp_path: Path) -> None:
    ca = trustme.CA()
    server = await sts_server(make_server, tmp_path, ca)
    secure = await LineClient.connect(
        port_of(server, "plain-tls"), "cifrada", ssl=client_context(ca),
        server_hostname="127.0.0.1",
    )  # fmt: skip
    clear = await LineClient.connect(server.port, "clara")
    asks = await clear_client(server)
    await asks.send("NICK quien\r\nUSER quien 0 * :q\r")
    await asks.expect(" 001 ")
    await asks.send("WHOIS cifrada\r")
    replies = await asks.lines_until(" 318 quien cifrada ")
    assert any(" 671 quien cifrada :is using a secure connection" in r for r in replies)
    await asks.send("WHOIS clara\r")
    replies = await asks.lines_until(" 318 quien clara ")
    assert not any(" 671 " in r for r in replies) and any(" 311 " in r for r in replies)
    for client in (secure, clear, asks):
        await client.close()
