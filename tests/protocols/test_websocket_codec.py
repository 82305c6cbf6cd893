"""The server's WebSocket frames, read back by a client's frame parser: any payload and any
split of the stream give the frames that were built."""

from __future__ import annotations

from collections.abc import Callable, Generator

import pytest
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


# -- a client's frames, read by FrameReader ------------------------------------------------


def masked(opcode: Opcode, payload: bytes, fin: bool = True) -> bytes:
    """A client's frame, built (and masked) by the websockets library: an independent writer."""
    return Frame(opcode, payload, fin).serialize(mask=True)


def read(stream: bytes, max_size: int = 1000, cuts: list[int] | None = None) -> list[wsf.Event]:
    reader = wsf.FrameReader(max_size)
    return [event for chunk in split(stream, cuts or []) for event in reader.feed(chunk)]


def failure(events: list[wsf.Event]) -> tuple[int, bytes]:
    """The code of the failure that ends `events`, and the close frame sent for it."""
    last = events[-1]
    assert isinstance(last, wsf.Closed)
    return last.code, last.reply[:4]


client_frames = st.lists(
    st.one_of(
        st.tuples(st.sampled_from([Opcode.TEXT, Opcode.BINARY]), st.binary(max_size=300)).map(
            lambda f: [masked(*f)]
        ),
        st.binary(max_size=125).map(lambda d: [masked(Opcode.PING, d)]),
        st.binary(max_size=125).map(lambda d: [masked(Opcode.PONG, d)]),
        # A message in three fragments, with a ping between two of them.
        st.tuples(st.binary(max_size=60), st.binary(max_size=60), st.binary(max_size=60)).map(
            lambda p: [
                masked(Opcode.TEXT, p[0], fin=False),
                masked(Opcode.PING, b"in between"),
                masked(Opcode.CONT, p[1], fin=False),
                masked(Opcode.CONT, p[2]),
            ]
        ),
    ),
    max_size=8,
).map(lambda items: b"".join(f for item in items for f in item))


@given(client_frames, st.lists(st.integers(0, 10**6), max_size=12))
def test_any_split_of_a_clients_stream_reads_the_same(stream: bytes, cuts: list[int]) -> None:
    whole = read(stream)
    assert read(stream, cuts=cuts) == whole
    assert read(stream, cuts=list(range(len(stream)))) == whole
    assert not any(isinstance(e, wsf.Closed) for e in whole)


@given(st.binary(max_size=400), st.lists(st.integers(0, 10**6), max_size=12))
def test_any_split_of_junk_reads_the_same_and_nothing_after_a_failure(
    junk: bytes, cuts: list[int]
) -> None:
    whole = read(junk, max_size=200)
    assert read(junk, max_size=200, cuts=cuts) == whole
    assert read(junk, max_size=200, cuts=list(range(len(junk)))) == whole
    closed = [i for i, e in enumerate(whole) if isinstance(e, wsf.Closed)]
    assert closed in ([], [len(whole) - 1])  # a close or failure is the last event


def test_fragments_are_joined_and_control_frames_come_between() -> None:
    stream = (
        masked(Opcode.TEXT, b'{"type":', fin=False)
        + masked(Opcode.PING, b"p")
        + masked(Opcode.CONT, b'"ping"', fin=False)
        + masked(Opcode.PONG, b"q")
        + masked(Opcode.CONT, b"}")
        + masked(Opcode.BINARY, b"\x00\xff")
    )
    assert read(stream) == [
        wsf.Ping(b"p"),
        wsf.Pong(b"q"),
        wsf.Message(True, b'{"type":"ping"}'),
        wsf.Message(False, b"\x00\xff"),
    ]


def test_text_is_handed_on_undecoded_for_the_door_to_answer() -> None:
    # The JSON door answers bad UTF-8 with bad_encoding and keeps the client.
    assert read(masked(Opcode.TEXT, b"\xff")) == [wsf.Message(True, b"\xff")]


