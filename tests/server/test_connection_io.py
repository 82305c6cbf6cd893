"""The connection layer on real sockets: coalesced writes that one failure cannot stall,
and the last line before a half-close answered before the close."""

from __future__ import annotations

import pytest

from chatclient import LineClient
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
