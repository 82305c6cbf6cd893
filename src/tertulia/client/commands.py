"""Typed lines applied to a connected client: the / commands both terminal modes share."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any

from tertulia.client import events as ev
from tertulia.client.connection import ChatClient, ClientError, Disconnected
from tertulia.core.errors import N_, TertuliaError
from tertulia.i18n import Translate
from tertulia.protocols import jsonlines as jl
from tertulia.protocols import slash

LEAVE = "leave"
UNSENT = "unsent"  # the line could not go out: the connection is down

# What a line said through the client was, once the server took it: the conversation (a
# room, or a nick for a private message), the text, its kind, the server's reply (its
# msgid and time) and the msgid it answers ("" if none).
Sent = Callable[[str, str, str, ev.Reply, str], None]


def is_room(name: str) -> bool:
    """A room's name, as opposed to a nick (a private conversation): rooms start with '#'."""
    return name.startswith("#")


def is_quit(line: str) -> bool:
    """The line leaves (`/quit`, `#LOGOUT`): it needs no connection."""
    line = line.strip()
    if line == "#LOGOUT":
        return True
    if not line.startswith("/") or line.startswith("//"):
        return False
    known = slash.find(line[1:].split(" ", 1)[0], slash.Where.CLIENT)
    return known is not None and known.name == "quit"


class Recent:
    """The last messages of each conversation, by msgid: what `/reply N` and `/react N`
    count back through, and what a reply's or a reaction's line quotes."""

    def __init__(self, size: int = 200) -> None:
        self._size = size
        self._by: dict[str, OrderedDict[str, tuple[str, str]]] = {}

    def add(self, conversation: str, msgid: str, sender: str, text: str) -> None:
        if not msgid:
            return
        kept = self._by.setdefault(conversation.casefold(), OrderedDict())
        kept[msgid] = (sender, text)
        while len(kept) > self._size:
            kept.popitem(last=False)

    def get(self, conversation: str, msgid: str) -> tuple[str, str] | None:
        """(sender, text) of a message, if it is one of the last."""
        kept = self._by.get(conversation.casefold())
        return kept.get(msgid) if kept is not None else None

    def remove(self, conversation: str, msgid: str) -> None:
        self._by.get(conversation.casefold(), OrderedDict()).pop(msgid, None)

    def nth_last(self, conversation: str, n: int) -> str | None:
        """The msgid of the n-th last message (1 is the last one), if there is one."""
        kept = list(self._by.get(conversation.casefold()) or ())
        return kept[-n] if 0 < n <= len(kept) else None

    def hear(self, event: ev.Event, me: str | None) -> None:
        """Keep what `event` says, if it is a message (or takes one back)."""
        match event:
            case ev.Message():
                self.add(event.room, event.msgid, event.sender, event.text)
            case ev.Private():
                mine = (me or "").casefold() == event.sender.casefold()
                partner = event.to if mine else event.sender
                self.add(partner, event.msgid, event.sender, event.text)
            case ev.History():
                for m in event.messages:
                    self.add(event.room, m.msgid, m.sender, m.text)
            case ev.Redaction():
                self.remove(event.room, event.msgid)


