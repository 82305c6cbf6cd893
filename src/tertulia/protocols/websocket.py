"""WebSocket text frames for the web door: one JSON object per frame, built once per event.

The handshake, the parsing of client frames, pings and the closing handshake are the
websockets library's sans-I/O protocol; this module only builds the server's own frames.
A server's frames are never masked and we negotiate no compression, so the bytes of a
frame are the same for every recipient and the hub can hand them all the same `bytes`.
"""

from __future__ import annotations

from websockets.frames import Close, CloseCode, Frame, Opcode

from tertulia.core import events as ev
from tertulia.protocols.jsonlines import JsonEncoder


def text_frame(payload: bytes) -> bytes:
    return Frame(Opcode.TEXT, payload).serialize(mask=False)


def line_frame(line: bytes) -> bytes:
    """A JSON line (as the JSON-lines codec makes them) as one text frame, without its newline."""
    return text_frame(line.removesuffix(b"\n"))


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
