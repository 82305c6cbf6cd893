"""The server's WebSocket frames, read back by a client's frame parser: any payload and any
split of the stream give the frames that were built."""

from __future__ import annotations

from collections.abc import Callable, Generator

from hypothesis import given
from hypothesis import strategies as st
from websockets.frames import Close, Frame, Opcode
from websockets.streams import StreamReader

from tertulia.protocols import websocket as wsf


def read_frames(chunks: list[bytes]) -> list[Frame]:
    """The frames of a server's stream as a client reads them, fed in `chunks`."""
    reader, frames = StreamReader(), []

    def parse() -> Generator[None]:
        while True:
            frames.append((yield from Frame.parse(reader.read_exact, mask=False)))

    parser = parse()
    next(parser)
    for chunk in chunks:
        reader.feed_data(chunk)
        next(parser)
    assert not reader.buffer  # nothing left over: every frame was whole
    return frames


def split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(stream) + 1) for c in cuts})
    return [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]


# What the door frames: JSON lines (newline dropped), IRC lines (CR LF dropped) as text or
# binary, and bytes of any size across the 125 and 65,535 byte length encodings.
payloads = st.one_of(
    st.binary(max_size=300),
    st.integers(0, 70_000).map(lambda n: b"x" * n),
    st.sampled_from([b"", b"x" * 125, b"x" * 126, b"x" * 65_535, b"x" * 65_536]),
)
builders = st.sampled_from(
    [
        (wsf.line_frame, Opcode.TEXT, b"\n"),
        (wsf.text_frame, Opcode.TEXT, b""),
        (wsf.binary_frame, Opcode.BINARY, b""),
        (wsf.irc_text_frame, Opcode.TEXT, b"\r\n"),
        (wsf.irc_binary_frame, Opcode.BINARY, b"\r\n"),
    ]
)


@given(st.lists(st.tuples(builders, payloads), max_size=6), st.lists(st.integers(0, 10**6)))
def test_frames_read_back_whole_under_any_split(
    built: list[tuple[tuple[Callable[[bytes], bytes], Opcode, bytes], bytes]], cuts: list[int]
) -> None:
    stream = b""
    expected = []
    for (build, opcode, ending), payload in built:
        stream += build(payload + ending)
        expected.append((opcode, payload, True))
    frames = read_frames(split(stream, cuts))
    assert [(f.opcode, bytes(f.data), f.fin) for f in frames] == expected
    assert not any(f.rsv1 or f.rsv2 or f.rsv3 for f in frames)  # no compression, no masking


@given(st.integers(1000, 4999), st.text(max_size=40).filter(lambda r: len(r.encode()) <= 123))
def test_close_frames_carry_their_code_and_reason(code: int, reason: str) -> None:
    if code in (1004, 1005, 1006, 1015) or 1016 <= code < 3000:
        return  # codes that may not be sent
    [frame] = read_frames([wsf.close_frame(code, reason)])
    assert frame.opcode is Opcode.CLOSE and Close.parse(bytes(frame.data)) == Close(code, reason)
