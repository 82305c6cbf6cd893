"""WebSocket frames for the web door (RFC 6455): the server's frames built once per event, and a
client's frames read back into messages.

Both halves are ours rather than the websockets library's. Its sans-I/O protocol object, with
its suspended generator parser, stream reader and handshake state, cost some 4 KB for every
open WebSocket and about 15 µs for every frame a client sent; the reader here keeps a few
slots per connection and reads a small frame in a couple of microseconds. The library still
reads the opening handshake (server/web_door.py), which every connection passes once.

A server's frames are never masked and we negotiate no extension (no compression), so the
bytes of a frame are the same for every recipient and the hub can hand them all the same
`bytes`. A client's frames are masked, may come in fragments and carry control frames
between them; whatever the reader refuses fails the connection with the close code RFC 6455
gives for it (1002, 1009; 1007 for a close reason that is no UTF-8), and any split of the
same stream reads the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from tertulia.core import events as ev
from tertulia.core.session import Encoder
from tertulia.protocols.jsonlines import JsonEncoder


class Opcode(IntEnum):
    CONT = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


class CloseCode(IntEnum):
    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    NO_STATUS_RCVD = 1005  # never sent: what a close frame without a code stands for
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011


# -- the server's frames --------------------------------------------------------------------


def frame(opcode: int, payload: bytes) -> bytes:
    """One whole, unmasked frame (FIN set), as a server sends them."""
    size = len(payload)
    if size < 126:
        head = bytes((0x80 | opcode, size))
    elif size < 0x10000:
        head = bytes((0x80 | opcode, 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 127)) + size.to_bytes(8, "big")
    return head + payload


def text_frame(payload: bytes) -> bytes:
    return frame(Opcode.TEXT, payload)


def line_frame(line: bytes) -> bytes:
    """A JSON line (as the JSON-lines codec makes them) as one text frame, without its newline."""
    return text_frame(line.removesuffix(b"\n"))


def binary_frame(payload: bytes) -> bytes:
    return frame(Opcode.BINARY, payload)


def ping_frame(payload: bytes) -> bytes:
    return frame(Opcode.PING, payload)


def pong_frame(payload: bytes) -> bytes:
    return frame(Opcode.PONG, payload)


def irc_text_frame(line: bytes) -> bytes:
    """An IRC line (CR LF ended) as one text frame, as `text.ircv3.net` wants it."""
    return text_frame(line.removesuffix(b"\r\n"))


def irc_binary_frame(line: bytes) -> bytes:
    """An IRC line as one binary frame (`binary.ircv3.net`)."""
    return binary_frame(line.removesuffix(b"\r\n"))


def close_frame(code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> bytes:
    # A control frame's payload is at most 125 bytes: the code's two and 123 of reason.
    return frame(Opcode.CLOSE, code.to_bytes(2, "big") + reason.encode()[:123])


class FramedEncoder:
    """Any line encoder's output as one WebSocket frame per line (IRC over WebSocket):
    still built once per event per variant, as the hub expects."""

    __slots__ = ("_frame", "_lines")

    def __init__(self, lines: Encoder, frame: Callable[[bytes], bytes]) -> None:
        self._lines = lines
        self._frame = frame

    def encode(self, event: ev.Event) -> bytes | None:
        line = self._lines.encode(event)
        return None if line is None else self._frame(line)


class WebEncoder:
    """The JSON-lines objects of every event, as ready-to-send text frames."""

    __slots__ = ("_json",)

    def __init__(self, json: JsonEncoder) -> None:
        self._json = json

    def encode(self, event: ev.Event) -> bytes | None:
        line = self._json.encode(event)
        return None if line is None else line_frame(line)


# -- a client's frames ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    """A whole data message, its fragments joined. A text message's UTF-8 is not checked
    here: the door decodes it, and answers invalid UTF-8 with an error in its own format
    (JSON's `bad_encoding`) rather than failing the connection with 1007 as RFC 6455 has
    it, so that one bad message costs a client that message, not its session (as when
    websockets' sans-I/O core read the frames: it too left text to the application)."""

    text: bool
    data: bytes


@dataclass(frozen=True, slots=True)
class Ping:
    """To be answered with a pong carrying the same data."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Pong:
    data: bytes


@dataclass(frozen=True, slots=True)
class Closed:
    """The client's closing handshake, or a failure of its stream: send `reply`, then close
    the TCP connection (a server closes first, RFC 6455 7.1.1). `code` is what the client
    sent (1005 for none), or why we failed it."""

    code: int
    reason: str
    reply: bytes


Event = Message | Ping | Pong | Closed

# The codes a peer may put in a close frame (RFC 6455 7.4, and the IANA registry).
_PEER_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})
_DATA = frozenset({Opcode.CONT, Opcode.TEXT, Opcode.BINARY})
_CONTROL = frozenset({Opcode.CLOSE, Opcode.PING, Opcode.PONG})


def unmask(data: bytes, mask: bytes) -> bytes:
    """XOR with the repeated 4-byte key, as one big integer: a loop per byte in Python
    would cost more than everything else the reader does."""
    size = len(data)
    if not size:
        return b""
    key = (mask * (size // 4 + 1))[:size]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(size, "little")


def _fail(code: int, reason: str) -> Closed:
    return Closed(code, reason, close_frame(code, reason))


class FrameReader:
    """A client's frames into events. Feed it bytes as they come; it keeps only an unfinished
    frame and the fragments of an unfinished message. `max_size` bounds a message (all of
    its fragments), checked from a frame's header, before its payload is waited for."""

    __slots__ = ("_buf", "_parts", "_size", "_text", "done", "max_size")

    def __init__(self, max_size: int, buffered: bytes = b"") -> None:
        self.max_size = max_size
        self.done = False  # closed or failed: what follows is ignored
        self._buf = buffered  # read with the first feed (the door's: bytes behind a request)
        self._parts: list[bytes] | None = None  # the fragments of an unfinished message
        self._text = False  # whether that message is text
        self._size = 0  # its bytes so far

    def feed(self, data: bytes) -> list[Event]:
        if self.done:
            return []
        buf = self._buf + data if self._buf else data
        if not buf:
            return []
        events: list[Event] = []
        end, at = len(buf), 0
        while end - at >= 2:
            first, second = buf[at], buf[at + 1]
            opcode, size, head = first & 0x0F, second & 0x7F, 2
            if first & 0x70:
                events.append(self._stop(_fail(CloseCode.PROTOCOL_ERROR, "reserved bits set")))
                break
            if opcode not in _DATA and opcode not in _CONTROL:
                events.append(self._stop(_fail(CloseCode.PROTOCOL_ERROR, "invalid opcode")))
                break
            if not second & 0x80:
                events.append(self._stop(_fail(CloseCode.PROTOCOL_ERROR, "unmasked frame")))
                break
            if size == 126:
                if end - at < 4:
                    break
                size, head = int.from_bytes(buf[at + 2 : at + 4], "big"), 4
            elif size == 127:
                if end - at < 10:
                    break
                size, head = int.from_bytes(buf[at + 2 : at + 10], "big"), 10
            fin = first & 0x80
            if opcode >= 0x8:
                if not fin or size > 125:
                    reason = "fragmented control frame" if not fin else "control frame too long"
                    events.append(self._stop(_fail(CloseCode.PROTOCOL_ERROR, reason)))
                    break
            elif self._size + size > self.max_size:
                reason = f"message over {self.max_size} bytes"
                events.append(self._stop(_fail(CloseCode.MESSAGE_TOO_BIG, reason)))
                break
            start = at + head + 4
            if end < start + size:
                break
            payload = unmask(buf[start : start + size], buf[at + head : start])
            at = start + size
            event = self._frame(opcode, bool(fin), payload)
            if event is not None:
                events.append(event)
                if self.done:
                    break
        self._buf = b"" if self.done else buf[at:]
        return events

    def _stop(self, event: Closed) -> Closed:
        self.done = True
        self._buf = b""
        self._parts = None
        return event

    def _frame(self, opcode: int, fin: bool, payload: bytes) -> Event | None:
        if opcode == Opcode.PING:
            return Ping(payload)
        if opcode == Opcode.PONG:
            return Pong(payload)
        if opcode == Opcode.CLOSE:
            return self._stop(self._close(payload))
        parts = self._parts
        if opcode == Opcode.CONT:
            if parts is None:
                return self._stop(_fail(CloseCode.PROTOCOL_ERROR, "unexpected continuation"))
            parts.append(payload)
            if not fin:
                self._size += len(payload)
                return None
            payload, text = b"".join(parts), self._text
            self._parts, self._size = None, 0
        else:
            if parts is not None:
                return self._stop(_fail(CloseCode.PROTOCOL_ERROR, "expected a continuation"))
            text = opcode == Opcode.TEXT
            if not fin:
                self._parts, self._text, self._size = [payload], text, len(payload)
                return None
        return Message(text, payload)

    @staticmethod
    def _close(payload: bytes) -> Closed:
        """The client's close frame, checked, and our reply: the same code back."""
        if not payload:
            return Closed(CloseCode.NO_STATUS_RCVD, "", frame(Opcode.CLOSE, b""))
        code = int.from_bytes(payload[:2], "big")
        if len(payload) < 2 or not (code in _PEER_CODES or 3000 <= code < 5000):
            return _fail(CloseCode.PROTOCOL_ERROR, "invalid close code")
        try:
            reason = payload[2:].decode()
        except UnicodeDecodeError:
            return _fail(CloseCode.INVALID_DATA, "invalid UTF-8 in the close reason")
        return Closed(code, reason, frame(Opcode.CLOSE, payload))
