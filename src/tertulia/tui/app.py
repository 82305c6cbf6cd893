"""The Textual chat app: rooms with unread counts, log, members, input line and status bar."""

from __future__ import annotations

import asyncio
import itertools
import random
import ssl
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, ListItem, ListView, RichLog, Static

from tertulia.client import events as ev
from tertulia.client.commands import LEAVE, LineChat
from tertulia.client.connection import ChatClient, ClientError
from tertulia.client.render import render
from tertulia.core.errors import N_
from tertulia.i18n import Translate
from tertulia.protocols import slash

BACKOFF_FIRST = 0.5  # seconds before the first reconnection attempt
BACKOFF_MAX = 30.0

# Colours that read on dark and light terminals; a nick keeps its colour everywhere.
PALETTE = (
    "red", "green", "yellow", "blue", "magenta", "cyan", "bright_red", "bright_green",
    "bright_blue", "bright_magenta", "bright_cyan", "dark_orange",
)  # fmt: skip


def nick_colour(nick: str) -> str:
    return PALETTE[zlib.crc32(nick.casefold().encode()) % len(PALETTE)]


def mentions(text: str, nick: str | None) -> bool:
    if not nick:
        return False
    words = {w.strip(".,:;!?¡¿()[]<>'\"@").casefold() for w in text.split()}
    return nick.casefold() in words


@dataclass
class RoomView:
    name: str
    lines: list[Text] = field(default_factory=list)
    members: set[str] = field(default_factory=set)
    unread: int = 0


def _common_prefix(words: list[str], at_least: int) -> str:
    first = words[0]
    size = at_least
    while size < len(first) and all(
        len(w) > size and w[size].casefold() == first[size].casefold() for w in words
    ):
        size += 1
    return first[:size]


# What Tab completes after a "/": the client library's commands, from the one registry.
COMMANDS = tuple("/" + name for name in slash.names(slash.Where.CLIENT, aliases=False))


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


