"""The one registry of `/` commands: names, synopses, help keys and who understands each.

Pure data. The plain door's `/help`, the client library's parser and help, the terminal
client's completion and the web page (served as `/commands.json` by the web door) all
read it, so a command added here shows up everywhere it is supported and nowhere else.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tertulia.core.errors import N_

Translate = Callable[[str], str]


class Where(enum.StrEnum):
    """Who understands a command."""

    PLAIN = "plain"  # the plain door: netcat and the original client
    CLIENT = "client"  # the client library: `tertulia chat`, TUI and line mode
    WEB = "web"  # the browser page


ALL = frozenset(Where)


@dataclass(frozen=True, slots=True)
class Slash:
    """One command: `/name args`, what it does, and where it works."""

    name: str
    args: str  # the synopsis of its arguments, a msgid ("" when it takes none)
    help: str  # one line, a msgid
    where: frozenset[Where] = ALL
    aliases: tuple[str, ...] = ()
    # For commands that are one JSON request of the same type: its fields, in the order the
    # typed words fill them ("room" is the room on screen and takes no word; the last field
    # takes the rest of the line). Clients need no handler of their own for these.
    request: tuple[str, ...] | None = None

    def synopsis(self, tr: Translate | None = None) -> str:
        """`/name args` in the reader's language."""
        if not self.args:  # gettext("") is the catalog's header, never a translation
            return "/" + self.name
        return f"/{self.name} {tr(self.args) if tr else self.args}"


COMMANDS: tuple[Slash, ...] = (
    Slash("join", N_("#room"), N_("go to a room (created if new)")),
    Slash("part", N_("[reason]"), N_("leave the room you are in"), aliases=("leave",)),
    Slash("nick", N_("NEW"), N_("change your nick")),
    Slash("msg", N_("NICK TEXT"), N_("a private message")),
    Slash("query", N_("NICK"), N_("open a private conversation"), frozenset({Where.WEB})),
    Slash("close", "", N_("close this conversation or leave this room"), frozenset({Where.WEB})),
    Slash("me", N_("TEXT"), N_("an action")),
    # The terminal client's own: N counts the conversation's messages back from the last (1).
    Slash(
        "reply",
        N_("N TEXT"),
        N_("answer a message: 1 is the last one, 2 the one before"),
        frozenset({Where.CLIENT}),
    ),
    Slash(
        "react",
        N_("N EMOJI"),
        N_("react to a message with an emoji: 1 is the last one"),
        frozenset({Where.CLIENT}),
    ),
    Slash(
        "away",
        N_("[message]"),
        N_("say you are away; without a message, that you are back"),
        request=("message",),
    ),
    Slash("who", N_("[#room]"), N_("who is in a room")),
    Slash("rooms", "", N_("the rooms and how many are in each"), aliases=("list",)),
    Slash("topic", N_("[TEXT]"), N_("show or set the room's topic")),
    Slash(
        "kick",
        N_("NICK [reason]"),
        N_("put someone out of the room (operators)"),
        request=("room", "nick", "reason"),
    ),
    Slash(
        "ban",
        N_("NICK|MASK [reason]"),
        N_("ban from the room, and put out (operators)"),
        request=("room", "target", "reason"),
    ),
    Slash("unban", N_("NICK|MASK"), N_("lift a ban of the room"), request=("room", "target")),
    Slash(
        "mute",
        N_("NICK|MASK"),
        N_("keep someone from speaking in the room"),
        request=("room", "target"),
    ),
    Slash("unmute", N_("NICK|MASK"), N_("let them speak again"), request=("room", "target")),
    Slash("op", N_("NICK"), N_("make a member an operator of the room"), request=("room", "nick")),
    Slash("deop", N_("NICK"), N_("take a member's operator status"), request=("room", "nick")),
    Slash(
        "voice",
        N_("NICK"),
        N_("let a member speak when the room is moderated (+m)"),
        request=("room", "nick"),
    ),
    Slash("devoice", N_("NICK"), N_("take a member's voice"), request=("room", "nick")),
    Slash(
        "mode",
        N_("[+-MODES [ARGS]]"),
        N_("show or change the room's modes (m moderated, i invite only, k key, l limit)"),
        request=("room", "modes"),
    ),
    Slash("claim", "", N_("register the room to your account"), request=("room",)),
    Slash("unclaim", "", N_("give the room back (its owner)"), request=("room",)),
    Slash(
        "oper", N_("NAME PASSWORD"), N_("become a server operator"), request=("name", "password")
    ),
    Slash(
        "kill",
        N_("NICK [reason]"),
        N_("put someone off the server (server operators)"),
        request=("nick", "reason"),
    ),
    Slash(
        "serverban",
        N_("MASK [DURATION] [reason]"),
        N_("ban an address, network, nick!user@host or $a:account (server operators)"),
        request=("mask", "duration", "reason"),
    ),
    Slash("serverunban", N_("MASK"), N_("lift a server ban"), request=("mask",)),
    Slash("serverbans", "", N_("the server's bans"), request=()),
    Slash("history", N_("[N]"), N_("the room's last N messages")),
    Slash("search", N_("WORDS"), N_("messages of the room with every word")),
    Slash("register", N_("PASSWORD"), N_("register your nick with a password")),
    Slash("login", N_("NICK PASSWORD"), N_("log in to a registered nick")),
    Slash("password", N_("OLD NEW"), N_("change your password")),
    Slash("help", "", N_("this list")),
    Slash("quit", N_("[reason]"), N_("leave (or type #LOGOUT)")),
)


def commands(where: Where) -> tuple[Slash, ...]:
    """The commands `where` understands, in the order help lists them."""
    return tuple(c for c in COMMANDS if where in c.where)


_BY_NAME: dict[tuple[Where, str], Slash] = {
    (place, name): c for c in COMMANDS for place in c.where for name in (c.name, *c.aliases)
}


def find(name: str, where: Where) -> Slash | None:
    """The command a typed name (any case, or an alias) means to `where`, or None."""
    return _BY_NAME.get((where, name.lower()))


def help_lines(where: Where, tr: Translate) -> list[str]:
    """`/name args   what it does`, one line per command, the help in one column."""
    shown = [(c.synopsis(tr), tr(c.help)) for c in commands(where)]
    width = max(len(synopsis) for synopsis, _ in shown) + 2
    return [synopsis.ljust(width) + text for synopsis, text in shown]


def as_data(translators: Mapping[str, Translate]) -> list[dict[str, Any]]:
    """The registry as JSON-ready objects, the synopsis and help in every language given."""

    def each(text: str) -> dict[str, str]:
        return {lang: tr(text) if text else "" for lang, tr in translators.items()}

    return [
        {
            "name": c.name,
            "aliases": list(c.aliases),
            "args": each(c.args),
            "help": each(c.help),
            "where": sorted(c.where),
            "request": None if c.request is None else list(c.request),
        }
        for c in COMMANDS
    ]


def fill(command: Slash, arg: str, room: str) -> dict[str, str]:
    """The JSON request a typed `/command arg` makes, for commands with `request` fields:
    "room" is the room on screen, each other field one word, the last the rest."""
    assert command.request is not None
    words = [f for f in command.request if f != "room"]
    parts = arg.split(None, max(len(words) - 1, 0)) if words else []
    obj = {"type": command.name, **dict(zip(words, parts, strict=False))}
    if "room" in command.request:
        obj["room"] = room
    return obj


def names(where: Where, aliases: bool = True) -> Iterable[str]:
    """Every name `where` answers to; with `aliases=False`, only the canonical ones."""
    for c in commands(where):
        yield c.name
        if aliases:
            yield from c.aliases
