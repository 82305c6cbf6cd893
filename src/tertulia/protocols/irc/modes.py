"""Channel and user modes as IRC writes them: `+o-v ana bo` into changes, and back."""

from __future__ import annotations

from dataclasses import dataclass

LIST_MODES = "beI"  # ban, exception and invite lists
# CHANMODES in ISUPPORT: lists, always an argument, an argument when set, flags.
CHANMODES = "beI,k,l,imnst"
USER_MODES = "Biow"  # a bot, invisible, server operator (OPER only), hears WALLOPS
CHANNEL_MODES = "beIklimnostv"


@dataclass(frozen=True, slots=True)
class Change:
    adding: bool
    mode: str
    arg: str = ""


def takes_argument(mode: str, adding: bool) -> bool:
    """RFC 2812 3.2.3: o, v, k and the lists take one either way; l only when set."""
    return mode in "ovk" + LIST_MODES or (mode == "l" and adding)


def parse_changes(modes: str, args: list[str]) -> tuple[list[Change], list[str]]:
    """The changes in `modes` with their arguments, and the list modes asked to be shown
    (a list mode without an argument, such as `MODE #a +b`, is a query)."""
    changes: list[Change] = []
    queries: list[str] = []
    adding = True
    rest = list(args)
    for ch in modes:
        if ch in "+-":
            adding = ch == "+"
            continue
        if ch in LIST_MODES and not rest:
            if ch not in queries:
                queries.append(ch)
            continue
        arg = rest.pop(0) if takes_argument(ch, adding) and rest else ""
        changes.append(Change(adding, ch, arg))
    return changes, queries


def user_mode_changes(modes: str) -> list[Change]:
    changes: list[Change] = []
    adding = True
    for ch in modes:
        if ch in "+-":
            adding = ch == "+"
        else:
            changes.append(Change(adding, ch))
    return changes


def mode_string(flags: set[str] | str) -> str:
    return "+" + "".join(sorted(flags))
