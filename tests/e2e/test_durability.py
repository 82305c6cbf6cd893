"""Nothing is lost: whatever any client received is in history after a SIGKILL mid-burst."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from chatclient import TIMEOUT, JsonClient, LineClient

LISTENING = re.compile(rb"plain door listening on [\d.]+:(\d+)")


@asynccontextmanager
async def tertulia(
    data_dir: Path, store: str
) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERTULIA_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tertulia", "serve", "--port", "0", "--no-irc", "--no-web",
        "--data-dir", str(data_dir), "--store", store, "--lang", "en", "--log-level", "warning",
        stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        match = LISTENING.search(await asyncio.wait_for(proc.stdout.readline(), 20))
        assert match is not None
        yield proc, int(match.group(1))
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def receive_until_gone(client: LineClient, halfway: asyncio.Event, at: int) -> list[str]:
    """Every message line until the server disappears; `halfway` is set after `at` of them."""
    got: list[str] = []
    with contextlib.suppress(EOFError, ConnectionError, TimeoutError):
        while True:
            line = await client.line(timeout=TIMEOUT)
            if line.startswith("[s"):
                got.append(line)
                if len(got) == at:
                    halfway.set()
    return got


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'tertulia.db'}"
    return str(request.getfixturevalue("pg_url"))


async def test_every_message_anyone_received_survives_a_sigkill(tmp_path: Path, store: str) -> None:
    async with tertulia(tmp_path, store) as (proc, port):
        receivers = [await LineClient.connect(port, f"r{i}") for i in range(2)]
        senders = [await LineClient.connect(port, f"s{i}") for i in range(4)]
        halfway = asyncio.Event()
        reading = [asyncio.create_task(receive_until_gone(r, halfway, 2000)) for r in receivers]
        sent = [0] * len(senders)

        async def blast(index: int, client: LineClient) -> None:
            # Until the server is gone: whenever the kill comes, it comes mid-burst.
            with contextlib.suppress(ConnectionError):
                while True:
                    n = sent[index]
                    chunk = "".join(f"m {index} {k}\n" for k in range(n, n + 50))
                    await client.send(chunk, newline=False)
                    sent[index] += 50

        async def ignore(client: LineClient) -> None:
            # Senders read what they are sent, or they would be dropped as slow consumers.
            with contextlib.suppress(ConnectionError):
                while await client.reader.read(1 << 16):
                    pass

        sending = [asyncio.create_task(blast(i, s)) for i, s in enumerate(senders)]
        sending += [asyncio.create_task(ignore(s)) for s in senders]
        await asyncio.wait_for(halfway.wait(), TIMEOUT)
        proc.send_signal(signal.SIGKILL)
        received = [await asyncio.wait_for(task, TIMEOUT * 3) for task in reading]
        for task in sending:
            task.cancel()
        await asyncio.gather(*sending, return_exceptions=True)
    # The burst was going on: more was sent than anyone received.
    assert all(0 < len(got) < sum(sent) for got in received), ([len(g) for g in received], sent)

    async with tertulia(tmp_path, store) as (_, port):
        reader = await JsonClient.connect(port, "auditor")
        stored: list[str] = []
        before = None
        while True:
            request = {"type": "history", "room": "#lobby", "limit": 200}
            if before is not None:
                request["before"] = before
            page = await reader.request(request)
            assert page["type"] == "history", page
            stored[:0] = [f"[{m['from']}] {m['text']}" for m in page["messages"]]
            if not page["more"]:
                break
            before = page["messages"][0]["msgid"]
    position = {line: i for i, line in enumerate(stored)}
    assert len(position) == len(stored)  # each message stored once
    for got in received:
        missing = [line for line in got if line not in position]
        assert missing == [], f"{len(missing)} received but not stored, e.g. {missing[:3]}"
        # In the order this client saw them.
        order = [position[line] for line in got]
        assert order == sorted(order)
