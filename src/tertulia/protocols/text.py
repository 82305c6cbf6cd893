"""Decoding lines of UTF-8 text, shared by the line-based codecs."""

from __future__ import annotations

from tertulia.core.errors import BadEncoding


def decode(line: bytes) -> str:
    """The line as text, or BadEncoding: invalid UTF-8 is refused, never guessed at."""
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        raise BadEncoding() from None
