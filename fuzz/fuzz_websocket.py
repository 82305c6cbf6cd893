"""Fuzz a client's WebSocket frames on the web door: any chunking, the same messages and replies."""

from __future__ import annotations

import logging

from _harness import chunkings, fuzz, instrumented

with instrumented(__name__):
    from websockets.frames import Frame, Opcode
    from websockets.http11 import Request
    from websockets.protocol import OPEN, SEND_EOF

    from tertulia.config import Settings
    from tertulia.core.errors import TertuliaError
    from tertulia.protocols import jsonlines
    from tertulia.protocols.irc import IrcParseError, parse
    from tertulia.protocols.text import decode
    from tertulia.server import web_door

SETTINGS = Settings()
UPGRADE = (
    b"GET %s HTTP/1.1\r\nHost: localhost:8080\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n%s\r\n"
)


class Failed(logging.Handler):
    """websockets logs an exception of its own parser at ERROR, then closes with 1011."""

    def emit(self, record: logging.LogRecord) -> None:
        raise AssertionError(record.getMessage())


log = logging.getLogger("fuzz.websocket")
log.addHandler(Failed(logging.ERROR))
log.propagate = False


def opened(irc: bool) -> web_door.WebProtocol:
    """A protocol past the opening handshake, as the door leaves it (JSON or IRC)."""
    ws = web_door.WebProtocol(
        max_size=SETTINGS.max_line_bytes + web_door.FRAME_OVERHEAD, logger=log
    )
    ws.irc_wanted = irc
    path, extra = (b"/irc", b"Sec-WebSocket-Protocol: text.ircv3.net\r\n") if irc else (b"/ws", b"")
    ws.receive_data(UPGRADE % (path, extra))
    [request] = ws.events_received()
    assert isinstance(request, Request)
    ws.send_response(ws.accept(request))
    ws.data_to_send()
    assert ws.state is OPEN
    if irc:
        ws.max_message_size = web_door.IRC_LINE_BYTES + web_door.FRAME_OVERHEAD
    return ws


def message(irc: bool, opcode: Opcode, data: bytes) -> str:
    """What the web handler makes of one whole message (WebHandler._message)."""
    if irc:
        try:
            return repr(parse(data.removesuffix(b"\n").removesuffix(b"\r")))
        except IrcParseError as err:
            return err.reason
    try:
        if len(data) > SETTINGS.max_line_bytes:
            return "line_too_long"
        if opcode is not Opcode.TEXT:
            return "bad_request"
        return repr(jsonlines.parse_request(decode(data)))
    except TertuliaError as err:
        return err.code


def converse(irc: bool, chunks: list[bytes]) -> list[str]:
    """Feed the chunks as the WebConnection does; what the door does and sends, in order."""
    ws = opened(irc)
    parts: list[Frame] = []
    seen: list[str] = []
    sent = b""

    def pump() -> bool:
        nonlocal parts, sent
        for event in ws.events_received():
            assert isinstance(event, Frame)
            if event.opcode not in web_door.DATA_OPCODES:
                continue
            parts.append(event)
            if event.fin:
                data = b"".join(bytes(p.data) for p in parts)
                assert len(data) <= (ws.max_message_size or 0)
                seen.append(message(irc, parts[0].opcode, data))
                parts = []
        for out in ws.data_to_send():
            if out is SEND_EOF or out == SEND_EOF:
                return False
            sent += out
        return True

    for chunk in chunks:
        ws.receive_data(chunk)
        if not pump():
            break
    else:
        ws.receive_eof()
        pump()
    return [*seen, repr(sent), str(ws.close_code)]


def test_one_input(data: bytes) -> None:
    whole, *others = (converse(False, chunks) for chunks in chunkings(data))
    for other in others:
        assert other == whole
    converse(True, [data])


if __name__ == "__main__":
    fuzz(test_one_input, "websocket.dict")