@pytest.mark.parametrize(
    ("stream", "code"),
    [
        (Frame(Opcode.TEXT, b"hi").serialize(mask=False), 1002),  # a client must mask
        (b"\xc1\x80\x00\x00\x00\x00", 1002),  # RSV1: no extension was agreed
        (b"\x83\x80\x00\x00\x00\x00", 1002),  # opcode 3 is reserved
        (b"\x09\x81\x00\x00\x00\x00x", 1002),  # control frames are never fragmented
        (b"\x89\xfe\x00\x7e" + b"\x00" * 4 + b"x" * 126, 1002),  # nor longer than 125
        (masked(Opcode.CONT, b"x"), 1002),  # a continuation of nothing
        (masked(Opcode.TEXT, b"a", fin=False) + masked(Opcode.TEXT, b"b"), 1002),
        (masked(Opcode.TEXT, b"x" * 1001), 1009),
        (masked(Opcode.TEXT, b"x" * 600, fin=False) + masked(Opcode.CONT, b"y" * 401), 1009),
    ],
)
def test_what_rfc_6455_forbids_fails_the_connection_with_its_code(stream: bytes, code: int) -> None:
    events = read(stream + masked(Opcode.TEXT, b"after"))
    assert failure(events) == (code, b"\x88" + failure(events)[1][1:2] + code.to_bytes(2, "big"))
    assert wsf.Message(True, b"after") not in events


def test_an_oversized_message_fails_from_its_header_before_its_payload_comes() -> None:
    reader = wsf.FrameReader(1000)
    head = masked(Opcode.BINARY, b"z" * 70_000)[:14]  # the header and the mask, no payload
    [closed] = reader.feed(head)
    assert isinstance(closed, wsf.Closed) and closed.code == 1009
    assert reader.feed(b"z" * 70_000) == []  # and nothing is buffered or read after it


@pytest.mark.parametrize(
    ("payload", "code", "reply"),
    [
        (b"\x03\xe8bye", 1000, b"\x88\x05\x03\xe8bye"),  # echoed, as the closing handshake has it
        (b"\x03\xe9", 1001, b"\x88\x02\x03\xe9"),
        (b"\x0f\xa0app", 4000, b"\x88\x05\x0f\xa0app"),  # an application's own code
        (b"", 1005, b"\x88\x00"),  # no code at all: an empty close back
    ],
)
def test_a_clients_close_is_answered_with_the_same(payload: bytes, code: int, reply: bytes) -> None:
    events = read(masked(Opcode.CLOSE, payload) + masked(Opcode.TEXT, b"after"))
    assert len(events) == 1
    closed = events[0]
    assert isinstance(closed, wsf.Closed) and closed.code == code and closed.reply == reply


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"\x03", 1002),  # half a code
        (b"\x03\xed", 1002),  # 1005 may not be sent
        (b"\x0b\xb7", 1002),  # 2999: reserved for the protocol
        (b"\x03\xe8\xff", 1007),  # a reason that is no UTF-8
    ],
)
def test_a_bad_close_frame_fails_the_connection(payload: bytes, code: int) -> None:
    [closed] = read(masked(Opcode.CLOSE, payload))
    assert isinstance(closed, wsf.Closed) and closed.code == code
    assert closed.reply[2:4] == code.to_bytes(2, "big")


@given(st.binary(max_size=300), st.binary(min_size=4, max_size=4))
def test_unmasking_is_the_xor_with_the_repeated_key(data: bytes, key: bytes) -> None:
    assert wsf.unmask(data, key) == bytes(b ^ key[i % 4] for i, b in enumerate(data))


def test_control_frames_and_a_ping_read_back() -> None:
    [ping, pong] = read_frames([wsf.ping_frame(b"tertulia") + wsf.pong_frame(b"x")])
    assert (ping.opcode, bytes(ping.data)) == (Opcode.PING, b"tertulia")
    assert (pong.opcode, bytes(pong.data)) == (Opcode.PONG, b"x")
