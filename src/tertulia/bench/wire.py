"""What each kind of target expects on the wire: registering, joining, saying, readiness."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Wire:
    """One target protocol. `ready` is a token seen once a join has completed."""

    name: str
    ready: bytes

    def hello(self, nick: str, room: str) -> bytes:
        raise NotImplementedError

    def say(self, nick: str, room: str, text: str) -> bytes:
        raise NotImplementedError

    def join(self, room: str) -> bytes:
        raise NotImplementedError

    def quit(self, nick: str) -> bytes:
        """Leave cleanly, so that the server closes first (and keeps the TIME_WAIT)."""
        raise NotImplementedError

    def ready_count(self, room: str) -> int:
        """How many `ready` tokens mean the client is in `room`."""
        return 1

    @property
    def needs_sync(self) -> bool:
        """True when the server says nothing on arrival, so readiness needs a sync message."""
        return False


class Plain(Wire):
    def ready_count(self, room: str) -> int:
        return 1 if room == "#lobby" else 2

    def hello(self, nick: str, room: str) -> bytes:
        first = f"{nick}\n".encode()
        return first if room == "#lobby" else first + self.join(room)

    def say(self, nick: str, room: str, text: str) -> bytes:
        return f"{text}\n".encode()

    def join(self, room: str) -> bytes:
        return f"/join {room}\n".encode()

    def quit(self, nick: str) -> bytes:
        return b"/quit\n"


class JsonLines(Wire):
    def ready_count(self, room: str) -> int:
        return 1 if room == "#lobby" else 2

    def hello(self, nick: str, room: str) -> bytes:
        first = json.dumps({"type": "hello", "v": 1, "nick": nick}).encode() + b"\n"
        return first if room == "#lobby" else first + self.join(room)

    def say(self, nick: str, room: str, text: str) -> bytes:
        obj = {"type": "say", "room": room, "text": text}
        return json.dumps(obj, separators=(",", ":")).encode() + b"\n"

    def join(self, room: str) -> bytes:
        return json.dumps({"type": "join", "room": room}).encode() + b"\n"

    def quit(self, nick: str) -> bytes:
        return b'{"type":"quit"}\n'


class Irc(Wire):
    def hello(self, nick: str, room: str) -> bytes:
        return f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nJOIN {room}\r\n".encode()

    def say(self, nick: str, room: str, text: str) -> bytes:
        return f"PRIVMSG {room} :{text}\r\n".encode()

    def join(self, room: str) -> bytes:
        return f"JOIN {room}\r\n".encode()

    def quit(self, nick: str) -> bytes:
        return b"QUIT :bench\r\n"


class Original(Wire):
    """The course client: nothing until the user types, then `[nick] text` with no newline."""

    def hello(self, nick: str, room: str) -> bytes:
        return b""

    def say(self, nick: str, room: str, text: str) -> bytes:
        return f"[{nick}] {text}".encode()

    def join(self, room: str) -> bytes:
        return b""

    def quit(self, nick: str) -> bytes:
        return f"[{nick}] #LOGOUT".encode()

    @property
    def needs_sync(self) -> bool:
        return True


# Readiness: plain says "you are NICK, in ROOM" after each join, JSON answers the hello
# with a welcome and a join with an ok carrying members, IRC ends NAMES with 366; the
# original server says nothing, so the bench relays SYNC through it once all are in.
SYNC = b"~sync~"
WIRES: dict[str, Wire] = {
    "plain": Plain("plain", b"* you are "),
    "json": JsonLines("json", b'"members":'),
    "irc": Irc("irc", b" 366 "),
    "original": Original("original", SYNC),
}
