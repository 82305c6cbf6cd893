"""WebSocket text frames for the web door: one JSON object per frame, built once per event.

The handshake, the parsing of client frames, pings and the closing handshake are the
websockets library's sans-I/O protocol; this module only builds the server's own frames.
A server's frames are never masked and we negotiate no compression, so the bytes of a
frame are the same for every recipient and the hub can hand them all the same `bytes`.
"""

from __future__ import annotations

from collections.abc import Callable

from websockets.frames import Close, CloseCode, Frame, Opcode

from tertulia.core import events as ev
from tertulia.core.session import Encoder
from tertulia.protocols.jsonlines import JsonEncoder


def text_frame(payload: bytes) -> bytes:
    return Frame(Opcode.TEXT, payload).serialize(mask=False)


def line_frame(line: bytes) -> bytes:
    """A JSON line (as the JSON-lines codec makes them) as one text frame, without its newline."""
    return text_frame(line.removesuffix(b"\n"))


def binary_frame(payload: bytes) -> bytes:
    return Frame(Opcode.BINARY, payload).serialize(mask=False)


def irc_text_frame(line: bytes) -> bytes:
    """An IRC line (CR LF ended) as one text frame, as `text.ircv3.net` wants it."""
    return text_frame(line.removesuffix(b"\r\n"))


def irc_binary_frame(line: bytes) -> bytes:
    """An IRC line as one binary frame (`binary.ircv3.net`)."""
    return binary_frame(line.removesuffix(b"\r\n"))


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


def close_frame(code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> bytes:
    return Frame(Opcode.CLOSE, Close(code, reason).serialize()).serialize(mask=False)


class WebEncoder:
    """The JSON-lines objects of every event, as ready-to-send text frames."""

    __slots__ = ("_json",)

    def __init__(self, json: JsonEncoder) -> None:
        self._json = json

    def encode(self, event: ev.Event) -> bytes | None:
        line = self._json.encode(event)
        return None if line is None else line_frame(line)
