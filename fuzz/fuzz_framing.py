"""Fuzz the line framer: any chunking gives the same lines, bounded, as a model predicts."""

from __future__ import annotations

from _harness import chunkings, fuzz, instrumented

with instrumented(__name__):
    from tertulia.protocols.framing import OVERLONG, Item, LineFramer

# A tiny limit reaches the overlong paths often; the plain door's default, the usual ones.
LIMITS = (8, 2048)


def frame(limit: int, chunks: list[bytes]) -> tuple[list[Item], list[Item]]:
    """The items of a stream fed in `chunks`, and what flushing the rest gives."""
    framer = LineFramer(limit)
    items: list[Item] = []
    for chunk in chunks:
        items += framer.feed(chunk)
        # The buffer holds at most a line and its CR: a peer cannot make it grow.
        assert framer.buffered <= limit + 1
    return items, framer.flush()


def model(limit: int, data: bytes) -> tuple[list[Item], list[Item]]:
    """What the framer should say, from the whole stream at once."""
    *lines, rest = data.split(b"\n")
    items: list[Item] = []
    for line in lines:
        line = line.removesuffix(b"\r")
        items.append(line if len(line) <= limit else OVERLONG)
    tail = rest.removesuffix(b"\r")
    if len(tail) > limit:
        return [*items, OVERLONG], []
    return items, [tail] if tail else []


def test_one_input(data: bytes) -> None:
    for limit in LIMITS:
        expected = model(limit, data)
        for chunks in chunkings(data):
            assert frame(limit, chunks) == expected, (limit, chunks)


if __name__ == "__main__":
    fuzz(test_one_input)
