"""nick!user@host masks, as IRC ban, exception and invite lists use them, on every door."""

from __future__ import annotations

import re
from functools import lru_cache

from tertulia.core.names import fold

MUTE = "m:"  # an extended ban: those it matches may join but not speak


def normalize(mask: str) -> str:
    """Complete a partial mask the way IRC servers do: `bob` is `bob!*@*`, `*@h` is `*!*@h`;
    a mute (`m:bob`) keeps its prefix."""
    if mask.startswith(MUTE):
        return MUTE + normalize(mask[len(MUTE) :])
    if "!" not in mask and "@" not in mask:
        return f"{mask}!*@*"
    if "!" not in mask:
        return f"*!{mask}"
    if "@" not in mask:
        return f"{mask}@*"
    return mask


@lru_cache(maxsize=1024)
def _pattern(mask: str) -> re.Pattern[str]:
    # '*' is any run of characters and '?' any one; everything else is literal.
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in fold(mask))
    return re.compile(body, re.DOTALL)


def matches(mask: str, full: str) -> bool:
    """Whether `nick!user@host` matches `mask`, ignoring case as nicks do."""
    return _pattern(mask).fullmatch(fold(full)) is not None
