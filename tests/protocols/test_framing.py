"""LineFramer over bytes: chunking never changes the lines, and nothing grows without bound."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tertulia.protocols.framing import OVERLONG, Item, LineFramer

LIMIT = 16

# Streams made of pieces that stress the edges: CR, LF, CRLF, long runs, arbitrary bytes.
pieces = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([b"\n", b"\r", b"\r\n", b"x" * LIMIT, b"y" * (LIMIT + 1), b"z" * (LIMIT - 1)]),
)
streams = st.lists(pieces, max_size=30).map(b"".join)


def feed_in_chunks(stream: bytes, cuts: list[int]) -> list[Item]:
    framer = LineFramer(LIMIT)
    out: list[Item] = []
    start = 0
    for cut in sorted(set(cuts)):
        out += framer.feed(stream[start:cut])
        start = cut
    out += framer.feed(stream[start:])
    return out


@settings(max_examples=400)
@given(stream=streams, data=st.data())
def test_any_split_gives_the_same_items(stream: bytes, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12))
    assert feed_in_chunks(stream, cuts) == feed_in_chunks(stream, [])
    # Byte by byte is the harshest split of all.
    assert feed_in_chunks(stream, list(range(len(stream)))) == feed_in_chunks(stream, [])


@settings(max_examples=300)
@given(chunks=st.lists(st.binary(max_size=64), max_size=40))
def test_never_raises_and_the_buffer_stays_bounded(chunks: list[bytes]) -> None:
    framer = LineFramer(LIMIT)
    for chunk in chunks:
        for item in framer.feed(chunk):
            assert item is OVERLONG or (isinstance(item, bytes) and len(item) <= LIMIT)
            assert isinstance(item, bytes | type(OVERLONG))
            if isinstance(item, bytes):
                assert b"\n" not in item
        assert framer.buffered <= LIMIT + 1


@given(stream=streams)
def test_lines_are_what_lies_between_newlines(stream: bytes) -> None:
    items = LineFramer(10_000).feed(stream)
    expected = [line.removesuffix(b"\r") for line in stream.split(b"\n")[:-1]]
    assert items == expected


def test_an_overlong_line_is_one_item_and_the_next_line_is_intact() -> None:
    framer = LineFramer(LIMIT)
    assert framer.feed(b"a" * 40) == [OVERLONG]
    assert framer.feed(b"b" * 40) == []  # still discarding, no second error
    assert framer.feed(b"c\nnext\n") == [b"next"]
    assert framer.feed(b"d" * 20 + b"\nok\r\n") == [OVERLONG, b"ok"]


def test_a_line_at_the_limit_passes_even_with_crlf() -> None:
    framer = LineFramer(LIMIT)
    assert framer.feed(b"x" * LIMIT + b"\r") == []
    assert framer.feed(b"\n") == [b"x" * LIMIT]


def test_flush_takes_unterminated_bytes_as_a_line() -> None:
    framer = LineFramer(LIMIT)
    assert framer.feed(b"[ana] hola") == []
    assert framer.pending
    assert framer.flush() == [b"[ana] hola"]
    assert not framer.pending
    assert framer.flush() == []
    framer.feed(b"end\r")
    assert framer.flush() == [b"end"]


class CountingFramer(LineFramer):
    """A LineFramer that adds up the bytes it reports searching and copying."""

    __slots__ = ("work",)

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.work = 0

    def _tally(self, size: int) -> None:
        self.work += size


def test_a_long_line_sent_byte_by_byte_costs_linear_work() -> None:
    # A 64 KiB line, one byte per feed: a framer that copied what it had on every byte
    # would do some two thousand million bytes of work; this one touches each byte a few
    # times (searched, appended, copied out once).
    size = 64 * 1024
    line = bytes(i % 251 for i in range(size)).replace(b"\n", b"n") + b"\r\n"
    framer = CountingFramer(size)
    items = framer.feed(line[:1])
    held = framer._buf  # the line grows in this one buffer, never copied into a new one
    for i in range(1, len(line)):
        items += framer.feed(line[i : i + 1])
        assert framer._buf is held or i == len(line) - 1
    assert items == [line[:-2]]
    assert framer.work <= 4 * len(line)
    assert not framer.pending


@given(stream=streams, data=st.data())
def test_work_is_linear_in_the_bytes_fed_whatever_the_split(
    stream: bytes, data: st.DataObject
) -> None:
    cuts = sorted(set(data.draw(st.lists(st.integers(0, len(stream)), max_size=len(stream)))))
    framer = CountingFramer(LIMIT)
    start = 0
    for cut in [*cuts, len(stream)]:
        framer.feed(stream[start:cut])
        start = cut
    framer.flush()
    assert framer.work <= 4 * len(stream)


def test_an_idle_framer_holds_no_buffer() -> None:
    framer = LineFramer(LIMIT)
    assert framer._buf is None
    framer.feed(b"half a li")
    assert framer.pending and framer.buffered == 9
    framer.feed(b"ne\r\n")
    assert framer._buf is None and not framer.pending
