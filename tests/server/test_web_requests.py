"""The web door's reading of requests, fed bytes: inputs the fuzzer found (fuzz/) and what a
client sees for each on a real socket."""

from __future__ import annotations

import asyncio
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import OPEN, SEND_EOF

from chatclient import TIMEOUT
from tertulia.protocols import websocket as wsf
from tertulia.server.app import Server
from tertulia.server.web_door import WebProtocol, request_path, same_origin, trusted_host
from webclient import http, web_port

UPGRADE = (
    "GET /ws HTTP/1.1\r\nHost: localhost:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{}\r\n"
)
PING = b"\x89\x82\x00\x00\x00\x00hi"  # a masked ping "hi", as a client sends it
PONG = b"\x8a\x02hi"


def test_an_unclosed_bracket_is_no_url_but_no_exception() -> None:
    # urlsplit raises ValueError("Invalid IPv6 URL") on each of these.
    assert request_path("//[") is None
    assert request_path("/ws?x=[") == "/ws"
    assert not same_origin("http://[", "localhost")
    assert not same_origin("http://a.]b:8080", "a.]b:8080")
    assert not trusted_host("[", ())
    assert not trusted_host("attacker.]example", ())


def answers(events: list[wsf.Event]) -> bytes:
    """What the door sends back for a client's frames: pongs, and the closing reply."""
    out = b""
    for event in events:
        if isinstance(event, wsf.Ping):
            out += wsf.pong_frame(event.data)
        elif isinstance(event, wsf.Closed):
            out += event.reply
    return out


def answer(data: bytes, origin_ok: bool = True) -> bytes:
    """What the door sends for `data` read at once, answering its request as it does:
    accepted (then the frames behind the request are read), or refused with a 403."""
    ws = WebProtocol()
    ws.receive_data(data)
    [request] = ws.events_received()  # the frames behind it are left unread
    assert isinstance(request, Request)
    if origin_ok:
        ws.send_response(ws.accept(request))
    else:
        ws.send_response(ws.reject(403, "origin not allowed\n"))
    sent = b"".join(out for out in ws.data_to_send() if out is not SEND_EOF and out != SEND_EOF)
    if ws.state is OPEN:
        sent += answers(wsf.FrameReader(1024, ws.behind()).feed(b""))
    return sent


def test_a_ping_behind_the_upgrade_is_answered_after_the_101() -> None:
    sent = answer(UPGRADE.format("").encode() + PING)
    assert sent.startswith(b"HTTP/1.1 101 ")  # it was the pong, then the 101
    assert sent.endswith(b"\r\n\r\n" + PONG)


def test_a_ping_behind_a_refused_upgrade_is_not_answered() -> None:
    sent = answer(UPGRADE.format("Origin: http://evil.example\r\n").encode() + PING, False)
    assert sent.startswith(b"HTTP/1.1 403 ") and PONG not in sent


@pytest.mark.parametrize(
    ("target", "headers", "status"),
    [
        ("//[", "", 400),  # was a traceback and a connection closed without a word
        ("/ws", "Origin: http://attacker.]example:8080\r\n", 403),
        ("/ws", "Origin: http://[\r\n", 403),
    ],
)
async def test_an_unreadable_target_or_origin_gets_an_answer_not_a_traceback(
    server: Server, caplog: pytest.LogCaptureFixture, target: str, headers: str, status: int
) -> None:
    port = web_port(server)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = UPGRADE.replace("/ws", target, 1).replace("localhost:8080", f"127.0.0.1:{port}")
    writer.write(request.format(headers).encode())
    raw = await asyncio.wait_for(reader.read(), TIMEOUT)
    writer.close()
    assert raw.startswith(f"HTTP/1.1 {status} ".encode()), raw
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert (await http(port, "/healthz")).status == 200


