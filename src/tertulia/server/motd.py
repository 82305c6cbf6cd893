"""The message of the day: the `motd` setting or the `motd_file` it names, as lines fit to
show on every door."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tertulia.config import MOTD_LIMIT, Settings

MAX_LINES = 100  # past these, a message of the day is a document: link to it instead


def read(settings: Settings, clean: Callable[[str], str]) -> tuple[str, ...]:
    """The lines to show, each made fit by `clean` (no terminal controls or hidden
    characters, a bounded length); OSError when the file cannot be read."""
    text = settings.motd
    if settings.motd_file:
        with Path(settings.motd_file).open("rb") as file:
            text = file.read(MOTD_LIMIT).decode("utf-8", errors="replace")
    return lines(text, clean)


def lines(text: str, clean: Callable[[str], str]) -> tuple[str, ...]:
    """`text` as lines, without the blank ones at either end."""
    found = [clean(line) for line in text.splitlines()[:MAX_LINES]]
    while found and not found[-1]:
        found.pop()
    while found and not found[0]:
        found.pop(0)
    return tuple(found)
