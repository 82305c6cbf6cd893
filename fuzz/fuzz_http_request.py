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
    from tertulia.server import web_door

# A web_hosts name, so that the DNS-rebinding check has a name to accept as well.
SETTINGS = dataclasses.replace(Settings(), web_hosts=("chat.example",))
ASSETS = web_door.load_assets()
STATUS = re.compile(rb"^HTTP/1\.1 (\d{3}) ", re.MULTILINE)
NO_IRC = b"\x88\x2e\x03\xeaIRC needs"  # the close frame (1002) of an IRC path without IRC
QUIET: tuple[tuple[bytes, ...], str, int, Counter[str]] = ((), "", 0, Counter())  # not a word
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
    """The WebConnection as the handler sees it: its protocol, a peer, and close()."""

    peer = "198.51.100.7"

    def __init__(self) -> None:
        self.ws = web_door.WebProtocol(
            max_size=SETTINGS.max_line_bytes + web_door.FRAME_OVERHEAD, logger=log
        )
        self.closed: int | None = None

    def close(self, data: bytes | None = None, code: int | None = None) -> None:
        self.closed = code or 0


class Handler(web_door.WebHandler):
    """The door's handler, minus what needs a loop or a hub: opening a session is noted."""

    __slots__ = ("opened",)

    def __init__(self, server: Any, conn: Any) -> None:
        self.server, self.conn = server, conn
        self.json = self.irc = self.fakelag = None
        self.parts = []
        self.opened = ""

    def heard_from(self) -> None:
        pass

    def _open(self) -> None:
        self.opened = "json"

    def _open_irc(self, frame: Any) -> None:
        self.opened = "irc"


Served = tuple[tuple[bytes, ...], str, int | None, Counter[str]]


def serve(chunks: list[bytes]) -> Served:
    """Feed the chunks as WebConnection.data_received and _pump do; what goes back, one
    write (a response, a frame) at a time."""
    server, conn = Server(), Conn()
    handler = Handler(server, conn)
    ws = conn.ws
    sent: list[bytes] = []

    def send() -> bool:
        if conn.closed is not None:
            return False  # Connection.deliver drops what comes after close()
        for out in ws.data_to_send():
            if out is SEND_EOF or out == SEND_EOF:
                return False
            sent.append(DATE.sub(b"", out))
        return conn.closed is None

    def pump() -> bool:
        # Each event's replies go out before the next event is handled, then the rest.
        for event in ws.events_received():
            if conn.closed is not None:
                return False
            assert not isinstance(event, Response)  # a server receives no responses
            handler.on_event(event)
            if not send():
                return False
        return send()

    for chunk in chunks:
        ws.receive_data(chunk)
        if not pump():
            break
    else:
        ws.receive_eof()
        pump()
    return tuple(sent), handler.opened, conn.closed, server.stats.errors


def without_pongs(served: Served) -> Served:
    writes, opened, closed, errors = served
    return tuple(w for w in writes if not w.startswith(b"\x8a")), opened, closed, errors


def test_one_input(data: bytes) -> None:
    whole, byte_by_byte, cut = (serve(chunks) for chunks in chunkings(data))
    writes, opened, _, _ = byte_by_byte
    sent = b"".join(writes)
    statuses = STATUS.findall(sent)
    assert len(statuses) <= 1  # one request, one response: nothing pipelined is answered
    assert b"500" not in statuses, sent  # a 500 is an exception caught inside websockets
    # An upgrade opens a session, or closes at once on an IRC path without IRC's protocol.
    assert (statuses == [b"101"]) == bool(opened or NO_IRC in sent)
    # Byte by byte, the request is handled before anything behind it is read. Bytes that
    # arrive with the request and are no WebSocket frame fail the protocol before the door
    # sees the request: it closes quietly (docs/security.md, "a request pipelined"). Pings
    # that come with the request are answered after the 101, unless the door closed first.
    end = data.find(b"\r\n\r\n")
    behind = end >= 0 and len(data) > end + 4
    for other in (whole, cut):
        assert (
            other == byte_by_byte
            or (behind and other == QUIET)
            or (behind and without_pongs(other) == without_pongs(byte_by_byte))
        ), (other, byte_by_byte)


if __name__ == "__main__":
    fuzz(test_one_input, "http.dict")