class ChatApp(App[int]):
    """One connected client on screen; the network reaches the widgets as events."""

    CSS_PATH = "app.tcss"
    TITLE = "tertulia"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "leave", "quit", priority=True),
        Binding("pageup", "scroll(-1)", show=False),
        Binding("pagedown", "scroll(1)", show=False),
        Binding("ctrl+n", "switch(1)", "next room"),
        Binding("ctrl+p", "switch(-1)", "previous room"),
    ]

    def __init__(
        self,
        client: ChatClient,
        address: tuple[str, int],
        room: str,
        tr: Translate,
        clock: Callable[[], str] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.address = address
        self.tls = tls  # reconnections go over TLS too
        self.server_name = f"{address[0]}:{address[1]}" + (" TLS" if tls else "")
        self.clock = clock or (lambda: time.strftime("%H:%M"))
        self.leaving = False
        self.tr = tr
        self.rooms: dict[str, RoomView] = {}
        self.current = room
        self.rtt_ms: float | None = None
        self.chat = LineChat(client, room, tr, out=self.show_notice)
        if client.welcome is not None:
            for state in client.welcome.rooms:
                self.rooms[state.room] = RoomView(state.room, members=set(state.members))
        self.rooms.setdefault(room, RoomView(room))

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield ListView(id="rooms")
            with Vertical(id="centre"):
                yield RichLog(id="log", wrap=True, markup=False, auto_scroll=True)
                yield HistoryInput(id="input", placeholder=self.tr(N_("Type a message")))
            yield Static(id="members")
        yield Static(id="status")

    async def on_mount(self) -> None:
        self.query_one("#rooms", ListView).can_focus = False
        self.query_one("#log", RichLog).can_focus = False
        box = self.query_one("#input", HistoryInput)
        box.candidates = self.completions
        box.focus()
        self.refresh_rooms()
        self.refresh_members()
        self.refresh_status()
        self.listen()
        self.set_interval(10, self.measure_rtt)
        self.measure_rtt()

    def completions(self) -> list[str]:
        nicks = set(self.room(self.current).members) - {self.client.nick or ""}
        return [*nicks, *COMMANDS, *self.rooms]

    # -- the network --------------------------------------------------------------------

    @work(exclusive=True, group="listen")
    async def listen(self) -> None:
        while True:
            async for event in self.client.events():
                self.on_chat_event(event)
            if self.leaving:
                return
            self.show_notice("* " + self.tr(N_("the server closed the connection")))
            self.refresh_status()
            await self.reconnect()

    async def reconnect(self) -> None:
        """Try again with exponential backoff and jitter, keeping the nick and the rooms."""
        nick = self.client.nick or ""
        rooms = list(self.rooms)
        for attempt in itertools.count():
            delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2**attempt) * random.uniform(0.5, 1.5)
            self.show_notice("* " + self.tr(N_("reconnecting in {seconds:.1f} s")).format(
                seconds=delay))  # fmt: skip
            await asyncio.sleep(delay)  # the backoff itself, not a synchronisation
            try:
                client = await ChatClient.open(*self.address, tls=self.tls)
            except (OSError, TimeoutError):
                continue
            try:
                await client.hello(nick)
                for room in rooms:
                    await client.join(room)
            except ClientError as err:
                self.show_notice(f"! {err}")
                await client.close()
                continue
            self.client = self.chat.client = client
            self.show_notice("* " + self.tr(N_("reconnected as {nick}")).format(nick=nick))
            self.refresh_status()
            self.measure_rtt()
            return

    @work(exclusive=True, group="rtt")
    async def measure_rtt(self) -> None:
        try:
            self.rtt_ms = await self.client.ping() * 1000
        except ClientError:
            self.rtt_ms = None
        self.refresh_status()

    def on_chat_event(self, event: ev.Event) -> None:
        me = self.client.nick
        match event:
            case ev.Message():
                self.add_line(event.room, self.message_text(event.sender, event.text, event.kind))
                if event.sender != me and mentions(event.text, me):
                    self.bell()
            case ev.History():
                view = self.room(event.room)
                seen = view.unread
                for m in event.messages:
                    line = self.message_text(m.sender, m.text, m.kind, m.ts)
                    line.stylize("dim")
                    self.add_line(event.room, line)
                view.unread = seen  # what was said before you came is not unread
                self.refresh_rooms()
            case ev.Private():
                other = event.sender if event.sender != me else event.to
                self.add_line(self.current, self.message_text(
                    f"{event.sender} → {other}", event.text, event.kind))  # fmt: skip
                self.bell()
            case ev.Joined():
                self.rooms.setdefault(event.room, RoomView(event.room)).members.add(event.nick)
                self.add_line(event.room, self.notice_text(render(event, me, self.tr)))
            case ev.Parted() | ev.Kicked():
                self.room(event.room).members.discard(event.nick)
                self.add_line(event.room, self.notice_text(render(event, me, self.tr)))
                if isinstance(event, ev.Kicked) and event.nick == me and len(self.rooms) > 1:
                    self.show_notice(render(event, me, self.tr) or "")
                    del self.rooms[event.room]
                    self.switch_to(next(iter(self.rooms)))
            case ev.Quit() | ev.NickChanged():
                old = event.nick if isinstance(event, ev.Quit) else event.old
                for view in self.rooms.values():
                    if old in view.members:
                        view.members.discard(old)
                        if isinstance(event, ev.NickChanged):
                            view.members.add(event.new)
                        self.add_line(view.name, self.notice_text(render(event, me, self.tr)))
            case _:
                self.show_notice(render(event, me, self.tr) or "")
        self.refresh_members()

    # -- what the user types --------------------------------------------------------------

    @on(Input.Submitted, "#input")
    async def submitted(self, message: Input.Submitted) -> None:
        box = self.query_one("#input", HistoryInput)
        line = message.value
        box.remember(line)
        box.value = ""
        if not line.strip():
            return
        before = self.chat.room
        if self.client.closed.is_set():
            self.show_notice("! " + self.tr(N_("not connected: not sent")))
            return
        if await self.chat.handle(line) == LEAVE:
            await self.action_leave()
            return
        if not line.startswith("/") or line.startswith(("//", "/me ")):
            kind = "action" if line.startswith("/me ") else "message"
            text = line[4:] if kind == "action" else line.removeprefix("/")
            self.add_line(self.current, self.message_text(self.client.nick or "", text, kind))
        if line.split(" ", 1)[0].lower() == "/part" and len(self.rooms) > 1:
            # The room is left: drop its tab and show the next one.
            del self.rooms[before]
            self.switch_to(next(iter(self.rooms)))
            return
        if self.chat.room != before:
            view = self.rooms.setdefault(self.chat.room, RoomView(self.chat.room))
            try:
                reply = await self.client.who(view.name)
                view.members = set(reply.data.get("members", ()))
            except ClientError:
                pass
            self.switch_to(self.chat.room)

    async def action_leave(self) -> None:
        self.leaving = True
        await self.client.quit()
        self.exit(0)

    def action_scroll(self, pages: int) -> None:
        log = self.query_one("#log", RichLog)
        if pages < 0:
            log.scroll_page_up()
        else:
            log.scroll_page_down()

    def action_switch(self, step: int) -> None:
        names = list(self.rooms)
        if len(names) > 1:
            self.switch_to(names[(names.index(self.current) + step) % len(names)])

    @on(ListView.Selected, "#rooms")
    def picked(self, message: ListView.Selected) -> None:
        name = message.item.name
        if name:
            self.switch_to(name)
            self.query_one("#input", HistoryInput).focus()

    # -- drawing --------------------------------------------------------------------------

    def room(self, name: str) -> RoomView:
        return self.rooms.setdefault(name, RoomView(name))

    def switch_to(self, name: str) -> None:
        self.current = self.chat.room = name
        view = self.room(name)
        view.unread = 0
        log = self.query_one("#log", RichLog)
        log.clear()
        for line in view.lines:
            log.write(line)
        self.refresh_rooms()
        self.refresh_members()
        self.refresh_status()

    def add_line(self, room: str, text: Text) -> None:
        view = self.room(room)
        view.lines.append(text)
        if room == self.current:
            self.query_one("#log", RichLog).write(text)
        else:
            view.unread += 1
        self.refresh_rooms()

    def show_notice(self, line: str) -> None:
        if line:
            self.add_line(self.current, self.notice_text(line))

    def stamp(self, ts: float | None = None) -> Text:
        when = self.clock() if ts is None else time.strftime("%H:%M", time.localtime(ts))
        return Text(when + " ", style="dim")

    def message_text(self, sender: str, body: str, kind: str, ts: float | None = None) -> Text:
        line = self.stamp(ts)
        colour = nick_colour(sender.split(" ")[0])
        if kind == "action":
            line.append(f"* {sender} ", style=f"italic {colour}")
            line.append(body, style="italic")
        else:
            line.append(f"<{sender}> ", style=f"bold {colour}")
            line.append(body)
        me = self.client.nick
        if sender != me and mentions(body, me):
            line.stylize("reverse")
        return line

    def notice_text(self, body: str | None) -> Text:
        line = self.stamp()
        line.append(body or "", style="dim italic" if (body or "").startswith("*") else "bold red")
        return line

    def refresh_rooms(self) -> None:
        rooms = self.query_one("#rooms", ListView)
        rooms.clear()
        for view in self.rooms.values():
            label = view.name + (f" ({view.unread})" if view.unread else "")
            style = "bold reverse" if view.name == self.current else ""
            rooms.append(ListItem(Static(Text(label, style=style)), name=view.name))

    def refresh_members(self) -> None:
        members = sorted(self.room(self.current).members, key=str.casefold)
        text = Text()
        for nick in members:
            text.append(nick + "\n", style=nick_colour(nick))
        self.query_one("#members", Static).update(text)

    def refresh_status(self) -> None:
        state = self.tr(N_("disconnected")) if self.client.closed.is_set() else self.tr(
            N_("connected"))  # fmt: skip
        rtt = f"{self.rtt_ms:.0f} ms" if self.rtt_ms is not None else "-"
        self.query_one("#status", Static).update(
            f" {state} · {self.server_name} · {self.client.nick} · {self.current} · rtt {rtt}"
        )
