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

    Feeding is linear in the bytes fed, however they are split: the bytes of an unfinished
    line are kept in a bytearray that grows in place, and only new bytes are searched for
    the LF (the buffered ones hold none). A line sent one byte at a time would otherwise
    cost a copy of all it had so far on every byte. Each search and copy reports its size
    to `_tally`, which does nothing here; the tests count with it.
    """

    __slots__ = ("_buf", "_discarding", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        # Most connections sit idle between whole lines: they hold no buffer at all.
        self._buf: bytearray | None = None
        self._discarding = False

    @property
    def pending(self) -> bool:
        """True when bytes of an unterminated line are buffered."""
        return self._buf is not None

    @property
    def buffered(self) -> int:
        """How many bytes of an unterminated line are buffered."""
        return 0 if self._buf is None else len(self._buf)

    def _tally(self, size: int) -> None:
        """`size` bytes were searched or copied (a hook for tests; costs nothing here)."""

    def feed(self, data: bytes) -> list[Item]:
        out: list[Item] = []
        limit = self.limit
        start = 0
        if self._discarding:
            end = data.find(b"\n")
            self._tally(len(data) if end < 0 else end + 1)
            if end < 0:
                return out
            self._discarding = False
            start = end + 1
        buf = self._buf
        if buf is not None:
            # The buffered bytes hold no LF: only the new ones are searched.
            end = data.find(b"\n", start)
            if end < 0:
                self._tally(len(data) - start)
                if self._keep(buf, data, start):
                    out.append(OVERLONG)
                return out
            self._tally(end + 1 - start)
            line_end = end - 1 if end > start and data[end - 1] == 13 else end  # before a CR
            if end == start and buf.endswith(b"\r"):
                del buf[-1]
            if len(buf) + line_end - start > limit:
                out.append(OVERLONG)
            else:
                # The rest of the buffered line, then the line as bytes: each copied once.
                buf += memoryview(data)[start:line_end]
                self._tally(line_end - start + len(buf))
                out.append(bytes(buf))
            self._buf = None
            start = end + 1
        while (end := data.find(b"\n", start)) >= 0:
            line = data[start:end]
            if line.endswith(b"\r"):
                line = line[:-1]
            self._tally(2 * (end + 1 - start))  # searched, then copied
            out.append(line if len(line) <= limit else OVERLONG)
            start = end + 1
        if start < len(data):
            self._tally(len(data) - start)
            if self._keep(bytearray(), data, start):
                out.append(OVERLONG)
        return out

    def _keep(self, buf: bytearray, data: bytes, start: int) -> bool:
        """Add data[start:] to the unterminated line in `buf`; True if that made it too
        long, and then it is dropped, with what follows up to the next LF."""
        if start == len(data):
            return False
        size = len(buf) + len(data) - start
        # A trailing CR may yet be dropped by the LF that follows it.
        if size > self.limit and not (size == self.limit + 1 and data.endswith(b"\r")):
            self._buf = None
            self._discarding = True
            return True
        self._tally(len(data) - start)
        buf += memoryview(data)[start:]
        self._buf = buf
        return False

    def flush(self) -> list[Item]:
        """Take the unterminated bytes as a line: the original client never sends a newline."""
        buf, self._buf = self._buf, None
        if buf is None:
            return []
        if buf.endswith(b"\r"):
            del buf[-1]
        self._tally(len(buf))
        return [bytes(buf)] if buf else []
