"""The real program in a real terminal: two `tertulia chat` sessions under tmux."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ServerFactory
from tertulia.client.connection import ChatClient
from tertulia.server.app import Server

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def tmux() -> Iterator[list[str]]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed: apt-get install -y tmux")
    # A private server socket: the test never touches the user's own tmux.
    base = ["tmux", "-L", f"tertulia-{uuid.uuid4().hex[:8]}", "-f", "/dev/null"]
    yield base
    subprocess.run([*base, "kill-server"], capture_output=True, check=False)


def start(tmux: list[str], name: str, port: int, nick: str) -> None:
    command = " ".join(
        shlex.quote(a)
        for a in (sys.executable, "-m", "tertulia", "chat", "--lang", "en", "--port", str(port),
                  "--nick", nick)
    )  # fmt: skip
    env = {**os.environ, "TERM": "xterm-256color", "LANG": "C.UTF-8"}
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", name, "-x", "100", "-y", "30", command],
        check=True, env=env,
    )  # fmt: skip


async def screen(tmux: list[str], name: str, wanted: str) -> str:
    """Capture the pane until it shows `wanted`, within a bound."""
    text = ""
    async with asyncio.timeout(30):
        while wanted not in text:
            done = await asyncio.create_subprocess_exec(
                *tmux, "capture-pane", "-p", "-t", name, stdout=asyncio.subprocess.PIPE
            )
            out, _ = await done.communicate()
            text = out.decode("utf-8", "replace")
            if wanted not in text:
                await asyncio.sleep(0.2)  # polling a terminal: there is no event to wait on
    return text


async def keys(tmux: list[str], name: str, text: str) -> None:
    typed = await asyncio.create_subprocess_exec(*tmux, "send-keys", "-t", name, text, "Enter")
    assert await typed.wait() == 0


async def test_two_terminals_chat(server: Server, tmux: list[str]) -> None:
    start(tmux, "ana", server.port, "ana")
    start(tmux, "bea", server.port, "bea")
    await screen(tmux, "ana", "connected")
    await screen(tmux, "bea", "connected")
    await keys(tmux, "ana", "hola desde tmux")
    text = await screen(tmux, "bea", "<ana> hola desde tmux")
    assert "#lobby" in text and "bea" in text
    await keys(tmux, "bea", "/quit")
    await screen(tmux, "ana", "bea quit")


async def gone(tmux: list[str], name: str) -> None:
    """Wait until the program in session `name` has ended (and its session with it)."""
    async with asyncio.timeout(30):
        while True:
            alive = await asyncio.create_subprocess_exec(
                *tmux, "has-session", "-t", name, stderr=asyncio.subprocess.DEVNULL
            )
            if await alive.wait() != 0:
                return
            await asyncio.sleep(0.2)  # polling a terminal: there is no event to wait on


async def test_private_messages_get_a_tab_named_after_the_partner(
    server: Server, tmux: list[str]
) -> None:
    start(tmux, "ana", server.port, "ana")
    start(tmux, "bea", server.port, "bea")
    await screen(tmux, "ana", "connected")
    await screen(tmux, "bea", "connected")
    await keys(tmux, "ana", "/msg bea hola bea")
    mine = await screen(tmux, "ana", "<ana> hola bea")
    assert "private conversation" in mine and "→" not in mine
    theirs = await screen(tmux, "bea", "ana (1)")  # a tab of its own, unread
    assert "hola bea" not in theirs  # not in the room on screen
    nudge = await asyncio.create_subprocess_exec(*tmux, "send-keys", "-t", "bea", "C-n")
    assert await nudge.wait() == 0
    theirs = await screen(tmux, "bea", "<ana> hola bea")
    assert "→" not in theirs and "private conversation" in theirs


async def test_quit_while_disconnected_leaves(make_server: ServerFactory, tmux: list[str]) -> None:
    server: Server = await make_server()
    start(tmux, "ana", server.port, "ana")
    await screen(tmux, "ana", "connected")
    await server.shutdown()
    await screen(tmux, "ana", "disconnected")
    await keys(tmux, "ana", "/quit")
    await gone(tmux, "ana")


async def test_a_reconnection_shows_no_line_twice(
    make_server: ServerFactory, tmux: list[str], tmp_path: Path
) -> None:
    data = str(tmp_path / "data")
    first: Server = await make_server(data_dir=data)
    port = first.port
    bo = await ChatClient.open("127.0.0.1", port)
    await bo.hello("bo")
    await bo.say("#lobby", "uno")
    start(tmux, "ana", port, "ana")
    await screen(tmux, "ana", "<bo> uno")
    await bo.quit()
    await first.shutdown()
    await screen(tmux, "ana", "disconnected")
    # The same history: the server replays #lobby's last messages on the way back in.
    second: Server = await make_server(port=port, data_dir=data)
    await screen(tmux, "ana", "reconnected as ana")
    eva = await ChatClient.open("127.0.0.1", second.port)
    await eva.hello("eva")
    await eva.say("#lobby", "tres")
    text = await screen(tmux, "ana", "<eva> tres")
    assert text.count("<bo> uno") == 1, text
    await eva.quit()