async def test_the_pong_to_an_early_ping_follows_the_101_on_the_wire(server: Server) -> None:
    port = web_port(server)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = UPGRADE.replace("localhost:8080", f"127.0.0.1:{port}").format("")
    writer.write(request.encode() + PING)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    assert head.startswith(b"HTTP/1.1 101 ")
    assert await asyncio.wait_for(reader.readexactly(len(PONG)), TIMEOUT) == PONG
    writer.close()


async def test_an_irc_path_without_an_irc_subprotocol_opens_and_closes_with_1002(
    server: Server,
) -> None:
    # The close frame went out alone: a client saw no 101, only a broken handshake.
    async with connect(f"ws://127.0.0.1:{web_port(server)}/irc", open_timeout=TIMEOUT) as ws:
        assert ws.subprotocol is None
        with pytest.raises(ConnectionClosedError) as closed:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1002
    assert "text.ircv3.net" in closed.value.rcvd.reason


# A client's frames: data (text, binary, fragments in continuations) and pings, masked as
# clients must; pongs go unanswered.
client_frames = st.lists(
    st.one_of(
        st.builds(Frame, st.just(Opcode.TEXT), st.text(max_size=200).map(str.encode)),
        st.builds(Frame, st.just(Opcode.BINARY), st.binary(max_size=300)),
        st.builds(Frame, st.just(Opcode.PING), st.binary(max_size=125)),
        st.builds(Frame, st.just(Opcode.PONG), st.binary(max_size=125)),
        st.tuples(st.binary(max_size=50), st.binary(max_size=50)).map(
            lambda parts: [
                Frame(Opcode.BINARY, parts[0], fin=False),
                Frame(Opcode.CONT, parts[1]),
            ]
        ),
    ),
    max_size=8,
)


def receive(chunks: list[bytes]) -> tuple[list[wsf.Event], bytes]:
    """What the door reads from `chunks` once its WebSocket is open, and the bytes it
    answers: the first chunk comes with the upgrade request, the rest after the 101."""
    ws = WebProtocol()
    ws.receive_data(UPGRADE.format("").encode() + (chunks[0] if chunks else b""))
    [request] = ws.events_received()
    assert isinstance(request, Request)
    ws.send_response(ws.accept(request))
    ws.data_to_send()
    assert ws.state is OPEN
    reader = wsf.FrameReader(1024, ws.behind())
    events = reader.feed(b"")
    for chunk in chunks[1:]:
        events += reader.feed(chunk)
    return events, answers(events)


def expected_events(frames: list[Frame]) -> list[wsf.Event]:
    """The events a reader owes for these frames: a message per whole message, its
    fragments joined, and the control frames where they came."""
    events: list[wsf.Event] = []
    first: Frame | None = None
    parts = b""
    for frame in frames:
        if frame.opcode is Opcode.PING:
            events.append(wsf.Ping(bytes(frame.data)))
        elif frame.opcode is Opcode.PONG:
            events.append(wsf.Pong(bytes(frame.data)))
        else:
            first = first or frame
            parts += frame.data
            if frame.fin:
                events.append(wsf.Message(first.opcode is Opcode.TEXT, parts))
                first, parts = None, b""
    return events


@settings(max_examples=200)
@given(client_frames, st.data())
def test_client_frames_read_the_same_under_any_split(
    built: list[Frame | list[Frame]], data: st.DataObject
) -> None:
    frames = [f for item in built for f in (item if isinstance(item, list) else [item])]
    stream = b"".join(f.serialize(mask=True) for f in frames)
    cuts = sorted(set(data.draw(st.lists(st.integers(0, len(stream)), max_size=10))))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    whole = receive([stream])
    assert whole[0] == expected_events(frames)
    assert whole[1] == b"".join(
        Frame(Opcode.PONG, f.data).serialize(mask=False) for f in frames if f.opcode is Opcode.PING
    )
    assert receive(chunks) == whole
    assert receive([stream[i : i + 1] for i in range(len(stream))]) == whole
