"""`tertulia admin` as operators run it, against a live server on port 0: tables, --json,
one-line errors in English and Spanish."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import stat
import sys
from pathlib import Path

from chatclient import JsonClient, LineClient
from conftest import ServerFactory
from tertulia.server.app import Server


async def admin(
    server: Server, *words: str, lang: str = "en", given: bytes | None = None
) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERTULIA_")}
    env.update(LANG="C.UTF-8", LANGUAGE="")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tertulia", "admin", *words,
        "--data-dir", server.settings.data_dir, "--lang", lang,
        stdin=asyncio.subprocess.PIPE if given is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(given), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_admin_commands_against_a_live_server(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    server = await make_server()
    ana = await JsonClient.connect(server.port, "ana")
    bob = await LineClient.connect(server.port, "bob")
    code, out, err = await admin(server, "who")
    assert (code, err) == (0, "")
    heading, *rows = out.splitlines()
    assert heading.split()[:3] == ["NICK", "ACCOUNT", "DOOR"]
    assert [r.split()[0] for r in rows] == ["ana", "bob"]
    code, out, _ = await admin(server, "who", "--json")
    assert [p["nick"] for p in json.loads(out)] == ["ana", "bob"]
    code, out, _ = await admin(server, "rooms")
    assert "#lobby" in out and out.splitlines()[0].startswith("ROOM")
    code, out, _ = await admin(server, "announce", "mantenimiento", "a", "las", "3")
    assert code == 0 and "told: 2" in out
    assert "mantenimiento a las 3" in await bob.expect("mantenimiento")
    code, out, _ = await admin(server, "kick", "#lobby", "bob", "fuera")
    assert code == 0
    assert "fuera" in await bob.expect("fuera")
    code, out, _ = await admin(server, "ban", "malo!*@*", "spam", "--duration", "2h")
    assert code == 0 and "mask: malo!*@*" in out
    code, out, _ = await admin(server, "bans")
    assert "malo!*@*" in out and "spam" in out
    code, out, _ = await admin(server, "unban", "malo!*@*")
    assert code == 0
    target = tmp_path / "copia.db"
    code, out, err = await admin(server, "backup", str(target))
    assert (code, err) == (0, ""), err
    with sqlite3.connect(target) as db:
        assert db.execute("SELECT count(*) FROM accounts").fetchone() is not None
    await ana.close()
    await bob.close()


async def test_admin_errors_are_one_line(make_server: ServerFactory, tmp_path: Path) -> None:
    server = await make_server()
    code, out, err = await admin(server, "kick", "#lobby", "nadie")
    assert code == 1 and out == "" and err.count("\n") == 1 and "nadie" in err
    code, _, err = await admin(server, "kick", "#lobby")
    assert code == 1 and err.startswith("tertulia: kick: missing arguments")
    await server.shutdown()
    code, _, err = await admin(server, "who")
    assert code == 1 and err.startswith("tertulia: no server answers at ")
    assert "Traceback" not in err
    code, _, err = await admin(server, "who", lang="es")
    assert code == 1 and err.startswith("tertulia: ningún servidor responde en ")


async def test_account_commands(make_server: ServerFactory) -> None:
    server = await make_server()
    ana = await JsonClient.connect(server.port, "ana")
    assert (await ana.request({"type": "register", "password": "secreto1"}))["type"] == "ok"
    code, out, _ = await admin(server, "accounts")
    assert code == 0 and out.split()[:3] == ["ACCOUNT", "SINCE", "ONLINE"] and "ana" in out
    # The password comes on standard input, never on the command line.
    code, out, err = await admin(server, "reset-password", "ana", given=b"otraclave\n")
    assert (code, err) == (0, ""), err
    assert server.hub.accounts == {"ana"}
    code, out, _ = await admin(server, "rename", "ana", "anita")
    assert code == 0 and "to: anita" in out
    code, _, err = await admin(server, "drop", "nadie")
    assert code == 1 and "there is no account nadie" in err
    code, out, _ = await admin(server, "drop", "anita")
    assert code == 0 and server.hub.accounts == set()
    await ana.close()


async def test_bans_options_anywhere_and_durations_that_do_not_read(
    make_server: ServerFactory,
) -> None:
    server = await make_server()
    # The option before the words, as well as after them.
    code, out, err = await admin(server, "ban", "--duration", "2h", "x!*@*", "spam")
    assert (code, err) == (0, ""), err
    assert "reason: spam" in out
    code, _, err = await admin(server, "ban", "*!*@10.0.0.0/8", "r", "--duration", "5x")
    assert code == 1 and err == (
        "tertulia: '5x' is not a duration: say 30m, 2h, 7d, 1w or 0 for ever\n"
    )
    code, _, err = await admin(server, "ban", "*!*@10.0.0.0/8", "r", "--duration", "1h30m")
    assert code == 0, err
    entries = {e.mask: e for e in server.hub.bans.entries()}
    assert entries["*!*@10.0.0.0/8"].expires - entries["*!*@10.0.0.0/8"].created == 5400
    assert entries["*!*@10.0.0.0/8"].reason == "r"
    assert (await admin(server, "ban", "siempre!*@*"))[0] == 0
    # Dates, as `accounts` shows them; no date for a ban without end.
    code, out, _ = await admin(server, "bans")
    assert out.splitlines()[0].split() == ["MASK", "REASON", "BY", "SINCE", "UNTIL"]
    assert re.search(r"x!\*@\*\s+spam\s+\S+\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+\d{4}-\d\d-", out)
    assert re.search(r"siempre!\*@\*\s+-\s+\S+\s+\d{4}-\d\d-\d\d \d\d:\d\d$", out, re.M)
    code, out, _ = await admin(server, "bans", "--json")
    listed = {b["mask"]: b for b in json.loads(out)}
    assert listed["siempre!*@*"]["expires"] == ""
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", listed["x!*@*"]["expires"])


async def test_the_servers_errors_speak_the_commands_language(
    make_server: ServerFactory,
) -> None:
    server = await make_server()
    code, _, err = await admin(server, "drop", "nadie", lang="es")
    assert code == 1 and err == "tertulia: no existe la cuenta nadie\n"
    code, _, err = await admin(server, "ban", "x!*@*", "--duration", "5x", lang="es")
    assert err == "tertulia: '5x' no es una duración: di 30m, 2h, 7d, 1w o 0 para siempre\n"


async def test_backups_are_the_owners_and_failures_say_why(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    server = await make_server()
    target = tmp_path / "copia.db"
    old = os.umask(0o022)  # the server runs in this process, and writes the copy
    try:
        code, _, err = await admin(server, "backup", str(target))
    finally:
        os.umask(old)
    assert (code, err) == (0, ""), err
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    code, _, err = await admin(server, "backup", "/nonexistent/dir/x.db")
    assert code == 1 and err == (
        "tertulia: cannot write the backup /nonexistent/dir/x.db: No such file or directory\n"
    )


async def test_rename_says_which_name_is_wrong(make_server: ServerFactory) -> None:
    server = await make_server()
    for nick in ("ana", "bea"):
        client = await JsonClient.connect(server.port, nick)
        reply = await client.request({"type": "register", "password": "secreto1"})
        assert reply["type"] == "ok"
        await client.close()
    code, _, err = await admin(server, "rename", "nadie", "zoe")
    assert code == 1 and err == "tertulia: there is no account nadie\n"
    code, _, err = await admin(server, "rename", "ana", "bea")
    assert code == 1 and err == "tertulia: the account bea exists already\n"
