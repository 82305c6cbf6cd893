"""Fuzz a client's WebSocket frames on the web door: any chunking, the same messages and replies."""

from __future__ import annotations

from _harness import chunkings, fuzz, instrumented

with instrumented(__name__):
    from tertulia.config import Settings
    from tertulia.core.errors import TertuliaError
    from tertulia.protocols import jsonlines
    from tertulia.protocols import websocket as wsf
    from tertulia.protocols.irc import IrcParseError, parse
    from tertulia.protocols.text import decode
    from tertulia.server import web_door

SETTINGS = Settings()


def message(irc: bool, msg: wsf.Message) -> str:
    """What the web handler makes of one whole message (WebHandler._message)."""
    data = msg.data
    if irc:
        try:
            return repr(parse(data.removesuffix(b"\n").removesuffix(b"\r")))
        except IrcParseError as err:
            return err.reason
    try:
        if len(data) > SETTINGS.max_line_bytes:
            return "line_too_long"
        if not msg.text:
            return "bad_request"
        return repr(jsonlines.parse_request(decode(data)))
    except TertuliaError as err:
        return err.code


def converse(irc: bool, chunks: list[bytes]) -> list[str]:
    """Feed the chunks to the reader of an open WebSocket (JSON or IRC) as WebConnection
    does; what the door does and sends, in order."""
    limit = web_door.IRC_LINE_BYTES if irc else SETTINGS.max_line_bytes
    reader = wsf.FrameReader(limit + web_door.FRAME_OVERHEAD)
    seen: list[str] = []
    sent = b""
    code: int | None = None
    for chunk in chunks:
        for event in reader.feed(chunk):
            assert code is None  # nothing is read after the close
            if isinstance(event, wsf.Message):
                assert len(event.data) <= reader.max_size
                seen.append(message(irc, event))
            elif isinstance(event, wsf.Ping):
                sent += wsf.pong_frame(event.data)
            elif isinstance(event, wsf.Closed):
                sent += event.reply
                code = event.code
    return [*seen, repr(sent), str(code)]


def test_one_input(data: bytes) -> None:
    whole, *others = (converse(False, chunks) for chunks in chunkings(data))
    for other in others:
        assert other == whole
    converse(True, [data])


if __name__ == "__main__":
    fuzz(test_one_input, "websocket.dict")
