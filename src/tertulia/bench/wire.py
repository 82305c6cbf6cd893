"""What each kind of target expects on the wire: registering, joining, saying, readiness."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass

from websockets.frames import Frame, Opcode


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

    def split(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        """Whole messages at the start of `buffer` (for sampled clients), and the rest."""
        lines = buffer.split(b"\n")
        rest = lines.pop()
        return lines, rest


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
        return b"".join(line + b"\n" for line in self._hello_lines(nick, room))

    def _hello_lines(self, nick: str, room: str) -> list[bytes]:
        lines = [json.dumps({"type": "hello", "v": 1, "nick": nick}).encode()]
        if room != "#lobby":
            # Into its room and out of the lobby, as a plain client's /join moves it: a
            # lobby of every client would turn each join into a broadcast to all.
            lines.append(json.dumps({"type": "join", "room": room}).encode())
            lines.append(b'{"type":"part","room":"#lobby"}')
        return lines

    def say(self, nick: str, room: str, text: str) -> bytes:
        obj = {"type": "say", "room": room, "text": text}
        return json.dumps(obj, separators=(",", ":")).encode() + b"\n"

    def join(self, room: str) -> bytes:
        return json.dumps({"type": "join", "room": room}).encode() + b"\n"

    def quit(self, nick: str) -> bytes:
        return b'{"type":"quit"}\n'


class WebSocket(JsonLines):
    """The web door: the JSON objects, one per masked text frame, after an HTTP upgrade."""

    def hello(self, nick: str, room: str) -> bytes:
        key = base64.b64encode(os.urandom(16)).decode()
        upgrade = (
            "GET /ws HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        # The server reads frames sent right behind the request once it has accepted it.
        return upgrade + b"".join(_frame(line) for line in self._hello_lines(nick, room))

    def say(self, nick: str, room: str, text: str) -> bytes:
        return _frame(super().say(nick, room, text))

    def join(self, room: str) -> bytes:
        return _frame(super().join(room))

    def quit(self, nick: str) -> bytes:
        return _frame(super().quit(nick))

    def split(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        if buffer.startswith(b"HTTP/"):
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return [], buffer
            buffer = buffer[end + 4 :]
        return split_frames(buffer)


def _frame(payload: bytes) -> bytes:
    return Frame(Opcode.TEXT, payload.rstrip(b"\n")).serialize(mask=True)


def split_frames(buffer: bytes) -> tuple[list[bytes], bytes]:
    """The payloads of the whole server frames (never masked) at the start of `buffer`."""
    out: list[bytes] = []
    at = 0
    while len(buffer) - at >= 2:
        size, head = buffer[at + 1] & 0x7F, 2
        if size == 126:
            size, head = int.from_bytes(buffer[at + 2 : at + 4], "big"), 4
        elif size == 127:
            size, head = int.from_bytes(buffer[at + 2 : at + 10], "big"), 10
        if len(buffer) - at < head + size:
            break
        out.append(buffer[at + head : at + head + size])
        at += head + size
    return out, buffer[at:]


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
    "web": WebSocket("web", b'"members":'),
    "irc": Irc("irc", b" 366 "),
    "original": Original("original", SYNC),
}
