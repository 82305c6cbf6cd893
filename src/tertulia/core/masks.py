"""nick!user@host masks, as IRC ban, exception and invite lists use them, on every door."""

from __future__ import annotations

from functools import lru_cache

from tertulia.core.names import fold

MUTE = "m:"  # an extended ban: those it matches may join but not speak
MAX_MASK = 300  # characters of a mask or pattern; longer ones match nothing


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


@lru_cache(maxsize=8192)
def matches(mask: str, full: str) -> bool:
    """Whether `full` (a nick!user@host, a name) matches `mask`, ignoring case as nicks do:
    `*` is any run of characters, `?` any one.

    Strategy: one pass with a pointer into each string, going back only to just after the
    last `*` seen. A regular expression would backtrack into every earlier `*` too, and
    `*a*a*a…*b` against a long nick took seconds: anyone could stall the server with a
    WHO. This is at most len(mask) x len(full) steps, and repeated checks (the bans of a
    busy room, checked on every message) are remembered.
    """
    if len(mask) > MAX_MASK or len(full) > MAX_MASK:
        return False
    pattern, text = fold(mask), fold(full)
    p = t = 0
    star, resume = -1, 0
    while t < len(text):
        if p < len(pattern) and pattern[p] == "*":
            star, resume = p, t
            p += 1
        elif p < len(pattern) and pattern[p] in ("?", text[t]):
            p += 1
            t += 1
        elif star >= 0:
            p, resume = star + 1, resume + 1
            t = resume
        else:
            return False
    return all(c == "*" for c in pattern[p:])
