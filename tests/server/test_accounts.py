"""Accounts: registration, login, squatters renamed, failed logins slowed, offline messages."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import pytest

from chatclient import JsonClient, LineClient
from conftest import ServerFactory
from tertulia.server.app import Server

SECRET = "pan-con-tomate-42"


def read_all(folder: Path) -> bytes:
    """Every byte the store left in its folder: the database, its WAL and so on."""
    return b"".join(p.read_bytes() for p in folder.iterdir() if p.is_file())


GUEST = re.compile(r"you are now (Guest\d{5})")


async def registered(server: Server, nick: str = "ana", password: str = SECRET) -> LineClient:
    client = await LineClient.connect(server.port, nick)
    await client.send(f"/register {password}")
    await client.expect(f"{nick} is registered to you, and you are logged in")
    return client


async def test_register_then_log_in_from_another_connection(server: Server) -> None:
    ana = await registered(server)
    await ana.send("/quit")
    await ana.closed()
    again = await LineClient.connect(server.port)
    await again.expect("type your nick")
    await again.send(f"/login ana {SECRET}")
    await again.expect("you are ana, in #lobby")
    await again.expect("you are logged in as ana")
    await again.send("/register otra-clave")
    await again.expect("! ana is already registered")


async def test_a_squatter_is_asked_to_log_in_then_renamed(make_server: ServerFactory) -> None:
    server = await make_server(nick_grace=0.3)
    ana = await registered(server)
    await ana.send("/quit")
    await ana.closed()
    watcher = await LineClient.connect(server.port, "eva")
    squatter = await LineClient.connect(server.port, "ana")
    asked = "* ana is registered: log in within 0.3 s or you will be renamed"
    assert asked in squatter.seen  # before "you are ana, in #lobby"
    renamed = GUEST.search(await squatter.expect(GUEST))
    assert renamed is not None
    guest = renamed.group(1)
    await watcher.expect(f"ana is now known as {guest}")
    # The renamed one keeps chatting under its new nick.
    await squatter.send("sigo aquí")
    await watcher.expect(f"[{guest}] sigo aquí")


async def test_the_owner_logging_in_renames_the_squatter_at_once(server: Server) -> None:
    ana = await registered(server)
    await ana.send("/quit")
    await ana.closed()
    squatter = await JsonClient.connect(server.port, "ana")
    owner = await JsonClient.connect(server.port, "ana_2")
    reply = await owner.request({"type": "login", "nick": "ana", "password": SECRET})
    assert reply == {"type": "ok", "id": reply["id"], "account": "ana", "nick": "ana"}
    nick = await squatter.expect_obj(type="nick", old="ana")
    assert nick["new"].startswith("Guest")
    notice = await squatter.expect_obj(type="notice", code="renamed")
    assert "ana is registered to someone else" in notice["text"]
    # Messages of a logged-in user carry its account.
    await owner.request({"type": "say", "room": "#lobby", "text": "soy yo"})
    said = await squatter.expect_obj(type="message", text="soy yo")
    assert said["from"] == "ana" and said["account"] == "ana"


async def test_credentials_in_the_hello(server: Server) -> None:
    await (await registered(server)).send("/quit")
    client = await JsonClient.connect(server.port)
    await client.send_obj({"type": "hello", "nick": "ana", "password": "no-es-esta", "id": 1})
    refused = await client.expect_obj(id=1)
    assert refused["type"] == "error" and refused["code"] == "bad_login"
    other = await JsonClient.connect(server.port)
    await other.send_obj({"type": "hello", "nick": "ana", "password": SECRET, "id": 2})
    answer = await other.expect_obj(id=2)
    # The failure locked the nick (and this address) for a moment: slowed and refused.
    assert answer["type"] == "error" and answer["code"] == "too_many_failures"
    assert "try again in 1 s" in answer["text"]


async def test_wrong_passwords_are_refused_and_slowed(make_server: ServerFactory) -> None:
    server = await make_server()
    await (await registered(server)).send("/quit")
    bob = await LineClient.connect(server.port, "bob")
    await bob.send("/login ana mal")
    await bob.expect("! wrong nick or password")
    await bob.send(f"/login ana {SECRET}")
    await bob.expect("! too many failed logins: try again in 1 s")
    # The address is locked too: another nick from it waits as well.
    await bob.send("/login zoe cualquiera")
    await bob.expect("! too many failed logins")
    metrics = server.stats.errors
    assert metrics["bad_login"] == 1 and metrics["too_many_failures"] >= 2


async def test_private_messages_wait_for_an_offline_account(server: Server) -> None:
    ana = await registered(server)
    await ana.send("/quit")
    await ana.closed()
    bob = await LineClient.connect(server.port, "bob")
    await bob.send("/msg ana te dejo esto")
    await bob.send("/msg ana y esto otro")
    await bob.send("/msg nadie hola")
    await bob.expect("! nobody is called nadie")  # unregistered and away: still an error
    back = await LineClient.connect(server.port)
    await back.expect("type your nick")
    await back.send(f"/login ana {SECRET}")
    await back.expect("2 messages arrived while you were away:")
    assert await back.line() == "[bob -> ana] te dejo esto"
    assert await back.line() == "[bob -> ana] y esto otro"
    # Handed over once: a second login gets nothing more.
    await back.send("/quit")
    await back.closed()
    js = await JsonClient.connect(server.port)
    await js.send_obj({"type": "hello", "nick": "ana", "password": SECRET, "id": 1})
    welcome = await js.expect_obj(id=1)
    assert welcome["type"] == "welcome" and welcome["account"] == "ana"


async def test_changing_the_password(server: Server) -> None:
    ana = await registered(server)
    await ana.send(f"/password {SECRET} nueva-clave-1")
    await ana.expect("password changed")
    await ana.send("/quit")
    await ana.closed()
    back = await JsonClient.connect(server.port)
    await back.send_obj({"type": "hello", "nick": "ana", "password": "nueva-clave-1", "id": 1})
    assert (await back.expect_obj(id=1))["type"] == "welcome"
    old = await JsonClient.connect(server.port, "vieja")
    refused = await old.request({"type": "login", "nick": "ana", "password": SECRET})
    assert refused["code"] == "bad_login"
    nobody = await LineClient.connect(server.port, "ana_x")
    await nobody.send("/password a b")
    await nobody.expect("! log in first")


async def test_passwords_never_reach_logs_or_the_database(
    make_server: ServerFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = await make_server(data_dir=str(tmp_path))
    ana = await registered(server)
    js = await JsonClient.connect(server.port, "bob")
    await js.request({"type": "register", "password": "otro-secreto-99"})
    await ana.send("/password " + SECRET + " cambiada-del-todo")
    await ana.expect("password changed")
    await js.request({"type": "login", "nick": "ana", "password": "intento-fallido"})
    await server.shutdown()
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    stored = await asyncio.to_thread(read_all, tmp_path)
    for password in (SECRET, "otro-secreto-99", "cambiada-del-todo", "intento-fallido"):
        assert password not in logged
        assert password.encode() not in stored
    assert b"scrypt$16384$8$1$" in stored


async def test_no_store_means_no_accounts(make_server: ServerFactory) -> None:
    server = await make_server(history=False)
    ana = await LineClient.connect(server.port, "ana")
    await ana.send(f"/register {SECRET}")
    await ana.expect("! this server keeps no accounts")


async def test_a_login_that_ends_after_its_client_left_leaves_no_ghost(server: Server) -> None:
    await (await registered(server)).send("/quit")
    hasty = await JsonClient.connect(server.port)
    await hasty.send_obj({"type": "hello", "nick": "ana", "password": SECRET})
    await hasty.close()  # gone before the password has been checked
    await asyncio.wait(list(server._tasks), timeout=10)  # the login finishes, for nobody
    assert "ana" not in server.hub.sessions
    assert "ana" not in server.hub.rooms["#lobby"].members


async def test_guesses_sent_at_once_are_not_all_checked(server: Server) -> None:
    await (await registered(server)).send("/quit")
    guesser = await JsonClient.connect(server.port, "mallory")
    for i in range(20):
        await guesser.send_obj({"type": "login", "nick": "ana", "password": f"g{i}", "id": i})
    codes: list[str] = []
    while len(codes) < 20:  # in any order: the one real check ends last
        answer = await guesser.obj()
        if "id" in answer:
            codes.append(answer["code"])
    # One guess is checked; the others find a login in progress or the lock it left.
    assert codes.count("bad_login") == 1 and codes.count("too_many_failures") == 19


async def test_an_offline_box_holds_a_hundred(server: Server) -> None:
    ana = await registered(server)
    await ana.send("/quit")
    await ana.closed()
    bob = await JsonClient.connect(server.port, "bob")
    for i in range(105):
        await bob.send_obj({"type": "tell", "to": "ana", "text": f"nota {i}"})
    await bob.request({"type": "ping"})
    await server.history.drain()
    back = await LineClient.connect(server.port)
    await back.expect("type your nick")
    await back.send(f"/login ana {SECRET}")
    await back.expect("100 messages arrived while you were away:")
    notes = [await back.line() for _ in range(100)]
    assert notes[0] == "[bob -> ana] nota 0" and notes[-1] == "[bob -> ana] nota 99"


async def test_a_guesser_elsewhere_never_locks_the_owner_out(server: Server) -> None:
    await (await registered(server)).send("/quit")  # registered from 127.0.0.1: proven
    guesser = await LineClient.connect(server.port, "bob", local_addr=("127.0.0.2", 0))
    await guesser.send("/login ana adivino")
    await guesser.expect("! wrong nick or password")
    # Another unproven address is held back by the nick's failures...
    other = await LineClient.connect(server.port, "zoe", local_addr=("127.0.0.3", 0))
    await other.send(f"/login ana {SECRET}")
    await other.expect("! too many failed logins")
    # ...but the owner, from the address it proved, logs in at once.
    owner = await LineClient.connect(server.port, "ana2")
    await owner.send(f"/login ana {SECRET}")
    await owner.expect(lambda line: "ana" in line and "logged in" in line)
    for client in (guesser, other, owner):
        await client.close()


async def test_registrations_per_address_are_limited(make_server: ServerFactory) -> None:
    server = await make_server(registrations_per_hour=2, limit_exempt=("127.0.0.1/32",))
    for nick in ("reg1", "reg2"):
        client = await LineClient.connect(server.port, nick, local_addr=("127.0.0.2", 0))
        await client.send(f"/register {SECRET}")
        await client.expect(lambda line: "registered" in line)
        await client.close()
    bulk = await LineClient.connect(server.port, "reg3", local_addr=("127.0.0.2", 0))
    await bulk.send(f"/register {SECRET}")
    await bulk.expect("! too many accounts registered from your address")
    elsewhere = await LineClient.connect(server.port, "reg4", local_addr=("127.0.0.3", 0))
    await elsewhere.send(f"/register {SECRET}")
    await elsewhere.expect(lambda line: "registered" in line)
    for client in (bulk, elsewhere):
        await client.close()