class LineChat:
    """Applies typed lines to a connected client; what it has to say goes to `out`.

    The line mode prints it; the Textual app shows it in the current room's log. Text goes
    to `target`: the room on screen, or a nick in a private conversation (the Textual app
    has those); commands about a room use `room`, the last room on screen. Hooks tell the
    caller what changed: `sent` (a message went out), `joined` (a join's reply: the room,
    its topic and members) and `closed` (a room was left, or a conversation closed).
    """

    def __init__(
        self, client: ChatClient, room: str, tr: Translate, out: Callable[[str], None] | None = None
    ) -> None:
        self.client = client
        self.room = room
        self.target = room
        self.tr = tr
        self.out = out or _print
        self.sent: Sent | None = None
        self.joined: Callable[[ev.Reply], None] | None = None
        self.closed: Callable[[str], None] | None = None
        # A reaction of ours the server took: the conversation, the msgid and the emoji.
        self.reacted: Callable[[str, str, str], None] | None = None
        # The msgid `/reply N` and `/react N` mean in a conversation; the line mode counts
        # through `recent` (fed from the events it prints), the Textual app through its own.
        self.recent = Recent()
        self.nth_last: Callable[[str, int], str | None] = self.recent.nth_last
        self.commands: dict[str, Callable[[str], Awaitable[str | None]]] = {
            "join": self._join, "part": self._part, "msg": self._msg, "me": self._me,
            "nick": self._nick, "who": self._who, "rooms": self._rooms, "topic": self._topic,
            "help": self._help, "quit": self._quit, "history": self._history,
            "search": self._search, "register": self._register, "login": self._login,
            "password": self._password, "reply": self._reply, "react": self._react,
        }  # fmt: skip
        # The commands that are one request each (moderation) share one handler.
        for command in slash.commands(slash.Where.CLIENT):
            if command.request is not None and command.name not in self.commands:
                self.commands[command.name] = partial(self._request, command)

    async def handle(self, line: str) -> str | None:
        """Apply one typed line; returns LEAVE when the user is done, UNSENT when the
        connection was down (the caller may keep the line to send it again)."""
        line = line.rstrip("\r\n")
        if not line.strip():
            return None
        if line.strip() == "#LOGOUT":
            return LEAVE
        try:
            if line.startswith("/") and not line.startswith("//"):
                name, _, rest = line[1:].partition(" ")
                # The registry knows the names and aliases; this table only the handlers.
                known = slash.find(name, slash.Where.CLIENT)
                command = self.commands.get(known.name) if known else None
                if command is None:
                    self.out("! " + self.tr(N_("unknown command /{name}")).format(name=name))
                    return None
                return await command(rest.strip())
            await self._send(self.target, line.removeprefix("/"))
        except Disconnected:
            self.out("! " + self.tr(N_("not connected: not sent")))
            return UNSENT
        except ClientError as err:
            self.out(f"! {err}")
        return None

    async def _send(self, target: str, text: str, action: bool = False, reply_to: str = "") -> None:
        answers = int(reply_to) if reply_to.isdecimal() else None
        if is_room(target):
            reply = await self.client.say(target, text, action=action, reply_to=answers)
        else:
            reply = await self.client.tell(target, text, action=action, reply_to=answers)
            target = str(reply.data.get("to") or target)
        msgid = reply.data.get("msgid")
        self.recent.add(target, "" if msgid is None else str(msgid), self.client.nick or "", text)
        if self.sent is not None:
            self.sent(target, text, "action" if action else "message", reply, reply_to)

    def _numbered(self, arg: str, name: str) -> tuple[str, str] | None:
        """`N REST` of /reply and /react: the msgid N means here, and the rest; None (said
        why) if there is no such message or no rest."""
        n, _, rest = arg.partition(" ")
        if not n.isdecimal() or not rest.strip():
            usage = slash.find(name, slash.Where.CLIENT)
            assert usage is not None
            self.out("! " + self.tr(N_("usage: {usage}")).format(usage=usage.synopsis(self.tr)))
            return None
        msgid = self.nth_last(self.target, int(n))
        if not msgid or not msgid.isdecimal():
            self.out("! " + self.tr(N_("there is no message {n} here")).format(n=n))
            return None
        return msgid, rest.strip()

    async def _reply(self, arg: str) -> None:
        found = self._numbered(arg, "reply")
        if found is not None:
            await self._send(self.target, found[1], reply_to=found[0])

    async def _react(self, arg: str) -> None:
        found = self._numbered(arg, "react")
        if found is None:
            return
        msgid, emoji = found
        await self.client.react(self.target, int(msgid), emoji)
        if self.reacted is not None:
            self.reacted(self.target, msgid, emoji)

    async def _join(self, arg: str) -> None:
        reply = await self.client.join(arg or self.room)
        self.room = self.target = str(reply.data.get("room", arg))
        if self.joined is not None:
            self.joined(reply)
            return
        members = ", ".join(reply.data.get("members", ()))
        self.out("* " + self.tr(N_("you are in {room}: {members}")).format(
            room=self.room, members=members))  # fmt: skip

    async def _part(self, arg: str) -> None:
        left = self.target
        if is_room(left):  # a private conversation is only closed, nobody is told
            await self.client.part(left, arg)
        if self.closed is not None:
            self.closed(left)

    async def _msg(self, arg: str) -> None:
        to, _, text = arg.partition(" ")
        await self._send(to, text)

    async def _me(self, arg: str) -> None:
        await self._send(self.target, arg, action=True)

    async def _nick(self, arg: str) -> None:
        await self.client.change_nick(arg)

    async def _who(self, arg: str) -> None:
        reply = await self.client.who(arg or self.room)
        members = ", ".join(reply.data.get("members", ()))
        self.out(f"* {reply.data.get('room', arg)}: {members}")

    async def _rooms(self, arg: str) -> None:
        reply = await self.client.rooms()
        for info in reply.data.get("rooms", ()):
            self.out(f"* {info['room']} ({info['members']}) {info.get('topic') or ''}".rstrip())

    async def _topic(self, arg: str) -> None:
        reply = await self.client.topic(self.room, arg or None)
        self.out(f"* {reply.data.get('room')}: {reply.data.get('topic') or ''}".rstrip())

    async def _history(self, arg: str) -> None:
        count = int(arg) if arg.isdigit() else 50
        reply = await self.client.history(self.room, None, max(1, min(count, 200)))
        self._stored(reply.data.get("messages", ()))

    async def _search(self, arg: str) -> None:
        reply = await self.client.search(self.room, arg)
        found = reply.data.get("messages", ())
        if not found:
            self.out("* " + self.tr(N_("nothing found in {room}")).format(room=self.room))
        self._stored(found)

    def _stored(self, messages: Iterable[dict[str, Any]]) -> None:
        for m in messages:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(m["ts"])))
            nick, text = m["from"], m["text"]
            said = f"* {nick} {text}" if m["kind"] == "action" else f"[{nick}] {text}"
            self.out(f"{when} {said}")

    async def _register(self, arg: str) -> None:
        reply = await self.client.register(arg)
        account = reply.data.get("account", "")
        self.out("* " + self.tr(N_("you are logged in as {account}")).format(account=account))

    async def _login(self, arg: str) -> None:
        nick, _, password = arg.partition(" ")
        reply = await self.client.login(nick, password.strip())
        account = reply.data.get("account", "")
        self.out("* " + self.tr(N_("you are logged in as {account}")).format(account=account))

    async def _password(self, arg: str) -> None:
        old, _, new = arg.partition(" ")
        await self.client.change_password(old, new.strip())
        self.out("* " + self.tr(N_("password changed")))

    async def _request(self, command: slash.Slash, arg: str) -> None:
        try:
            request = jl.request_from(slash.fill(command, arg, self.room))
        except TertuliaError as err:
            self.out("! " + err.render(self.tr))
            return
        reply = await self.client.call(request)
        data = reply.data
        done = self.tr(N_("done"))
        if "bans" in data and "room" not in data:
            self.out(f"* {done}: {len(data['bans'])}")
            for ban in data["bans"]:
                self.out(f"* {ban['mask']} {ban['by']}: {ban['reason']}")
            return
        shown = [str(v) for v in data.values() if v not in ("", None) and not isinstance(v, list)]
        self.out(f"* {done}" + (": " + " · ".join(shown) if shown else ""))

    async def _help(self, arg: str) -> None:
        for line in slash.help_lines(slash.Where.CLIENT, self.tr):
            self.out("* " + line)

    async def _quit(self, arg: str) -> str:
        return LEAVE


def _print(line: str) -> None:
    print(line, flush=True)
