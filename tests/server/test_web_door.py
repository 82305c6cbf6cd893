"""The web door without a browser: HTTP endpoints, the WebSocket's checks and limits."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Frame, Opcode
from websockets.typing import Origin

from chatclient import TIMEOUT, LineClient
from tertulia.server.app import Server
from webclient import http, recv, recv_until, samples, web_port, ws_open

# -- HTTP ----------------------------------------------------------------------------------


async def test_healthz_answers_json_with_connections_by_door(server: Server) -> None:
    port = web_port(server)
    reply = await http(port, "/healthz")
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    health = json.loads(reply.body)
    assert health["status"] == "ok" and health["version"] and health["uptime"] >= 0
    assert health["connections"] == {"plain": 0, "json": 0, "irc": 0, "web": 1}  # this request
    ana = await LineClient.connect(server.port, "ana")
    ws = await ws_open(server, "wes")
    health = json.loads((await http(port, "/healthz")).body)
    assert health["connections"] == {"plain": 1, "json": 0, "irc": 0, "web": 2}
    head = await http(port, "/healthz", method="HEAD")
    assert head.status == 200 and head.body == b""
    await ws.close()
    ana.writer.close()


async def test_metrics_move_when_messages_flow(server: Server) -> None:
    port = web_port(server)
    before = samples((await http(port, "/metrics")).body.decode())
    assert before[("tertulia_messages_received_total", (("door", "plain"),))] == 0
    assert before[("tertulia_rooms", ())] == 1
    ana = await LineClient.connect(server.port, "ana")
    bob = await LineClient.connect(server.port, "bob")
    ws = await ws_open(server, "wes")
    for i in range(3):
        await ana.send(f"hola {i}")
    await bob.expect("[ana] hola 2")
    await recv_until(ws, "message")
    await ws.send(json.dumps({"type": "say", "room": "#lobby", "text": "desde la web", "id": 1}))
    await bob.expect("[wes] desde la web")
    await bob.send("/join")  # a usage error, counted by kind
    await bob.expect("!")
    reply = await http(port, "/metrics")
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/plain")
    after = samples(reply.body.decode())
    assert after[("tertulia_messages_received_total", (("door", "plain"),))] == 3
    assert after[("tertulia_messages_received_total", (("door", "web"),))] == 1
    # ana's three reach bob and wes; wes's one reaches ana and bob.
    assert after[("tertulia_messages_sent_total", ())] == 8
    assert after[("tertulia_connections", (("door", "web"),))] == 2  # wes and this scrape
    assert after[("tertulia_users", ())] == 3
    assert after[("tertulia_fanout_seconds_count", ())] == 4
    assert after[("tertulia_fanout_seconds_bucket", (("le", "+Inf"),))] == 4
    assert after[("tertulia_fanout_seconds_bucket", (("le", "1.0"),))] == 4
    assert 0 < after[("tertulia_fanout_seconds_sum", ())] < 4
    assert after[("tertulia_received_bytes_total", (("door", "web"),))] > 0
    assert after[("tertulia_sent_bytes_total", (("door", "plain"),))] > 0
    assert after[("tertulia_errors_total", (("kind", "usage"),))] == 1
    assert ("process_resident_memory_bytes", ()) in after
    await ws.close()


async def test_the_page_and_its_files_are_served_with_a_strict_policy(server: Server) -> None:
    port = web_port(server)
    page = await http(port, "/")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert b'<script src="/app.js"' in page.body
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    script = await http(port, "/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    again = await http(port, "/app.js", If_None_Match=script.headers["etag"])
    assert again.status == 304 and again.body == b""
    assert (await http(port, "/nope")).status == 404
    assert (await http(port, "/", method="POST")).status == 405


# -- the WebSocket ---------------------------------------------------------------------


async def test_web_and_plain_clients_chat(server: Server) -> None:
    ana = await LineClient.connect(server.port, "ana")
    ws = await ws_open(server, "wes")
    await ana.expect("wes joined #lobby")
    await ana.send("hola wes")
    msg = await recv_until(ws, "message")
    assert (msg["from"], msg["text"], msg["room"]) == ("ana", "hola wes", "#lobby")
    await ws.send(json.dumps({"type": "say", "room": "#lobby", "text": "hola ana", "id": 7}))
    ok = await recv(ws)
    assert ok["type"] == "ok" and ok["id"] == 7
    await ana.expect("[wes] hola ana")


async def test_a_foreign_origin_is_refused_and_the_allowed_ones_pass(
    make_server: Any,
) -> None:
    server = await make_server(web_origins=("https://chat.example.org",))
    port = web_port(server)
    with pytest.raises(InvalidStatus) as refused:
        await ws_open(server, origin="http://evil.example")
    assert refused.value.response.status_code == 403
    same = await ws_open(server, "same", origin=f"http://127.0.0.1:{port}")
    listed = await ws_open(server, "listed", origin="https://chat.example.org")
    # DNS rebinding: a name of the attacker's pointed at this machine makes its page
    # same-origin with the Host it sends; only addresses, localhost and web_hosts pass.
    rebound = "http://rebind.evil.example"
    with pytest.raises(InvalidStatus) as refused:
        await connect(
            f"ws://rebind.evil.example:{port}/ws", host="127.0.0.1", port=port,
            origin=Origin(rebound), open_timeout=TIMEOUT,
        )  # fmt: skip
    assert refused.value.response.status_code == 403
    await same.close()
    await listed.close()
    metrics = samples((await http(port, "/metrics")).body.decode())
    assert metrics[("tertulia_errors_total", (("kind", "bad_origin"),))] == 2


async def test_garbage_binary_and_bad_utf8_get_errors_and_the_connection_survives(
    server: Server,
) -> None:
    ws = await ws_open(server, "wes")
    await ws.send("{not json")
    error = await recv(ws)
    assert error["type"] == "error" and error["code"] == "bad_request"
    await ws.send(b"\x00\x01binary")
    error = await recv(ws)
    assert error["type"] == "error" and "text frames" in error["text"]
    await ws.send(b'{"type":"say","room":"#lobby","text":"\xff"}', text=True)
    error = await recv(ws)
    assert error["type"] == "error" and error["code"] == "bad_encoding"
    await ws.send(json.dumps({"type": "ping", "id": "still-here"}))
    assert await recv(ws) == {"type": "pong", "id": "still-here"}


async def test_a_fragmented_message_is_joined(server: Server) -> None:
    ws = await ws_open(server, "wes")
    await ws.send(['{"type":"ping",', '"id":"in ', 'three parts"}'])
    assert await recv(ws) == {"type": "pong", "id": "in three parts"}


async def test_a_silent_websocket_is_pinged_then_dropped(make_server: Any) -> None:
    server = await make_server(ping_interval=0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", web_port(server))
    writer.write(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    assert head.startswith(b"HTTP/1.1 101")
    # This client never answers: the server pings it, then gives up and closes.
    rest = await asyncio.wait_for(reader.read(), TIMEOUT)
    assert rest[0] == 0x89, rest  # a ping frame first
    assert b"\x88" in rest[1:]  # then a close frame, then the end of the stream
    writer.close()


async def test_oversized_messages_get_an_error_and_nothing_is_relayed(server: Server) -> None:
    ana = await LineClient.connect(server.port, "ana")
    ws = await ws_open(server, "wes")
    limit = server.settings.max_message_bytes
    # Over the message limit but within a frame: an error reply, the connection stays.
    await ws.send(json.dumps({"type": "say", "room": "#lobby", "text": "x" * (limit + 1), "id": 1}))
    error = await recv(ws)
    assert error["type"] == "error" and error["id"] == 1 and error["code"] == "message_too_long"
    await ws.send(json.dumps({"type": "say", "room": "#lobby", "text": "marker", "id": 2}))
    lines = await ana.lines_until("[wes] marker")
    assert not any("xxx" in line for line in lines)
    # A frame past the frame limit: the WebSocket is closed with 1009, others carry on.
    big = await ws_open(server, "big")
    await ana.expect("big joined")
    await big.send("y" * (server.settings.max_line_bytes + 2048))
    with pytest.raises(ConnectionClosed) as closed:
        while True:  # the room's history may come first
            await asyncio.wait_for(big.recv(), TIMEOUT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    await ana.expect("big quit")
    await ws.send(json.dumps({"type": "say", "room": "#lobby", "text": "after", "id": 3}))
    lines = await ana.lines_until("[wes] after")
    assert not any("yyy" in line for line in lines)


async def test_a_browser_that_stops_reading_is_dropped_and_others_get_everything(
    server: Server,
) -> None:
    # A small receive buffer, and max_queue=1: the client library stops reading its socket
    # once one frame waits unread, so the server's buffer for it fills.
    sock = socket.create_connection(("127.0.0.1", web_port(server)))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck = await ws_open(server, "stuck", max_queue=1, sock=sock)
    reader = await ws_open(server, "reader")
    ana = await LineClient.connect(server.port, "ana")
    await recv_until(reader, "join")
    total, window = 20_000, 1_000  # 20,000 x 400 bytes: twice what loopback buffers hold
    received = 0
    moved = asyncio.Event()

    async def read_all() -> None:
        nonlocal received
        while received < total:
            received += (await recv(reader))["type"] == "message"
            moved.set()

    reading = asyncio.create_task(read_all())
    for start in range(0, total, 200):
        while received < start - window:
            moved.clear()
            await asyncio.wait_for(moved.wait(), TIMEOUT)
        await ana.send("".join(f"{i} {'z' * 400}\n" for i in range(start, start + 200)), False)
    await asyncio.wait_for(reading, 60)
    assert received == total
    await ana.expect("stuck quit (slow consumer")
    metrics = samples((await http(web_port(server), "/metrics")).body.decode())
    assert metrics[("tertulia_slow_consumers_total", (("door", "web"),))] == 1
    stuck.transport.abort()  # it paused reading, so it would wait for a close that came


async def test_shutdown_tells_web_clients_and_closes_with_going_away(make_server: Any) -> None:
    server = await make_server()
    ws = await ws_open(server, "wes")
    await server.shutdown()
    notice = await recv_until(ws, "notice")
    assert notice["code"] == "shutdown"
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


async def test_a_full_server_answers_503(make_server: Any) -> None:
    server = await make_server(max_clients=1)
    ana = await LineClient.connect(server.port, "ana")
    reply = await http(web_port(server), "/healthz")
    assert reply.status == 503 and b"full" in reply.body
    ana.writer.close()


async def test_frames_sent_right_behind_the_upgrade_are_answered_after_the_101(
    server: Server,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", web_port(server))
    hello = Frame(Opcode.TEXT, b'{"type":"hello","nick":"prisa","id":1}').serialize(mask=True)
    writer.write(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" + hello
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    assert head.startswith(b"HTTP/1.1 101")
    first = await asyncio.wait_for(reader.readexactly(2), TIMEOUT)
    assert first[0] == 0x81  # a text frame: the welcome
    size = first[1] if first[1] < 126 else int.from_bytes(await reader.readexactly(2), "big")
    welcome = json.loads(await asyncio.wait_for(reader.readexactly(size), TIMEOUT))
    assert welcome["type"] == "welcome" and welcome["nick"] == "prisa"
    writer.close()


async def test_quit_gets_bye_and_a_normal_closure(server: Server) -> None:
    ws = await ws_open(server, "wes")
    await ws.send(json.dumps({"type": "quit", "id": 9}))
    assert (await recv_until(ws, "bye"))["id"] == 9
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000


# -- IRC over WebSocket (IRCv3 websocket transport) ----------------------------------------


async def irc_lines_until(ws: Any, want: str) -> list[str]:
    seen: list[str] = []
    while not seen or want not in seen[-1]:
        frame = await asyncio.wait_for(ws.recv(), TIMEOUT)
        seen.append(frame if isinstance(frame, str) else frame.decode())
    return seen


@pytest.mark.parametrize("subprotocol", ["text.ircv3.net", "binary.ircv3.net"])
async def test_an_irc_client_over_websocket_chats_with_every_door(
    server: Server, subprotocol: str
) -> None:
    from websockets.asyncio.client import connect

    url = f"ws://127.0.0.1:{web_port(server)}/"
    ana = await LineClient.connect(server.port, "ana")
    async with connect(url, subprotocols=[subprotocol], open_timeout=TIMEOUT) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == subprotocol
        binary = subprotocol.startswith("binary")

        async def send(line: str) -> None:
            await ws.send(line.encode() if binary else line)

        await send("NICK wes")
        await send("USER wes 0 * :Wes on the web")
        burst = await irc_lines_until(ws, " 422 ")
        assert burst[0].startswith(":tertulia 001 wes ") and not burst[0].endswith("\r\n")
        await send("JOIN #lobby")
        await irc_lines_until(ws, " 366 ")
        await send("PRIVMSG #lobby :hola desde el navegador")
        await ana.expect("[wes] hola desde el navegador")
        await ana.send("y hola desde netcat")
        said = await irc_lines_until(ws, "netcat")
        assert said[-1] == ":ana!ana@tertulia PRIVMSG #lobby :y hola desde netcat"
    await ana.expect("wes quit")
    await ana.close()


async def test_json_clients_on_ws_are_not_offered_irc(server: Server) -> None:
    ws = await ws_open(server, "jota", subprotocols=["text.ircv3.net"])
    assert ws.subprotocol is None  # /ws speaks JSON whatever the client offers
    await ws.close()


async def test_two_origin_or_host_headers_get_a_400_not_a_traceback(server: Server) -> None:
    port = web_port(server)
    reply = await http(
        port, "/ws", Origin="http://a", Upgrade="websocket", Connection="Upgrade",
        Sec_WebSocket_Key="dGhlIHNhbXBsZSBub25jZQ==", Sec_WebSocket_Version="13",
    )  # fmt: skip
    assert reply.status == 403  # one foreign Origin: refused as before
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://a\r\nOrigin: http://b\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    raw = await asyncio.wait_for(reader.read(), TIMEOUT)
    writer.close()
    assert raw.startswith(b"HTTP/1.1 400 ") and b"more than one Origin header" in raw
    assert (await http(port, "/healthz")).status == 200  # and the door carries on


async def test_a_pipelined_request_closes_quietly(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    port = web_port(server)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    one = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    writer.write((one + one).encode())
    await asyncio.wait_for(reader.read(), TIMEOUT)  # the server closes
    writer.close()
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # was a traceback
    assert (await http(port, "/healthz")).status == 200
