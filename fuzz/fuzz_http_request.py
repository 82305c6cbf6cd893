"""Fuzz the web door's HTTP requests: websockets' parser and the door's routing, no socket."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections import Counter
from typing import Any

from _harness import chunkings, fuzz, instrumented

with instrumented(__name__):
    from websockets.http11 import Response
    from websockets.protocol import SEND_EOF

    from tertulia.config import Settings
    from tertulia.protocols import websocket as wsf
    from tertulia.server import web_door

# A web_hosts name, so that the DNS-rebinding check has a name to accept as well.
SETTINGS = dataclasses.replace(Settings(), web_hosts=("chat.example",))
ASSETS = web_door.load_assets()
STATUS = re.compile(rb"^HTTP/1\.1 (\d{3}) ", re.MULTILINE)
NO_IRC = b"\x88\x2e\x03\xeaIRC needs"  # the close frame (1002) of an IRC path without IRC
DATE = re.compile(rb"\r\nDate: [^\r]*")  # the one header that changes from run to run


class Failed(logging.Handler):
    """websockets logs an exception of its own, or of our select_subprotocol, at ERROR."""

    def emit(self, record: logging.LogRecord) -> None:
        raise AssertionError(record.getMessage())


log = logging.getLogger("fuzz.http")
log.addHandler(Failed(logging.ERROR))
log.propagate = False


class Stats:
    """What the door counts; the bodies of /healthz and /metrics are not under test."""

    def __init__(self) -> None:
        self.errors: Counter[str] = Counter()

    def health(self) -> bytes:
        return b'{"status":"ok"}'

    def metrics(self) -> bytes:
        return b"# metrics\n"


@dataclasses.dataclass
class Server:
    settings: Any = SETTINGS
    assets: Any = dataclasses.field(default_factory=lambda: ASSETS)
    stats: Stats = dataclasses.field(default_factory=Stats)


class Conn:
    """The WebConnection as the handler sees it, without a socket: its protocol until the
    WebSocket opens, its frame reader after, what it sends, and whether it closed."""

    peer = "198.51.100.7"

    def __init__(self) -> None:
        self.ws: web_door.WebProtocol | None = web_door.WebProtocol(logger=log)
        self.frames: wsf.FrameReader | None = None
        self.closed: int | None = None
        self.sent: list[bytes] = []

    def deliver(self, data: bytes) -> None:
        if self.closed is None:  # Connection.deliver drops what comes after close()
            self.sent.append(DATE.sub(b"", data))

    def send_response(self, ws: web_door.WebProtocol) -> None:
        for out in ws.data_to_send():
            if out is SEND_EOF or out == SEND_EOF:
                self.close()
                return
            self.deliver(out)

    def open_frames(self, max_size: int) -> None:
        ws, self.ws = self.ws, None
        assert ws is not None
        self.send_response(ws)
        self.frames = wsf.FrameReader(max_size, ws.behind())

    def fail(self, code: int, reason: str) -> None:
        self.deliver(wsf.close_frame(code, reason))
        self.close(code=code)

    def close(self, data: bytes | None = None, code: int | None = None) -> None:
        if self.closed is None:
            self.closed = code or 0

    def read(self, data: bytes) -> None:
        """WebConnection._read: pongs and the closing reply; messages have no session."""
        assert self.frames is not None
        for event in self.frames.feed(data):
            if self.closed is not None:
                return
            if isinstance(event, wsf.Ping):
                self.deliver(wsf.pong_frame(event.data))
            elif isinstance(event, wsf.Closed):
                self.deliver(event.reply)
                self.close(code=event.code)


class Handler(web_door.WebHandler):
    """The door's handler, minus what needs a loop or a hub: opening a session is noted."""

    __slots__ = ("opened",)

    def __init__(self, server: Any, conn: Any) -> None:
        self.server, self.conn = server, conn
        self.json = self.irc = self.fakelag = None
        self.opened = ""

    def heard_from(self) -> None:
        pass

    def _open(self) -> None:
        self.conn.open_frames(SETTINGS.max_line_bytes + web_door.FRAME_OVERHEAD)
        self.opened = "json"

    def _open_irc(self, frame: Any) -> None:
        self.conn.open_frames(web_door.IRC_LINE_BYTES + web_door.FRAME_OVERHEAD)
        self.opened = "irc"


Served = tuple[tuple[bytes, ...], str, int | None, Counter[str]]


def serve(chunks: list[bytes]) -> Served:
    """Feed the chunks as WebConnection.data_received and _handshake do; what goes back,
    one write (a response, a frame) at a time."""
    server, conn = Server(), Conn()
    handler = Handler(server, conn)
    for chunk in [*chunks, None]:  # None: the end of the stream
        if conn.closed is not None:
            break
        if conn.frames is not None:
            if chunk is not None:
                conn.read(chunk)
            continue
        ws = conn.ws
        assert ws is not None
        if chunk is None:
            ws.receive_eof()
        else:
            ws.receive_data(chunk)
        for event in ws.events_received():
            assert not isinstance(event, Response)  # a server receives no responses
            handler.on_request(event)  # type: ignore[arg-type]
        if conn.ws is not None:
            conn.send_response(ws)
        elif conn.closed is None:
            conn.read(b"")  # the frames that came behind the request
    return tuple(conn.sent), handler.opened, conn.closed, server.stats.errors


def test_one_input(data: bytes) -> None:
    whole, byte_by_byte, cut = (serve(chunks) for chunks in chunkings(data))
    writes, opened, _, _ = byte_by_byte
    sent = b"".join(writes)
    statuses = STATUS.findall(sent)
    assert len(statuses) <= 1  # one request, one response: nothing pipelined is answered
    assert b"500" not in statuses, sent  # a 500 is an exception caught inside websockets
    # An upgrade opens a session, or closes at once on an IRC path without IRC's protocol.
    assert (statuses == [b"101"]) == bool(opened or NO_IRC in sent)
    # The request is answered before anything behind it is read, and what is behind it is
    # read as frames only after a 101 (pings among them are answered after it): so
    # however the bytes arrive, the door answers the same.
    for other in (whole, cut):
        assert other == byte_by_byte, (other, byte_by_byte)


if __name__ == "__main__":
    fuzz(test_one_input, "http.dict")
