"""Accounts over IRC: SASL PLAIN, PASS account:password, NickServ, account-notify and -tag."""

from __future__ import annotations

import base64

from chatclient import LineClient
from conftest import ServerFactory
from ircclient import IrcClient, cap_requested, irc, irc_port
from tertulia.server.app import Server

SECRET = "pan-con-tomate-42"


async def register_ana(server: Server) -> None:
    ana = await LineClient.connect(server.port, "ana")
    await ana.send(f"/register {SECRET}")
    await ana.expect("is registered to you")
    await ana.send("/quit")
    await ana.closed()


async def sasl_plain_started(server: Server, nick: str) -> IrcClient:
    """A client that asked for SASL PLAIN and was told to send its credentials."""
    client = await cap_requested(server, nick, "sasl")
    await client.send("AUTHENTICATE PLAIN")
    await client.expect("AUTHENTICATE +")
    return client


def plain_credentials(name: str, password: str) -> str:
    return base64.b64encode(f"\0{name}\0{password}".encode()).decode()


async def test_sasl_plain_logs_in_before_the_welcome(server: Server) -> None:
    await register_ana(server)
    bob = await LineClient.connect(server.port, "bob")
    await bob.send("/msg ana mientras no estabas")
    client = await IrcClient.connect(irc_port(server))
    await client.send("CAP LS 302")
    assert "sasl=PLAIN" in await client.expect(" CAP * LS ")
    await client.send("CAP REQ :sasl\r\nNICK ana\r\nUSER ana 0 * :Ana")
    await client.expect(" ACK ")
    await client.send("AUTHENTICATE PLAIN")
    assert await client.line() == "AUTHENTICATE +"
    await client.send("AUTHENTICATE " + plain_credentials("ana", SECRET))
    assert " 900 * ana!ana@tertulia ana :You are now logged in as ana" in await client.line()
    assert " 903 " in await client.line()
    await client.send("CAP END")
    burst = await client.lines_until(" 422 ")
    assert not any("log in within" in line for line in burst)  # its own nick: no warning
    await client.expect(":bob!bob@tertulia PRIVMSG ana :mientras no estabas")


async def test_sasl_with_a_wrong_password_fails(server: Server) -> None:
    await register_ana(server)
    client = await sasl_plain_started(server, "zed")
    await client.send("AUTHENTICATE " + plain_credentials("ana", "no"))
    assert " 904 " in await client.line()
    await client.send("AUTHENTICATE SCRAM-SHA-256")
    assert " 908 " in await client.line()


async def test_pass_account_password(server: Server) -> None:
    await register_ana(server)
    client = await IrcClient.connect(irc_port(server))
    await client.send(f"PASS ana:{SECRET}\r\nNICK ana\r\nUSER ana 0 * :Ana")
    burst = await client.lines_until(" 422 ")
    assert burst[0].split()[1] == "001"
    wrong = await IrcClient.connect(irc_port(server))
    await wrong.send("PASS ana:nope\r\nNICK ana2\r\nUSER ana 0 * :Ana")
    assert " 464 " in await wrong.line()
    assert (await wrong.line()).startswith("ERROR")


async def test_nickserv_identify_and_the_account_capabilities(make_server: ServerFactory) -> None:
    server = await make_server(nick_grace=60)
    await register_ana(server)
    watcher = await IrcClient.connect(irc_port(server))
    await watcher.send("CAP LS 302\r\nCAP REQ :account-notify account-tag\r\nCAP END")
    await watcher.send("NICK eva\r\nUSER eva 0 * :Eva\r\nJOIN #lobby")
    await watcher.expect(" 366 ")
    ana = await irc(server, "ana")
    await ana.send("JOIN #lobby")
    await ana.expect(" 366 ")
    assert any("ana is registered: log in within 60 s" in line for line in ana.seen)
    await ana.send(f"PRIVMSG NickServ :IDENTIFY {SECRET}")
    assert " 900 ana ana!ana@tertulia ana " in await ana.expect(" 900 ")
    assert (
        await ana.line() == ":NickServ!NickServ@tertulia NOTICE ana :You are now identified for ana"
    )
    assert await watcher.expect("ACCOUNT") == ":ana!ana@tertulia ACCOUNT ana"
    await ana.send("PRIVMSG #lobby :ya soy yo")
    assert await watcher.expect("ya soy yo") == (
        "@account=ana :ana!ana@tertulia PRIVMSG #lobby :ya soy yo"
    )


async def test_an_irc_squatter_follows_its_new_nick(server: Server) -> None:
    await register_ana(server)
    squatter = await irc(server, "ana")
    await squatter.send("JOIN #lobby")
    await squatter.expect(" 366 ")
    owner = await LineClient.connect(server.port, "someone")
    await owner.send(f"/login ana {SECRET}")
    renamed = await squatter.expect(" NICK ")
    assert renamed.startswith(":ana!ana@tertulia NICK Guest")
    guest = renamed.rsplit(" ", 1)[1].lstrip(":")
    await squatter.send("PRIVMSG #lobby :sigo")
    await owner.expect(f"[{guest}] sigo")


async def test_nobody_can_be_nickserv(server: Server) -> None:
    client = await IrcClient.connect(irc_port(server))
    await client.send("NICK NickServ\r\nUSER x 0 * :x")
    assert " 433 " in await client.line()


async def test_endless_sasl_chunks_fail(server: Server) -> None:
    await register_ana(server)
    client = await sasl_plain_started(server, "zed")
    for _ in range(6):
        await client.send("AUTHENTICATE " + "A" * 400)
    assert " 904 " in await client.expect(" 904 ")


async def test_the_owner_logging_in_with_sasl_takes_its_nick_back(server: Server) -> None:
    await register_ana(server)
    squatter = await irc(server, "ana")
    client = await sasl_plain_started(server, "ana")
    await client.send("AUTHENTICATE " + plain_credentials("ana", SECRET))
    await client.expect(" 903 ")
    await client.send("CAP END")
    assert " 001 ana " in await client.expect(" 001 ")
    assert (await squatter.expect(" NICK ")).startswith(":ana!ana@tertulia NICK Guest")
