"""A real IRC program, WeeChat (headless), chatting with a plain client through the IRC door.

WeeChat runs as `weechat-headless` with a temporary home. The test types into it through its
FIFO pipe (`<buffer> *<text or /command>`, one line per write) and reads what it shows through
its logger plugin, one log file per buffer: `irc.server.x` for the server's replies (WHOIS)
and `irc.x.#lobby` for the channel.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from chatclient import LineClient
from ircclient import irc
from tertulia.server.app import Server

pytestmark = pytest.mark.timeout(90)

USERNAME = "weeuser"
REALNAME = "Wee Chat Real Name"


class WeeChat:
    """One weechat-headless process: commands in through its FIFO, what it shows out of its logs."""

    def __init__(self, proc: asyncio.subprocess.Process, home: Path) -> None:
        self.proc = proc
        self.home = home
        self.fifo = home / f"weechat_fifo_{proc.pid}"

    @classmethod
    async def start(cls, home: Path, commands: list[str]) -> WeeChat:
        # Only the plugins the test uses; English text whatever the machine's locale.
        env = {**os.environ, "HOME": str(home), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        args = ["weechat-headless", "--dir", str(home), "--no-script", "-P", "irc,logger,fifo"]
        for command in commands:
            args += ["-r", command]
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
        )
        wee = cls(proc, home)
        await wee._until(wee.fifo.exists, "its FIFO pipe")
        return wee

    async def _until(self, ready: Callable[[], bool], what: str, timeout: float = 30) -> None:
        try:
            async with asyncio.timeout(timeout):
                while not ready():
                    assert self.proc.returncode is None, f"weechat exited ({self.proc.returncode})"
                    await asyncio.sleep(0.1)  # polling files: there is no event to wait on
        except TimeoutError:
            raise AssertionError(f"weechat never showed {what}") from None

    def send(self, buffer: str, text: str) -> None:
        """Type `text` (a message or a /command) into `buffer`, e.g. `irc.x.#lobby`."""
        # Non-blocking: a weechat that is gone is an error here, never a hang.
        fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, f"{buffer} *{text}\n".encode())
        finally:
            os.close(fd)

    def log(self, buffer: str) -> list[str]:
        """What `buffer` shows so far, one `prefix<TAB>message` per line (the time dropped)."""
        path = self.home / "logs" / f"{buffer.lower()}.weechatlog"
        if not path.exists():
            return []
        lines = path.read_text("utf-8", "replace").splitlines()
        return [line.split("\t", 1)[1] for line in lines if "\t" in line]

    async def shows(self, buffer: str, want: str | re.Pattern[str], after: int = 0) -> str:
        """Wait until `buffer` shows a line matching `want` (past its first `after` lines)."""
        found: list[str] = []

        def seen() -> bool:
            for line in self.log(buffer)[after:]:
                if want in line if isinstance(want, str) else want.search(line):
                    found.append(line)
                    return True
            return False

        try:
            await self._until(seen, f"{want!r} in {buffer}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; it shows {self.log(buffer)!r}") from None
        return found[0]


@pytest.fixture
def weechat_home(tmp_path: Path) -> Path:
    if shutil.which("weechat-headless") is None:
        pytest.skip("weechat-headless is not installed: apt-get install -y weechat-headless")
    home = tmp_path / "weechat"
    home.mkdir()
    return home


@pytest.fixture
async def weechat_procs() -> AsyncIterator[list[WeeChat]]:
    """WeeChats a test started; any still running at the end is killed."""
    started: list[WeeChat] = []
    yield started
    for wee in started:
        if wee.proc.returncode is None:
            wee.proc.kill()
            await wee.proc.wait()


async def test_weechat_chats_with_a_plain_client_and_gives_its_user_and_real_name(
    server: Server, weechat_home: Path, weechat_procs: list[WeeChat]
) -> None:
    port = server.addresses("irc")[0].rsplit(":", 1)[1]
    plain = await LineClient.connect(server.port, "pia")
    wee = await WeeChat.start(
        weechat_home,
        [
            "/set logger.file.flush_delay 0",  # every line reaches the log at once
            "/set irc.look.server_buffer independent",  # server replies in their own log
            f"/server add x 127.0.0.1/{port} -notls",
            "/set irc.server.x.nicks wee",
            f"/set irc.server.x.username {USERNAME}",
            f'/set irc.server.x.realname "{REALNAME}"',
            "/set irc.server.x.autojoin #lobby",
            # No pause between lines sent (WeeChat 3 counts seconds, WeeChat 4 milliseconds).
            "/set irc.server.x.anti_flood_prio_high 0",
            "/set irc.server.x.anti_flood 0",
            "/connect x",
        ],
    )
    weechat_procs.append(wee)
    server_buf, lobby = "irc.server.x", "irc.x.#lobby"

    await plain.expect("wee joined #lobby")
    await wee.shows(lobby, re.compile(r"^-->\twee \(\S+\) has joined #lobby$"))
    await wee.shows(lobby, "Channel #lobby: 2 nicks")

    wee.send(lobby, "hola desde weechat")
    assert await plain.expect("hola desde weechat") == "[wee] hola desde weechat"
    await plain.send("y de vuelta desde netcat")
    assert (await wee.shows(lobby, "y de vuelta desde netcat")).endswith(
        "pia\ty de vuelta desde netcat"
    )

    # WHOIS through WeeChat: `[nick] (username@host): realname`, then the channels.
    wee.send(server_buf, "/whois pia")
    await wee.shows(server_buf, re.compile(r"^--\t\[pia\] \(\S+@\S+\): "))
    await wee.shows(server_buf, "[pia] End of /WHOIS list")
    done = len(wee.log(server_buf))
    wee.send(server_buf, "/whois wee")
    user_line = await wee.shows(server_buf, re.compile(r"^--\t\[wee\] \("), after=done)
    await wee.shows(server_buf, "[wee] #lobby", after=done)
    # An IRC server may mark a username no ident server vouched for with a `~`.
    assert re.fullmatch(rf"--\t\[wee\] \(~?{USERNAME}@\S+\): {REALNAME}", user_line), user_line

    # The same on the wire, to another IRC client: 311 <me> <nick> <username> <host> * :<real>.
    other = await irc(server, "ojo")
    await other.send("WHOIS wee")
    whois = await other.expect(" 311 ")
    await other.expect(" 318 ")
    assert re.fullmatch(rf":\S+ 311 ojo wee ~?{USERNAME} \S+ \* :{REALNAME}", whois), whois
    await other.close()

    wee.send(server_buf, "/quit hasta luego")
    await plain.expect("wee quit")
    async with asyncio.timeout(30):
        assert await wee.proc.wait() == 0
    await plain.close()
