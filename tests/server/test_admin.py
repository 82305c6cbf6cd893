"""The administration socket of a running server: owner-only, one JSON line each way, and
each command against real clients (the backup while they keep talking)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chatclient import JsonClient, LineClient
from conftest import ServerFactory
from tertulia.server.app import Server


async def admin(server: Server, **request: Any) -> dict[str, Any]:
    """One request on the server's admin socket, and its reply."""
    reader, writer = await asyncio.open_unix_connection(str(server.admin.path))
    try:
        writer.write(json.dumps(request).encode() + b"\n")
        reply: dict[str, Any] = json.loads(await asyncio.wait_for(reader.readline(), 10))
        return reply
    finally:
        writer.close()


async def raw(server: Server, line: bytes) -> dict[str, Any]:
    """The reply to one line sent as it is."""
    reader, writer = await asyncio.open_unix_connection(str(server.admin.path))
    try:
        writer.write(line)
        reply: dict[str, Any] = json.loads(await asyncio.wait_for(reader.readline(), 10))
        return reply
    finally:
        writer.close()


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


DATE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d")  # as `accounts` shows a time, in UTC


async def test_the_socket_is_the_owners_only(make_server: ServerFactory) -> None:
    server = await make_server()
    mode = stat.S_IMODE(server.admin.path.stat().st_mode)
    assert mode == 0o600
    assert (await admin(server, cmd="nope"))["error"] == "unknown command 'nope'"
    reader, writer = await asyncio.open_unix_connection(str(server.admin.path))
    writer.write(b"not json\n")
    assert json.loads(await reader.readline())["ok"] is False
    writer.close()
    await server.shutdown()
    assert not server.admin.path.exists()


async def test_who_rooms_kick_and_announce(make_server: ServerFactory) -> None:
    server = await make_server()
    ana = await JsonClient.connect(server.port, "ana")
    bob = await LineClient.connect(server.port, "bob")
    assert (await ana.request({"type": "join", "room": "#cafe"}))["type"] == "ok"
    who = (await admin(server, cmd="who"))["result"]
    assert [p["nick"] for p in who] == ["ana", "bob"]
    assert who[0]["door"] == "json" and who[0]["rooms"] == ["#cafe", "#lobby"]
    rooms = {r["room"]: r for r in (await admin(server, cmd="rooms"))["result"]}
    assert rooms["#cafe"]["members"] == 1 and rooms["#lobby"]["members"] == 2
    reply = await admin(server, cmd="kick", room="#cafe", nick="ana", reason="limpieza")
    assert reply == {"ok": True, "result": {"room": "#cafe", "nick": "ana"}}
    kicked = await ana.expect_obj(type="kick")
    assert kicked["by"] == server.settings.server_name and kicked["reason"] == "limpieza"
    missing = await admin(server, cmd="kick", room="#lobby", nick="nadie")
    assert missing["ok"] is False and "nadie" in missing["error"]
    junk = await admin(server, cmd="announce", text="\x1b\x07\u200b")  # controls only
    assert junk == {"ok": False, "error": "nothing to announce"}
    told = await admin(server, cmd="announce", text="el servidor\x1b[31m se reinicia a las 3")
    assert told["result"]["told"] == 2
    heard = await bob.expect("reinicia")
    assert "se reinicia a las 3" in heard and "\x1b" not in heard
    await ana.expect_obj(type="notice")
    await ana.close()
    await bob.close()


async def test_server_bans_from_the_shell(make_server: ServerFactory) -> None:
    server = await make_server()
    spam = await LineClient.connect(server.port, "spam", local_addr=("127.0.0.2", 0))
    reply = await admin(server, cmd="ban", mask="127.0.0.2", duration="1h", reason="spam")
    assert reply["ok"] and DATE.fullmatch(reply["result"]["created"]), reply
    assert reply["result"]["expires"] > reply["result"]["created"]
    assert any("banned from this server: spam" in line for line in await spam.closed())
    assert [b["mask"] for b in (await admin(server, cmd="bans"))["result"]] == ["127.0.0.2"]
    assert (await admin(server, cmd="unban", mask="127.0.0.2"))["ok"]
    assert (await admin(server, cmd="bans"))["result"] == []
    assert (await admin(server, cmd="unban", mask="127.0.0.2"))["ok"] is False


