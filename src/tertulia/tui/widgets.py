"""The chat app's widgets: the conversation list, topic line, nick list, status line and the
input line. Each draws what it is given; their look is in app.tcss."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input, ListItem, ListView, Static

from tertulia.core.errors import N_
from tertulia.i18n import Translate
from tertulia.tui.model import Conversation, mark, ranked

# Colours that read on dark and light terminals; a nick keeps its colour everywhere.
PALETTE = (
    "red", "green", "yellow", "blue", "magenta", "cyan", "bright_red", "bright_green",
    "bright_blue", "bright_magenta", "bright_cyan", "dark_orange",
)  # fmt: skip


def nick_colour(nick: str) -> str:
    return PALETTE[zlib.crc32(nick.casefold().encode()) % len(PALETTE)]


class ConversationList(ListView):
    """Rooms and private conversations, with unread counts; picking one posts Picked."""

    class Picked(Message):
        def __init__(self, conversation: str) -> None:
            super().__init__()
            self.conversation = conversation

    def show(self, conversations: Iterable[Conversation], current: str) -> None:
        self.clear()
        for view in conversations:
            label = view.name + (f" ({view.unread})" if view.unread else "")
            style = "bold reverse" if view.name == current else ""
            self.append(ListItem(Static(Text(label, style=style)), name=view.name))

    @on(ListView.Selected)
    def _picked(self, message: ListView.Selected) -> None:
        message.stop()
        if message.item.name:
            self.post_message(self.Picked(message.item.name))


class TopicLine(Static):
    """The conversation's name and the room's topic, above its log."""

    def show(self, view: Conversation, tr: Translate) -> None:
        line = Text(view.name, style="bold")
        line.append("  ")
        if view.private:
            line.append(tr(N_("private conversation")), style="dim italic")
        elif view.topic:
            line.append(view.topic)
        else:
            line.append(tr(N_("no topic")), style="dim italic")
        self.update(line)


class NickList(Static):
    """The members of the room on screen: `@` operators and `+` voices first; away dim."""

    def show(self, view: Conversation, away: set[str]) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        for nick in ranked(view):
            style = nick_colour(nick)
            if nick in away:
                style = "dim italic"
            text.append(mark(view, nick), style="bold")
            text.append(nick + "\n", style=style)
        self.update(text)


class StatusLine(Static):
    """Connection, server, nick, conversation, round-trip time and what is going on."""

    def show(self, *parts: str) -> None:
        self.update(" " + " · ".join(p for p in parts if p))


def _common_prefix(words: list[str], at_least: int) -> str:
    first = words[0]
    size = at_least
    while size < len(first) and all(
        len(w) > size and w[size].casefold() == first[size].casefold() for w in words
    ):
        size += 1
    return first[:size]


class HistoryInput(Input):
    """An input line that remembers what was sent: up and down walk through it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "older", show=False),
        Binding("down", "newer", show=False),
        Binding("tab", "complete", show=False, priority=True),
    ]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.history: list[str] = []
        self._at = 0
        # What tab completes from: the app sets it to nicks, commands and room names.
        self.candidates: Callable[[], list[str]] = list

    def action_complete(self) -> None:
        """Complete the word before the cursor; a nick that starts the line gets ": "."""
        before = self.value[: self.cursor_position]
        start = before.rfind(" ") + 1
        word = before[start:]
        if not word:
            return
        matches = sorted(
            {c for c in self.candidates() if c.casefold().startswith(word.casefold())},
            key=str.casefold,
        )
        if not matches:
            return
        choice = matches[0] if len(matches) == 1 else _common_prefix(matches, len(word))
        if choice == word:
            return
        if len(matches) == 1 and start == 0 and not choice.startswith(("/", "#")):
            choice += ":"
        suffix = " " if len(matches) == 1 else ""
        self.value = before[:start] + choice + suffix + self.value[self.cursor_position :]
        self.cursor_position = start + len(choice) + len(suffix)

    def remember(self, line: str) -> None:
        if line and (not self.history or self.history[-1] != line):
            self.history.append(line)
        self._at = len(self.history)

    def action_older(self) -> None:
        if self._at > 0:
            self._at -= 1
            self.value = self.history[self._at]
            self.cursor_position = len(self.value)

    def action_newer(self) -> None:
        if self._at < len(self.history):
            self._at += 1
            self.value = self.history[self._at] if self._at < len(self.history) else ""
            self.cursor_position = len(self.value)
