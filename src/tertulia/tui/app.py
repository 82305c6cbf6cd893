"""The Textual chat app: rooms and private conversations with unread counts, the topic, the
log, members with their marks, the input line and the status bar."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import ssl
import time
from collections.abc import Callable
from typing import ClassVar, TypeVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, RichLog

from tertulia.client import events as ev
from tertulia.client.commands import LEAVE, UNSENT, LineChat, is_quit, is_room
from tertulia.client.connection import ChatClient, ClientError
from tertulia.client.render import render
from tertulia.core.errors import N_
from tertulia.i18n import Translate
from tertulia.protocols import slash
from tertulia.tui.model import SCROLLBACK, Conversation, Said, excerpt, fold
from tertulia.tui.widgets import (
    ConversationList,
    HistoryInput,
    NickList,
    StatusLine,
    TopicLine,
    nick_colour,
)

__all__ = ["COMMANDS", "ChatApp", "HistoryInput", "mentions", "nick_colour"]

W = TypeVar("W", bound=Widget)

BACKOFF_FIRST = 0.5  # seconds before the first reconnection attempt
BACKOFF_MAX = 30.0
TYPING_SECONDS = 6.0  # someone typing is shown this long after their last notice
TYPING_EVERY = 3.0  # we say we are typing at most this often
STAMP_WIDTH = 6  # "HH:MM "


def mentions(text: str, nick: str | None) -> bool:
    if not nick:
        return False
    words = {w.strip(".,:;!?¡¿()[]<>'\"@").casefold() for w in text.split()}
    return nick.casefold() in words


# What Tab completes after a "/": the client library's commands, from the one registry.
COMMANDS = tuple("/" + name for name in slash.names(slash.Where.CLIENT, aliases=False))


class ChatApp(App[int]):
    """One connected client on screen; the network reaches the app as Received messages."""

    CSS_PATH = "app.tcss"
    TITLE = "tertulia"
    # Textual's command palette would take Ctrl+P, which is "previous room" here.
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "leave", "quit", priority=True),
        Binding("pageup", "scroll(-1)", show=False),
        Binding("pagedown", "scroll(1)", show=False),
        Binding("ctrl+n", "switch(1)", "next room"),
        Binding("ctrl+p", "switch(-1)", "previous room"),
    ]

    class Received(Message):
        """Something the server said."""

        def __init__(self, event: ev.Event) -> None:
            super().__init__()
            self.event = event

    def __init__(
        self,
        client: ChatClient,
        address: tuple[str, int],
        room: str,
        tr: Translate,
        clock: Callable[[], str] | None = None,
        tls: ssl.SSLContext | None = None,
        scrollback: int = SCROLLBACK,
    ) -> None:
        super().__init__()
        self.client = client
        self.address = address
        self.tls = tls  # reconnections go over TLS too
        self.server_name = f"{address[0]}:{address[1]}" + (" TLS" if tls else "")
        self.clock = clock or (lambda: time.strftime("%H:%M"))
        self.leaving = False
        self.tr = tr
        self.scrollback = scrollback
        self.rooms: dict[str, Conversation] = {}
        self.away: set[str] = set()  # nicks that are away, in every room
        self.current = room
        self.rtt_ms: float | None = None
        self.backoff_first = BACKOFF_FIRST
        self.attempts = 0  # reconnection attempts since the connection was lost
        self.reconnecting = ""  # what the status says while reconnecting
        self.typing: dict[str, dict[str, float]] = {}  # conversation -> nick -> until
        self.chat = LineChat(client, room, tr, out=self.show_notice)
        self.chat.sent = self.sent
        self.chat.joined = self.joined
        self.chat.closed = self.closed
        self.chat.reacted = self.reacted
        self.chat.nth_last = self.nth_last
        self.typing_sent = 0.0  # when we last said we are typing (monotonic), 0: not since
        if client.welcome is not None:
            self.apply_welcome(client.welcome)
        self.room(room)
        # The message of the day once, in the first room: not again at each reconnection.
        for line in client.welcome.motd if client.welcome else ():
            self.room(room).add(self.notice_text("* " + line))  # drawn when the log mounts

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield ConversationList(id="rooms")
            with Vertical(id="centre"):
                yield TopicLine(id="topic")
                yield RichLog(
                    id="log", wrap=True, markup=False, auto_scroll=True,
                    max_lines=self.scrollback, min_width=20,
                )  # fmt: skip
                yield HistoryInput(id="input", placeholder=self.tr(N_("Type a message")))
            yield NickList(id="members")
        yield StatusLine(id="status")

    async def on_mount(self) -> None:
        self.query_one("#rooms", ConversationList).can_focus = False
        self.query_one("#log", RichLog).can_focus = False
        box = self.query_one("#input", HistoryInput)
        box.candidates = self.completions
        box.focus()
        self.switch_to(self.current)
        self.listen()
        self.set_interval(10, self.measure_rtt)
        self.measure_rtt()

    def completions(self) -> list[str]:
        nicks = set(self.room(self.current).members) - {self.client.nick or ""}
        partners = [v.name for v in self.rooms.values() if v.private]
        return [*nicks, *partners, *COMMANDS, *(v.name for v in self.rooms.values())]

    # -- the network --------------------------------------------------------------------

    @work(exclusive=True, group="listen")
    async def listen(self) -> None:
        while True:
            async for event in self.client.events():
                self.post_message(self.Received(event))
            if self.leaving:
                return
            self.show_notice("* " + self.tr(N_("the server closed the connection")))
            self.refresh_status()
            await self.reconnect()

    async def reconnect(self) -> None:
        """Try again with exponential backoff and jitter, keeping the nick and the rooms.

        The status line says when the next attempt is; the log gets one line when the
        connection is lost and one when it is back, however many attempts it takes.
        """
        nick = self.client.nick or ""
        rooms = [v.name for v in self.rooms.values() if not v.private]
        for attempt in itertools.count(1):
            self.attempts = attempt
            delay = min(BACKOFF_MAX, self.backoff_first * 2 ** (attempt - 1))
            delay *= random.uniform(0.5, 1.5)
            self.reconnecting = self.tr(
                N_("reconnecting in {seconds:.1f} s (attempt {attempt})")
            ).format(seconds=delay, attempt=attempt)
            self.refresh_status()
            await asyncio.sleep(delay)  # the backoff itself, not a synchronisation
            try:
                client = await ChatClient.open(*self.address, tls=self.tls)
            except (OSError, TimeoutError):
                continue
            try:
                welcome = await client.hello(nick)
                states = [await client.join(room) for room in rooms]
            except ClientError as err:
                self.reconnecting = str(err)
                self.refresh_status()
                await client.close()
                continue
            self.client = self.chat.client = client
            self.apply_welcome(welcome)
            for reply in states:
                self.apply_state(ev.room_state(reply.data))
            self.reconnecting = ""
            self.attempts = 0
            self.show_notice("* " + self.tr(N_("reconnected as {nick}")).format(nick=nick))
            self.switch_to(self.current if self.current in self.rooms else next(iter(self.rooms)))
            self.measure_rtt()
            return

    @work(exclusive=True, group="rtt")
    async def measure_rtt(self) -> None:
        try:
            self.rtt_ms = await self.client.ping() * 1000
        except ClientError:
            self.rtt_ms = None
        self.refresh_status()

    def apply_welcome(self, welcome: ev.Welcome) -> None:
        for state in welcome.rooms:
            self.apply_state(state)

    def apply_state(self, state: ev.RoomState) -> None:
        view = self.room(state.room)
        view.set_state(state.topic, state.members, state.operators, state.voiced)
        self.away -= set(state.members) - set(state.away)
        self.away |= set(state.away)

    @on(Received)
    def received(self, message: Received) -> None:
        self.on_chat_event(message.event)

    def on_chat_event(self, event: ev.Event) -> None:
        me = self.client.nick
        match event:
            case ev.Message():
                view = self.room(event.room)
                self.stop_typing(view.name, event.sender)
                self.add_said(view, event.msgid, event.sender, event.text, event.kind,
                              reply_to=event.reply_to)  # fmt: skip
                if event.sender != me and mentions(event.text, me):
                    self.bell()
            case ev.History():
                view = self.room(event.room)
                seen = view.unread
                for m in event.messages:
                    reactions = {r.emoji: list(r.senders) for r in m.reactions}
                    self.add_said(view, m.msgid, m.sender, m.text, m.kind, m.ts, m.reply_to,
                                  reactions, old=True)  # fmt: skip
                view.unread = seen  # what was said before you came is not unread
                self.refresh_rooms()
            case ev.Private():
                view = self.private(event.sender if not self.is_me(event.sender) else event.to)
                self.stop_typing(view.name, event.sender)
                new = self.add_said(
                    view, event.msgid, event.sender, event.text, event.kind,
                    reply_to=event.reply_to,
                )  # fmt: skip
                if new and not self.is_me(event.sender):
                    self.bell()
            case ev.Joined():
                self.room(event.room).members.add(event.nick)
                self.add_line(event.room, self.notice_text(render(event, me, self.tr)))
            case ev.Parted() | ev.Kicked():
                self.room(event.room).drop(event.nick)
                self.add_line(event.room, self.notice_text(render(event, me, self.tr)))
                if isinstance(event, ev.Kicked) and event.nick == me and len(self.rooms) > 1:
                    self.show_notice(render(event, me, self.tr) or "")
                    self.closed(event.room)
            case ev.Quit():
                self.away.discard(event.nick)
                for view in list(self.rooms.values()):
                    if view.drop(event.nick) or self.partner(view, event.nick):
                        self.add_line(view.name, self.notice_text(render(event, me, self.tr)))
            case ev.NickChanged():
                if event.old in self.away:
                    self.away.discard(event.old)
                    self.away.add(event.new)
                for view in list(self.rooms.values()):
                    if self.partner(view, event.old):
                        self.rename_private(view, event.new)
                    if view.rename(event.old, event.new) or self.partner(view, event.new):
                        self.add_line(view.name, self.notice_text(render(event, me, self.tr)))
            case ev.TopicChanged():
                self.room(event.room).topic = event.topic
                self.add_line(event.room, self.notice_text(render(event, me, self.tr)))
                self.refresh_topic()
            case ev.ModeChanged():
                self.room(event.room).apply_modes(event.modes, event.args)
                self.add_line(event.room, self.notice_text(render(event, me, self.tr)))
            case ev.AwayChanged():
                if event.message:
                    self.away.add(event.nick)
                else:
                    self.away.discard(event.nick)
                talk = self.find(event.nick)
                if talk is not None:  # said where it matters: your conversation with them
                    self.add_line(talk.name, self.notice_text(self.away_line(event)))
            case ev.Reaction():
                self.react(self.where(event.room, event.sender, event.to), event)
            case ev.Typing():
                self.typed(self.where(event.room, event.sender, event.to), event)
            case ev.Redaction():
                self.redacted(event)
            case _:
                self.show_notice(render(event, me, self.tr) or "")
        self.refresh_members()

    # -- conversations ------------------------------------------------------------------

    def is_me(self, nick: str) -> bool:
        return fold(nick) == fold(self.client.nick or "")

    def partner(self, view: Conversation, nick: str) -> bool:
        return view.private and fold(view.name) == fold(nick)

    def find(self, nick: str) -> Conversation | None:
        """The private conversation with `nick`, if there is one."""
        return next((v for v in self.rooms.values() if self.partner(v, nick)), None)

    def private(self, nick: str) -> Conversation:
        """The private conversation with `nick`, opened if new."""
        view = self.find(nick)
        if view is None:
            view = self.rooms[nick] = Conversation(nick, True, self.scrollback)
            view.members = {nick, self.client.nick or ""} - {""}
            self.refresh_rooms()
        return view

    def where(self, room: str, sender: str, to: str) -> Conversation | None:
        """The conversation an event about a message belongs to, if it is open."""
        if room:
            return self.rooms.get(room)
        return self.find(sender if not self.is_me(sender) else to)

    def rename_private(self, view: Conversation, new: str) -> None:
        old = view.name
        view.name = new
        view.members = {new, self.client.nick or ""} - {""}
        self.rooms = {(new if k == old else k): v for k, v in self.rooms.items()}
        if self.current == old:
            self.current = self.chat.target = new
        self.refresh_rooms()

    def sent(self, target: str, text: str, kind: str, reply: ev.Reply, reply_to: str) -> None:
        """A line of ours the server took: shown where it went, with its msgid."""
        view = self.room(target) if is_room(target) else self.private(target)
        msgid = str(reply.data.get("msgid") or "")
        # Stamped by the clock on screen, as what others say live is.
        self.add_said(view, msgid, self.client.nick or "", text, kind, reply_to=reply_to)
        if view.name != self.current:
            self.switch_to(view.name)  # a /msg opens the conversation it started

    def reacted(self, target: str, msgid: str, emoji: str) -> None:
        """A reaction of ours the server took (it sends none back to us)."""
        me = self.client.nick or ""
        where = (target, "") if is_room(target) else ("", target)
        self.react(self.where(where[0], me, where[1]), ev.Reaction(me, msgid, emoji, *where))

    def nth_last(self, name: str, n: int) -> str | None:
        """The msgid `/reply N` and `/react N` mean: the n-th last message on screen there."""
        view = self.rooms.get(name)
        said = view.nth_last(n) if view is not None else None
        return said.msgid if said is not None else None

    def joined(self, reply: ev.Reply) -> None:
        state = ev.room_state(reply.data)
        self.apply_state(state)
        self.switch_to(state.room)

    def closed(self, name: str) -> None:
        """A room left or a conversation closed: its tab goes; the next one shows."""
        if name in self.rooms and len(self.rooms) > 1:
            del self.rooms[name]
            self.switch_to(next(iter(self.rooms)))

    def react(self, view: Conversation | None, event: ev.Reaction) -> None:
        said = view.said.get(event.msgid) if view is not None else None
        if view is None or said is None:
            return
        who = said.reactions.setdefault(event.emoji, [])
        if event.sender not in who:
            who.append(event.sender)
        if view.replace(said, self.said_text(view, said)) and view.name == self.current:
            self.redraw()

    def redacted(self, event: ev.Redaction) -> None:
        """A message taken back: off the screen, and no longer quoted by replies to it."""
        view = self.rooms.get(event.room)
        if view is None or not view.remove(event.msgid):
            return
        for said in list(view.said.values()):
            if said.reply_to == event.msgid:
                view.replace(said, self.said_text(view, said))
        if view.name == self.current:
            self.redraw()

    def typed(self, view: Conversation | None, event: ev.Typing) -> None:
        if view is None:
            return
        if event.state == "active":
            until = time.monotonic() + TYPING_SECONDS
            self.typing.setdefault(view.name, {})[event.sender] = until
            self.set_timer(TYPING_SECONDS, self.refresh_status)
        else:
            self.stop_typing(view.name, event.sender)
        self.refresh_status()

    def stop_typing(self, name: str, nick: str) -> None:
        if self.typing.get(name, {}).pop(nick, None) is not None:
            self.refresh_status()

    # -- what the user types --------------------------------------------------------------

    @on(Input.Submitted, "#input")
    async def submitted(self, message: Input.Submitted) -> None:
        box = self.query_one("#input", HistoryInput)
        line = message.value
        if not line.strip():
            return
        box.remember(line)
        if is_quit(line):  # leaving needs no connection
            await self.action_leave()
            return
        if self.client.closed.is_set():
            # Kept in the input, to send with Enter once the connection is back.
            self.show_notice("! " + self.tr(N_("not connected: your text stays in the input")))
            return
        box.value = ""
        result = await self.chat.handle(line)
        if result == LEAVE:
            await self.action_leave()
        elif result == UNSENT and not box.value:
            box.value = line  # the connection went while it was sent: keep it

    @on(Input.Changed, "#input")
    def changed(self, message: Input.Changed) -> None:
        """Tell the conversation we are typing (at most every 3 s), and when we stop."""
        if self.client.closed.is_set():
            return
        text = message.value
        command = text.startswith("/") and not text.startswith(("//", "/me ", "/reply "))
        now = time.monotonic()
        if text.strip() and not command:
            if now - self.typing_sent >= TYPING_EVERY:
                self.typing_sent = now
                self.send_typing(self.current, "active")
        elif self.typing_sent:
            self.typing_sent = 0.0
            self.send_typing(self.current, "done")

    @work(group="typing")
    async def send_typing(self, target: str, state: str) -> None:
        with contextlib.suppress(ClientError):  # a notice that could not go is not worth a line
            await self.client.typing(target, state)

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

    @on(ConversationList.Picked)
    def picked(self, message: ConversationList.Picked) -> None:
        self.switch_to(message.conversation)
        self.query_one("#input", HistoryInput).focus()

    # -- drawing --------------------------------------------------------------------------

    def room(self, name: str) -> Conversation:
        view = self.rooms.get(name)
        if view is None:
            view = self.rooms[name] = Conversation(name, not is_room(name), self.scrollback)
        return view

    def switch_to(self, name: str) -> None:
        self.current = self.chat.target = name
        view = self.room(name)
        if not view.private:
            self.chat.room = name
        view.unread = 0
        self.redraw()
        self.refresh_rooms()
        self.refresh_topic()
        self.refresh_members()
        self.refresh_status()

    def widget(self, selector: str, kind: type[W]) -> W | None:
        """The widget to draw on; None once the app is closing (a reconnection attempt or
        an event may still come in while the screen goes)."""
        try:
            return self.query_one(selector, kind)
        except NoMatches:
            return None

    def redraw(self) -> None:
        log = self.widget("#log", RichLog)
        if log is None:
            return
        log.clear()
        for line in self.room(self.current).lines:
            log.write(line)

    def add_line(self, room: str, text: Text, said: Said | None = None) -> None:
        view = self.room(room)
        view.add(text, said)
        if room != self.current:
            view.unread += 1
        elif (log := self.widget("#log", RichLog)) is not None:
            log.write(text)
        self.refresh_rooms()

    def add_said(
        self,
        view: Conversation,
        msgid: str,
        sender: str,
        text: str,
        kind: str,
        ts: float | None = None,
        reply_to: str = "",
        reactions: dict[str, list[str]] | None = None,
        old: bool = False,
    ) -> bool:
        """A message in `view`, unless it is there already (False): the server replays
        a room's last messages after a reconnection."""
        if view.seen(msgid):
            return False
        said = Said(msgid, sender, text, kind, ts, reply_to, reactions or {}, old)
        self.add_line(view.name, self.said_text(view, said), said)
        return True

    def show_notice(self, line: str) -> None:
        if line:
            self.add_line(self.current, self.notice_text(line))

    def stamp(self, ts: float | None = None) -> Text:
        when = self.clock() if ts is None else time.strftime("%H:%M", time.localtime(ts))
        return Text(when + " ", style="dim")

    def said_text(self, view: Conversation, said: Said) -> Text:
        """A message's line: what it answers above it, its reactions after it."""
        line = Text()
        if said.reply_to:
            quoted = view.said.get(said.reply_to)
            what = (
                f"{quoted.sender}: {excerpt(quoted.text)}"
                if quoted
                else self.tr(N_("an earlier message"))
            )
            line.append(" " * STAMP_WIDTH + "↪ " + what + "\n", style="dim")
        line.append_text(self.message_text(said.sender, said.text, said.kind, said.ts))
        for emoji, who in said.reactions.items():
            names = ", ".join(who) if len(who) <= 3 else str(len(who))
            line.append(f"  {emoji} {names}", style="dim")
        if said.old:
            line.stylize("dim")
        return line

    def message_text(self, sender: str, body: str, kind: str, ts: float | None = None) -> Text:
        line = self.stamp(ts)
        colour = nick_colour(sender)
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

    def away_line(self, event: ev.AwayChanged) -> str:
        if event.message:
            return "* " + self.tr(N_("{nick} is away: {message}")).format(
                nick=event.nick, message=event.message
            )
        return "* " + self.tr(N_("{nick} is back")).format(nick=event.nick)

    def refresh_rooms(self) -> None:
        rooms = self.widget("#rooms", ConversationList)
        if rooms is not None:
            rooms.show(self.rooms.values(), self.current)

    def refresh_topic(self) -> None:
        topic = self.widget("#topic", TopicLine)
        if topic is not None:
            topic.show(self.room(self.current), self.tr)

    def refresh_members(self) -> None:
        members = self.widget("#members", NickList)
        if members is not None:
            members.show(self.room(self.current), self.away)

    def refresh_status(self) -> None:
        closed = self.client.closed.is_set()
        state = self.tr(N_("disconnected")) if closed else self.tr(N_("connected"))
        rtt = f"{self.rtt_ms:.0f} ms" if self.rtt_ms is not None else "-"
        now = time.monotonic()
        typers = sorted(n for n, until in self.typing.get(self.current, {}).items() if until > now)
        typing = self.tr(N_("{nicks} typing…")).format(nicks=", ".join(typers)) if typers else ""
        status = self.widget("#status", StatusLine)
        if status is None:
            return
        status.show(
            state, self.server_name, self.client.nick or "", self.current, f"rtt {rtt}",
            self.reconnecting if closed else "", typing,
        )  # fmt: skip