async def test_a_backup_while_clients_talk_holds_every_message(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    server = await make_server()
    ana = await JsonClient.connect(server.port, "ana")
    for k in range(200):
        assert (await ana.request({"type": "say", "room": "#lobby", "text": f"m{k}"}))["msgid"]
    for k in range(300):  # still talking while the copy is made
        await ana.send_obj({"type": "say", "room": "#lobby", "text": f"n{k}"})
    target = tmp_path / "copia.db"
    reply = await admin(server, cmd="backup", file=str(target))
    assert reply["ok"], reply
    assert reply["result"]["bytes"] == target.stat().st_size > 0
    assert (await ana.request({"type": "say", "room": "#lobby", "text": "fin"}))["msgid"]
    with sqlite3.connect(target) as db:
        texts = {row[0] for row in db.execute("SELECT text FROM messages")}
    assert {f"m{k}" for k in range(200)} <= texts  # every message said before the backup
    again = await admin(server, cmd="backup", file=str(target))
    assert again["ok"] is False and "exists" in again["error"]
    relative = await admin(server, cmd="backup", file="copia.db")
    assert relative["ok"] is False
    await ana.close()


async def test_reload_from_the_shell(make_server: ServerFactory) -> None:
    server = await make_server()
    refused = await admin(server, cmd="reload")  # nothing to read the settings from
    assert refused["ok"] is False and "log" in refused["error"]
    server.reread = lambda: replace(server.settings, max_message_bytes=100, port=9)
    reply = await admin(server, cmd="reload")
    assert reply == {"ok": True, "result": {"changed": ["max_message_bytes"], "restart": ["port"]}}
    assert server.hub.limits.max_message_bytes == 100


async def test_accounts_from_the_shell(make_server: ServerFactory) -> None:
    server = await make_server()
    ana = await JsonClient.connect(server.port, "ana")
    assert (await ana.request({"type": "register", "password": "secreto1"}))["type"] == "ok"
    assert (await ana.request({"type": "join", "room": "#ana"}))["type"] == "ok"
    assert (await ana.request({"type": "claim", "room": "#ana"}))["owner"] == "ana"
    listed = (await admin(server, cmd="accounts"))["result"]
    assert [(a["account"], a["online"]) for a in listed] == [("ana", True)]
    # A new password: the old one no longer logs in, the new one does.
    short = await admin(server, cmd="reset-password", account="ana", password="x")
    assert short["ok"] is False
    assert (await admin(server, cmd="reset-password", account="ana", password="nueva123"))["ok"]
    other = await JsonClient.connect(server.port, "otra")
    refused = await other.request({"type": "login", "nick": "ana", "password": "secreto1"})
    assert refused.get("code") == "bad_login", refused
    # Renamed: logged-in sessions follow, the old name is free to register again.
    reply = await admin(server, cmd="rename", account="ana", to="Anita")
    assert reply == {"ok": True, "result": {"account": "ana", "to": "Anita"}}
    assert (await other.expect_obj(type="account", nick="ana"))["account"] == "Anita"
    told = await ana.expect_obj(type="notice", code="account_renamed")
    assert told["text"] == "the administrator renamed your account ana to Anita"
    assert server.hub.sessions["ana"].account == "Anita" and server.hub.accounts == {"anita"}
    # Its room goes with it, in the server and in the store the next start reads.
    assert server.hub.rooms["#ana"].owner == "anita"
    assert server.history.store is not None
    assert server.history.store.registered_rooms() == {"#ana": ("#ana", "anita")}
    taken = await admin(server, cmd="rename", account="nadie", to="zoe")
    assert taken["ok"] is False and "nadie" in taken["error"]
    # Dropped: logged out, and the account is gone.
    assert (await admin(server, cmd="drop", account="anita"))["ok"]
    assert (await other.expect_obj(type="account", nick="ana"))["account"] == ""
    told = await ana.expect_obj(type="notice", code="account_dropped")
    assert told["text"] == "the administrator dropped your account Anita: you are logged out"
    assert server.hub.sessions["ana"].account == ""
    assert (await admin(server, cmd="accounts"))["result"] == []
    assert server.hub.rooms["#ana"].owner == "" and not server.hub.rooms["#ana"].persistent
    assert server.history.store.registered_rooms() == {}
    assert (await admin(server, cmd="drop", account="anita"))["ok"] is False
    await ana.close()
    await other.close()


async def test_a_duration_that_does_not_read_is_refused_not_made_a_reason(
    make_server: ServerFactory,
) -> None:
    server = await make_server()
    for typo in ("5x", "1h30"):
        reply = await admin(server, cmd="ban", mask="*!*@10.0.0.0/8", duration=typo, reason="r")
        assert reply == {
            "ok": False,
            "error": f"{typo!r} is not a duration: say 30m, 2h, 7d, 1w or 0 for ever",
        }
    assert server.hub.bans.entries() == []  # no ban for ever, with "5x r" for a reason
    reply = await admin(server, cmd="ban", mask="*!*@10.0.0.0/8", duration="1h30m", reason="r")
    assert reply["ok"], reply
    (entry,) = server.hub.bans.entries()
    assert entry.reason == "r" and entry.expires - entry.created == 5400


async def test_bans_show_dates_as_accounts_do(make_server: ServerFactory) -> None:
    server = await make_server()
    assert (await admin(server, cmd="ban", mask="siempre!*@*", reason="x"))["ok"]
    assert (await admin(server, cmd="ban", mask="un-rato!*@*", duration="2h"))["ok"]
    listed = {b["mask"]: b for b in (await admin(server, cmd="bans"))["result"]}
    assert DATE.fullmatch(listed["siempre!*@*"]["created"])
    assert listed["siempre!*@*"]["expires"] == ""  # no end
    assert DATE.fullmatch(listed["un-rato!*@*"]["expires"])
    lifted = (await admin(server, cmd="unban", mask="siempre!*@*"))["result"]
    assert lifted == listed["siempre!*@*"]


async def test_a_backup_is_the_owners_only_whatever_the_umask(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    server = await make_server()
    target = tmp_path / "copia.db"
    with umask(0o022):
        assert (await admin(server, cmd="backup", file=str(target)))["ok"]
    # It holds password hashes and private messages, as the store does.
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with sqlite3.connect(target) as db:
        assert db.execute("SELECT count(*) FROM messages").fetchone() == (0,)


async def test_a_backup_that_cannot_be_written_says_where_and_why(
    make_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    server = await make_server()
    reply = await admin(server, cmd="backup", file="/nonexistent/dir/x.db")
    assert reply == {
        "ok": False,
        "error": "cannot write the backup /nonexistent/dir/x.db: No such file or directory",
    }
    assert "Traceback" not in caplog.text


async def test_every_request_is_answered_even_when_something_breaks(
    make_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    server = await make_server()

    def broken() -> Any:
        raise RuntimeError("a bug")

    server.reread = broken
    reply = await admin(server, cmd="reload")
    assert reply == {"ok": False, "error": "internal error: see the server's log"}
    failed = [r for r in caplog.records if r.levelno == logging.ERROR and r.exc_info]
    assert failed and "a bug" in caplog.text  # the traceback goes to the log
    # And the socket still serves.
    assert (await admin(server, cmd="bans"))["ok"]


async def test_only_a_line_that_is_not_json_is_called_one(make_server: ServerFactory) -> None:
    server = await make_server()
    not_json = {"ok": False, "error": "a request is one JSON object on one line"}
    assert await raw(server, b"not json\n") == not_json
    assert await raw(server, b'{"cmd": "bans", "x": "\xff"}\n') == not_json  # not UTF-8
    assert await raw(server, b"[" * 50_000 + b"\n") == not_json  # nested past all reason
    assert await raw(server, b"[]\n") == {"ok": False, "error": "a request is a JSON object"}

    def unreadable() -> Any:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    server.reread = unreadable  # a ValueError in carrying out a request that did read
    reply = await admin(server, cmd="reload")
    assert reply == {"ok": False, "error": "internal error: see the server's log"}


async def test_errors_come_in_the_requests_language(make_server: ServerFactory) -> None:
    server = await make_server()
    spanish = await admin(server, cmd="drop", account="nadie", lang="es")
    assert spanish == {"ok": False, "error": "no existe la cuenta nadie"}
    english = await admin(server, cmd="drop", account="nadie", lang="en")
    assert english == {"ok": False, "error": "there is no account nadie"}
    typo = await admin(server, cmd="ban", mask="x!*@*", duration="5x", lang="es")
    assert typo["error"] == "'5x' no es una duración: di 30m, 2h, 7d, 1w o 0 para siempre"
    gone = await admin(server, cmd="unban", mask="x!*@*", lang="es")
    assert gone["error"] == "no hay expulsión del servidor para x!*@*"


async def test_rename_says_which_name_is_wrong(make_server: ServerFactory) -> None:
    server = await make_server()
    for nick in ("ana", "bea"):
        client = await JsonClient.connect(server.port, nick)
        assert (await client.request({"type": "register", "password": "secreto1"}))["type"] == "ok"
        await client.close()
    missing = await admin(server, cmd="rename", account="nadie", to="zoe")
    assert missing == {"ok": False, "error": "there is no account nadie"}
    taken = await admin(server, cmd="rename", account="ana", to="Bea")
    assert taken == {"ok": False, "error": "the account Bea exists already"}
    assert server.hub.accounts == {"ana", "bea"}


async def test_a_request_over_the_limit_is_answered_before_the_socket_closes(
    make_server: ServerFactory,
) -> None:
    server = await make_server()
    too_long = {"ok": False, "error": "a request is at most 64 KiB"}
    padded = b'{"cmd": "bans", "pad": "' + b"x" * (64 * 1024) + b'"}\n'
    # A whole line past the limit, and one that never ends (no newline in 200 KiB).
    for line in (padded, b"y" * (200 * 1024)):
        reader, writer = await asyncio.open_unix_connection(str(server.admin.path))
        try:
            writer.write(b'{"cmd": "bans"}\n' + line)
            assert json.loads(await asyncio.wait_for(reader.readline(), 10))["ok"] is True
            assert json.loads(await asyncio.wait_for(reader.readline(), 10)) == too_long
            assert await asyncio.wait_for(reader.read(), 10) == b""  # then closed
        finally:
            writer.close()
    assert (await admin(server, cmd="bans"))["ok"]  # and the socket still serves
