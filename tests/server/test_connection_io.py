"""The connection layer on real sockets: coalesced writes that one failure cannot stall,
the last line before a half-close answered before the close, and the bound on unsent output
(the kernel's share counted) that drops a client that stops reading and no other."""

from __future__ import annotations

import asyncio
import json
import re
import socket

import pytest

from chatclient import TIMEOUT, LineClient
from conftest import ServerFactory
from ircclient import irc_port
from tertulia.core.session import Door
from tertulia.server.app import Server
from tertulia.server.connection import Connection
from tertulia.server.sendbuf import KERNEL_SEND_BUFFER, cap_send_buffer, kernel_queue


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


def small_receiver() -> socket.socket:
    """A non-blocking socket whose receive buffer is tiny, set before connecting so that
    the window it offers is tiny too: what it does not read stays on the server's side."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    return sock


def test_the_kernel_says_what_it_still_holds_and_its_share_is_capped() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        peer = small_receiver()
        peer.setblocking(True)
        peer.connect(listener.getsockname())
        sock, _ = listener.accept()
        with sock, peer:
            assert cap_send_buffer(sock, 1 << 20) <= 2 * KERNEL_SEND_BUFFER
            assert cap_send_buffer(sock, 16384) <= 2 * 4096  # a quarter of a small bound
            sock.setblocking(False)
            sent = 0
            try:
                while True:
                    sent += sock.send(b"x" * 4096)
            except BlockingIOError:
                pass
            held = kernel_queue(sock.fileno(), -1)
            # The peer never read: what its buffer did not take is still ours.
            assert 0 < held <= sent
            assert held <= sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    assert kernel_queue(-1, 12345) == 12345  # no answer: the caller's assumption


async def test_a_client_that_stops_reading_is_dropped_once_its_bound_is_passed(
    make_server: ServerFactory,
) -> None:
    budget = 256 * 1024
    server = await make_server(send_buffer_bytes=budget)
    watcher = await LineClient.connect(server.port, "vigia")
    # The stuck client is the IRC door's only client, so that door's byte count is its own.
    stuck = small_receiver()
    await asyncio.get_running_loop().sock_connect(stuck, ("127.0.0.1", irc_port(server)))
    stuck.send(b"NICK quieto\r\nUSER q 0 * :q\r\nJOIN #lobby\r\n")
    await watcher.expect("quieto joined #lobby")
    conn = connection_of(server, "quieto")
    assert conn.transport is not None
    kernel = conn.transport.get_extra_info("socket").getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    assert kernel <= 2 * KERNEL_SEND_BUFFER  # not the megabytes Linux would grow it to
    sender = await LineClient.connect(server.port, "fuente")
    line = "y" * 400
    for start in range(0, 10_000, 40):
        await sender.send("".join(f"{i} {line}\n" for i in range(start, start + 40)), False)
        got = await watcher.expect(re.compile(rf"^\[fuente\] {start + 39} |quieto quit"))
        if "quieto quit" in got:
            break
    else:
        raise AssertionError("never dropped")
    assert "slow consumer: too much unread data" in got
    assert server.stats.slow_consumers[Door.IRC] == 1
    # What the server took on for it: what its tiny buffer took, then the bound, counting
    # what the server's kernel held; never the bound on top of the kernel's share.
    written = server.stats.bytes_out[Door.IRC]
    taken = stuck.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    assert budget - 40 * 450 <= written <= budget + taken + 4096, (written, taken)
    # Everyone else goes on.
    await sender.send("sigo")
    await watcher.expect("[fuente] sigo")
    stuck.close()


async def test_a_slow_reader_that_keeps_up_is_never_dropped(make_server: ServerFactory) -> None:
    budget = 256 * 1024
    server = await make_server(send_buffer_bytes=budget)
    loop = asyncio.get_running_loop()
    slow = small_receiver()  # and it reads 1 KiB at a time
    await loop.sock_connect(slow, ("127.0.0.1", server.port))
    await loop.sock_sendall(slow, b"lento\n")
    sender = await LineClient.connect(server.port, "fuente")
    total, line = 8000, "z" * 400  # 3 MB: twelve times the bound
    received = 0  # whole lines from the sender
    moved = asyncio.Event()

    async def read_slowly() -> None:
        nonlocal received
        pending = b""
        while received < total:
            chunk = await asyncio.wait_for(loop.sock_recv(slow, 1024), TIMEOUT)
            assert chunk, "dropped"
            pending += chunk
            *whole, pending = pending.split(b"\n")
            received += sum(w.startswith(b"[fuente] ") for w in whole)
            moved.set()

    reading = asyncio.create_task(read_slowly())
    for start in range(0, total, 100):
        # Never more than half the bound ahead of what the reader has taken.
        while received < start - 300:
            moved.clear()
            await asyncio.wait_for(moved.wait(), TIMEOUT)
        await sender.send("".join(f"{i} {line}\n" for i in range(start, start + 100)), False)
    await asyncio.wait_for(reading, 30)
    assert received == total
    assert sum(server.stats.slow_consumers.values()) == 0
    slow.close()
