"""3,000 idle connections from one address: the per-address limit takes what it allows and
refuses the rest with a reason on every door, and a newcomer from elsewhere still gets in
and chats at once."""

from __future__ import annotations

import asyncio
import contextlib
import resource
from collections.abc import Iterator

from chatclient import TIMEOUT, LineClient
from served import Served, serving

CROWD = 3000
PER_ADDRESS = 32  # max_per_address, the default
DOORS = ("plain", "irc", "web")  # a third of the crowd at each


@contextlib.contextmanager
def descriptors(needed: int) -> Iterator[None]:
    """Enough file descriptors for the crowd (the hard limit allows it; the soft one may
    not), restored afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard == resource.RLIM_INFINITY or hard >= needed, f"need {needed} descriptors"
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def idle(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection from 127.0.0.2 that sends nothing at all."""
    return await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.2", 0))


async def answer(reader: asyncio.StreamReader) -> bytes | None:
    """What the server said before closing, or None while it keeps the connection open:
    an accepted idle connection hears nothing (web, IRC) or the nick prompt (plain)."""
    try:
        async with asyncio.timeout(0.5):
            return await reader.read()
    except TimeoutError:
        return None


async def test_an_idle_crowd_from_one_address_keeps_nobody_else_out() -> None:
    with descriptors(CROWD + 1000):
        # A connection rate past the crowd's, so that the number at once is what refuses it.
        async with serving(connect_burst=10 * CROWD) as served:
            await crowd_then_newcomer(served)


async def crowd_then_newcomer(served: Served) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    crowd: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    ports = [served.ports[door] for door in DOORS]
    for start in range(0, CROWD, 250):  # in waves, within the listeners' backlog
        crowd += await asyncio.gather(*(idle(ports[i % 3]) for i in range(start, start + 250)))
    opened = loop.time() - started
    try:
        answers = await asyncio.gather(*(answer(reader) for reader, _ in crowd))
        refused = [(i, a) for i, a in enumerate(answers) if a is not None]
        kept = [i for i, a in enumerate(answers) if a is None]
        # While the crowd holds its places, someone from elsewhere gets in and chats.
        newcomer_started = loop.time()
        ana = await LineClient.connect(served.ports["plain"], "ana", local_addr=("127.0.0.3", 0))
        bea = await LineClient.connect(served.ports["plain"], "bea", local_addr=("127.0.0.4", 0))
        await ana.send("hola, ¿hay sitio?")
        await bea.expect("[ana] hola, ¿hay sitio?")
        newcomer = loop.time() - newcomer_started
        metrics = await served.metrics()
    finally:
        for _, writer in crowd:
            writer.transport.abort()
    print(
        f"{CROWD} idle connections opened in {opened:.2f} s: {len(kept)} kept, "
        f"{len(refused)} refused; a newcomer connected and chatted in {newcomer * 1000:.0f} ms"
    )
    assert len(kept) == PER_ADDRESS
    assert len(refused) == CROWD - PER_ADDRESS
    # Each refusal is the reason, in its door's own format.
    reason = b"too many connections from your address"
    for i, said in refused:
        door = DOORS[i % 3]
        assert reason in said, (door, said)
        if door == "irc":
            assert said.startswith(b"ERROR :Closing link: "), said
        elif door == "web":
            assert said.startswith(b"HTTP/1.1 503 "), said
        else:
            assert said.startswith(b"! "), said
    assert metrics[("tertulia_errors_total", (("kind", "refused_per_address"),))] == len(refused)
    # The crowd's kept places, the two newcomers and this /metrics request are everyone.
    open_now = sum(v for (name, _), v in metrics.items() if name == "tertulia_connections")
    assert open_now == PER_ADDRESS + 2 + 1
    await asyncio.wait_for(asyncio.gather(ana.close(), bea.close()), TIMEOUT)
