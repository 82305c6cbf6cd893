"""`tertulia admin` with no server running: accounts, bans and backups on the store, which
the next server to start finds as the command left them."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sqlite3
import stat
import sys
from pathlib import Path

from chatclient import JsonClient, LineClient
from conftest import ServerFactory
from tertulia.store.datadir import DataDirLock


async def admin(
    data_dir: str,
    *words: str,
    given: bytes | None = None,
    lang: str = "en",
    env: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TERTULIA_")}
    environ.update(LANG="C.UTF-8", LANGUAGE="", **(env or {}))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tertulia", "admin", *words, "--data-dir", data_dir,
        "--lang", lang,
        stdin=asyncio.subprocess.PIPE if given is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=environ,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(given), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_a_stopped_servers_store_is_administered_directly(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    server = await make_server()
    data_dir = server.settings.data_dir
    ana = await JsonClient.connect(server.port, "ana")
    await ana.request({"type": "register", "password": "secreto-viejo"})
    for n in range(5):
        reply = await ana.request({"type": "say", "room": "#lobby", "text": f"mensaje {n}"})
        assert reply["type"] == "ok", reply
    await ana.close()
    await server.shutdown()
    assert not (Path(data_dir) / "admin.sock").exists()

    code, out, err = await admin(data_dir, "accounts", "--json")
    assert code == 0, err
    assert [a["account"] for a in json.loads(out)] == ["ana"]
    assert "no server is running: working on the store" in err
    assert err.count("\n") == 1  # one line, and no traceback

    code, _, err = await admin(data_dir, "reset-password", "ana", given=b"secreto-nuevo\n")
    assert code == 0, err
    code, _, err = await admin(data_dir, "rename", "ana", "anita")
    assert code == 0, err
    code, _, err = await admin(data_dir, "ban", "malo!*@*", "spam", "--duration", "2h")
    assert code == 0, err
    code, _, err = await admin(data_dir, "ban", "peor!*@*", "flood")
    assert code == 0, err
    code, _, err = await admin(data_dir, "unban", "peor!*@*")
    assert code == 0, err
    code, out, _ = await admin(data_dir, "bans")
    assert "malo!*@*" in out and "spam" in out and "peor" not in out
    target = tmp_path / "copia.db"
    code, _, err = await admin(data_dir, "backup", str(target))
    assert code == 0, err
    with sqlite3.connect(target) as db:
        texts = [t for (t,) in db.execute("SELECT text FROM messages ORDER BY id")]
    assert texts == [f"mensaje {n}" for n in range(5)]

    # What needs people connected says so in one line.
    code, _, err = await admin(data_dir, "who")
    assert code == 1 and err.startswith("tertulia: no server answers at ")
    code, _, err = await admin(data_dir, "unban", "nadie!*@*")
    assert code == 1 and err.splitlines()[-1] == "tertulia: no server ban on nadie!*@*"

    # The next server finds every change: the new name and password, the ban, no unban.
    again = await make_server(data_dir=data_dir)
    anita = await JsonClient.connect(again.port)
    welcome = await anita.request({"type": "hello", "nick": "anita", "password": "secreto-nuevo"})
    assert welcome["type"] == "welcome" and welcome.get("account") == "anita", welcome
    malo = await LineClient.connect(again.port)
    await malo.expect("type your nick")
    await malo.send("malo")
    assert "spam" in await malo.expect("banned")
    peor = await LineClient.connect(again.port, "peor")
    await anita.close()
    await malo.close()
    await peor.close()
    await again.shutdown()

    code, _, err = await admin(data_dir, "drop", "anita")
    assert code == 0, err
    code, out, _ = await admin(data_dir, "accounts", "--json")
    assert json.loads(out) == []


async def test_a_socket_left_by_a_killed_server_counts_as_no_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    left = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    left.bind(str(data_dir / "admin.sock"))
    left.close()  # the file stays, and nothing listens: what SIGKILL leaves
    code, _, err = await admin(str(data_dir), "accounts")
    # No store either: nothing is made to answer a question about it, and no note says
    # that the command works on one.
    assert code == 1 and err == f"tertulia: there is no store at {data_dir / 'tertulia.db'}\n"
    assert not (data_dir / "tertulia.db").exists()


async def test_a_cluster_store_is_not_changed_under_running_nodes(tmp_path: Path) -> None:
    cluster = {
        "TERTULIA_CLUSTER": "redis://127.0.0.1:1/0",
        "TERTULIA_STORE": "postgresql://tertulia@127.0.0.1:1/tertulia",
    }
    code, _, err = await admin(str(tmp_path), "drop", "ana", lang="es", env=cluster)
    assert code == 1 and err.count("\n") == 1
    assert "en un clúster" in err, err


async def test_a_stopped_servers_bans_backups_and_renames_as_a_running_ones(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    server = await make_server()
    data_dir = server.settings.data_dir
    for nick in ("ana", "bea"):
        client = await JsonClient.connect(server.port, nick)
        reply = await client.request({"type": "register", "password": "secreto1"})
        assert reply["type"] == "ok"
        await client.close()
    await server.shutdown()
    note = "tertulia: no server is running: working on the store "

    code, _, err = await admin(data_dir, "ban", "*!*@10.0.0.0/8", "r", "--duration", "5x")
    assert code == 1 and err.startswith(note)
    assert err.splitlines()[-1] == (
        "tertulia: '5x' is not a duration: say 30m, 2h, 7d, 1w or 0 for ever"
    )
    code, out, _ = await admin(data_dir, "bans", "--json")
    assert json.loads(out) == []  # not banned for ever with "5x r" for a reason
    code, _, err = await admin(data_dir, "ban", "--duration", "1h30m", "*!*@10.0.0.0/8", "r")
    assert code == 0, err
    code, _, err = await admin(data_dir, "ban", "siempre!*@*")
    assert code == 0, err
    code, out, _ = await admin(data_dir, "bans", "--json")
    listed = {b["mask"]: b for b in json.loads(out)}
    assert listed["*!*@10.0.0.0/8"]["reason"] == "r"
    date = r"\d{4}-\d\d-\d\d \d\d:\d\d"
    assert re.fullmatch(date, listed["*!*@10.0.0.0/8"]["created"])
    assert re.fullmatch(date, listed["*!*@10.0.0.0/8"]["expires"])
    assert listed["siempre!*@*"]["expires"] == ""
    code, out, _ = await admin(data_dir, "bans")
    assert re.search(rf"siempre!\*@\*\s+-\s+\S+\s+{date}$", out, re.M), out

    code, _, err = await admin(data_dir, "rename", "nadie", "zoe")
    assert code == 1 and err.splitlines()[-1] == "tertulia: there is no account nadie"
    code, _, err = await admin(data_dir, "rename", "ana", "Bea")
    assert code == 1 and err.splitlines()[-1] == "tertulia: the account Bea exists already"

    target = tmp_path / "copia.db"
    old = os.umask(0o022)  # the command inherits it, and writes the copy itself
    try:
        code, _, err = await admin(data_dir, "backup", str(target))
    finally:
        os.umask(old)
    assert code == 0, err
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    code, _, err = await admin(data_dir, "backup", "/nonexistent/dir/x.db")
    assert code == 1 and err.splitlines()[-1] == (
        "tertulia: cannot write the backup /nonexistent/dir/x.db: No such file or directory"
    )
    assert "Traceback" not in err


async def test_a_server_that_holds_the_directory_without_a_socket_is_not_worked_around(
    tmp_path: Path,
) -> None:
    lock = DataDirLock(tmp_path)  # what a running server holds, its socket removed by hand
    lock.acquire()
    try:
        said = [
            await admin(str(tmp_path), cmd, *words)
            for cmd, *words in (["drop", "ana"], ["accounts"])
        ]
    finally:
        lock.release()
    for code, _, err in said:  # a change, and a read that would say "no server is running"
        assert code == 1
        assert err.splitlines() == [
            f"tertulia: a server is running on {tmp_path} but does not answer on its socket"
        ]


async def test_a_server_without_history_has_no_store_to_work_on(tmp_path: Path) -> None:
    code, _, err = await admin(str(tmp_path), "ban", "x!*@*", env={"TERTULIA_HISTORY": "false"})
    assert code == 1 and err.splitlines() == ["tertulia: this server keeps no history"]
    assert not os.listdir(tmp_path)  # nothing made
