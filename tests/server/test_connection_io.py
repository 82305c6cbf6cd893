"""The connection layer on real sockets: coalesced writes that one failure cannot stall,
and the last line before a half-close answered before the close."""

from __future__ import annotations

import asyncio
import json

import pytest

from chatclient import TIMEOUT, LineClient
from tertulia.server.app import Server
from tertulia.server.connection import Connection


def connection_of(server: Server, nick: str) -> Connection:
    for conn in server.connections:
        session = getattr(conn.handler, "session", None)
        if session is not None and session.nick == nick:
            return conn
    raise AssertionError(f"no connection for {nick}")


async def test_a_flush_that_raises_stalls_nobody_else(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    ana = await LineClient.connect(server.port, "ana")
    bob = await LineClient.connect(server.port, "bob")
    eva = await LineClient.connect(server.port, "eva")
    bad, good = connection_of(server, "ana"), connection_of(server, "bob")
    # In one loop turn: a write the transport refuses (not bytes) queued first, then bob's.
    bad.deliver("not bytes")  # type: ignore[arg-type]
    good.deliver(b"* still here\n")
    await bob.expect("* still here")
    await ana.closed()  # that one is dropped, with a reason in the log
    assert "internal error writing to a client" in caplog.text
    assert bad not in server.connections
    # And bob's later writes are not stuck behind it either.
    await eva.send("hola")
    await bob.expect("[eva] hola")


async def half_closed(server: Server, data: bytes) -> list[str]:
    """Send `data`, half-close (as `nc -N` does at the end of its input), read to the end."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(data)
    writer.write_eof()
    got = await asyncio.wait_for(reader.read(), TIMEOUT)
    writer.close()
    return got.decode().splitlines()


async def test_the_last_line_before_a_half_close_is_answered(server: Server) -> None:
    # printf 'bea\n/who' | nc -N 127.0.0.1 5000: the last line has no newline.
    lines = await half_closed(server, b"bea\n/who")
    assert "* #lobby (1): bea" in lines, lines
    # With its newline, its answer is not lost to the close either.
    lines = await half_closed(server, b"bea\n/who\n")
    assert "* #lobby (1): bea" in lines, lines


async def test_json_lines_get_their_replies_before_a_half_close(server: Server) -> None:
    witness = await LineClient.connect(server.port, "testigo")
    requests = [
        {"type": "hello", "nick": "jota", "id": 1},
        {"type": "say", "room": "#lobby", "text": "me voy", "id": 2},
        {"type": "who", "room": "#lobby", "id": 3},
    ]
    lines = await half_closed(server, "\n".join(json.dumps(r) for r in requests).encode())
    objects = [json.loads(line) for line in lines if line.startswith("{")]
    replies = {obj["id"]: obj for obj in objects if "id" in obj}
    assert replies[1]["type"] == "welcome"
    assert replies[2]["type"] == "ok" and replies[2]["msgid"]  # sent once stored
    assert replies[3]["members"] == ["jota", "testigo"]
    await witness.expect("[jota] me voy")
