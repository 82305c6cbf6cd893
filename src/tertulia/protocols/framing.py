"""Split a byte stream into lines, with a length bound and an idle flush for unterminated data."""

from __future__ import annotations

from typing import Final


class Overlong:
    """Stands in the output for one line that passed the limit; its bytes were discarded."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "OVERLONG"


OVERLONG: Final = Overlong()

Item = bytes | Overlong


class LineFramer:
    """Lines end in LF; a CR before the LF is dropped. Any split of a stream gives the same items.

    A line longer than `limit` bytes yields OVERLONG once, and its bytes are dropped up to
    the next LF, so a peer that never sends a newline cannot make the buffer grow.
    """

    __slots__ = ("_buf", "_discarding", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._buf = b""
        self._discarding = False

    @property
    def pending(self) -> bool:
        """True when bytes of an unterminated line are buffered."""
        return bool(self._buf)

    def feed(self, data: bytes) -> list[Item]:
        out: list[Item] = []
        if self._discarding:
            end = data.find(b"\n")
            if end < 0:
                return out
            self._discarding = False
            data = data[end + 1 :]
        buf = self._buf + data if self._buf else data
        limit = self.limit
        start = 0
        while (end := buf.find(b"\n", start)) >= 0:
            line = buf[start:end]
            if line.endswith(b"\r"):
                line = line[:-1]
            out.append(line if len(line) <= limit else OVERLONG)
            start = end + 1
        rest = buf[start:]
        # A trailing CR may yet be dropped by the LF that follows it.
        if len(rest) > limit and not (len(rest) == limit + 1 and rest.endswith(b"\r")):
            out.append(OVERLONG)
            self._discarding = True
            rest = b""
        self._buf = rest
        return out

    def flush(self) -> list[Item]:
        """Take the unterminated bytes as a line: the original client never sends a newline."""
        if not self._buf:
            return []
        line, self._buf = self._buf, b""
        if line.endswith(b"\r"):
            line = line[:-1]
        return [line] if line else []
