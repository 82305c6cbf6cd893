"""A real IRC program, irssi, in a real terminal (tmux) chatting with a plain client."""

from __future__ import annotations

import asyncio
import shlex
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatclient import LineClient
from tertulia.server.app import Server

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def tmux() -> Iterator[list[str]]:
    if shutil.which("tmux") is None or shutil.which("irssi") is None:
        pytest.skip("tmux and irssi are needed: apt-get install -y tmux irssi")
    base = ["tmux", "-L", f"tertulia-{uuid.uuid4().hex[:8]}", "-f", "/dev/null"]
    yield base
    subprocess.run([*base, "kill-server"], capture_output=True, check=False)


async def run(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    assert proc.returncode == 0, args
    return out.decode("utf-8", "replace")


async def screen(tmux: list[str], wanted: str) -> str:
    text = ""
    async with asyncio.timeout(30):
        while wanted not in text:
            text = await run(*tmux, "capture-pane", "-p", "-t", "irc")
            if wanted not in text:
                await asyncio.sleep(0.2)  # polling a terminal: there is no event to wait on
    return text


async def test_irssi_joins_and_chats_with_a_plain_client(
    server: Server, tmux: list[str], tmp_path: Path
) -> None:
    port = server.addresses("irc")[0].rsplit(":", 1)[1]
    home = tmp_path / "irssi"
    home.mkdir()
    command = shlex.join(
        ["irssi", f"--home={home}", "-n", "irssiuser", "-c", "127.0.0.1", "-p", port]
    )
    env = ["env", "TERM=xterm-256color", "LANG=C.UTF-8"]
    await run(*tmux, "new-session", "-d", "-s", "irc", "-x", "120", "-y", "30",
              *env, "sh", "-c", command)  # fmt: skip
    await screen(tmux, "irssiuser")
    plain = await LineClient.connect(server.port, "pia")
    await run(*tmux, "send-keys", "-t", "irc", "/join #lobby", "Enter")
    await plain.expect("irssiuser joined #lobby")
    await run(*tmux, "send-keys", "-t", "irc", "hola desde irssi", "Enter")
    assert await plain.expect("hola desde irssi") == "[irssiuser] hola desde irssi"
    await plain.send("y de vuelta desde netcat")
    text = await screen(tmux, "y de vuelta desde netcat")
    assert "pia" in text
    await run(*tmux, "send-keys", "-t", "irc", "/quit bye", "Enter")
    await plain.expect("irssiuser quit")
    await plain.close()
