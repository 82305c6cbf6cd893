"""A session: one participant on one door, and what the hub needs to reach it."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Protocol

from tertulia.core.events import Event

if TYPE_CHECKING:
    from tertulia.core.room import Room


class Door(enum.StrEnum):
    """Where a session came in. A StrEnum: logs, metrics labels and JSON show the name."""

    PLAIN = "plain"  # the plain port: netcat and the original client
    JSON = "json"  # JSON lines on the plain port
    IRC = "irc"
    WEB = "web"  # JSON over WebSocket, from the browser page


class Encoder(Protocol):
    """A wire format. The hub calls `encode` once per event per encoder, never per recipient."""

    def encode(self, event: Event) -> bytes | None:
        """The bytes every recipient of this format gets, or None if the format shows nothing."""
        ...


class Sink(Protocol):
    """Where a session's bytes go: a connection, a WebSocket, a link to another node."""

    def deliver(self, data: bytes) -> None:
        """Queue bytes for the recipient. Must not block; a slow recipient is the sink's problem."""
        ...

    def deliver_later(self, data: bytes) -> None:
        """Queue bytes that may wait a moment (who joined or left): they go out with the
        next bytes given to deliver(), or within a fraction of a second, in order."""
        ...

    def close(self, data: bytes | None = None) -> None:
        """Send `data` if given, then end the session's transport."""
        ...


class Session:
    """A participant: anonymous until it has a nick, then a member of zero or more rooms."""

    __slots__ = (
        "account",
        "active",
        "away",
        "door",
        "encoder",
        "gone",
        "id",
        "key",
        "metadata",
        "modes",
        "named",
        "nick",
        "oper",
        "peer",
        "realname",
        "rooms",
        "since",
        "sink",
        "user",
    )  # fmt: skip

    def __init__(
        self, session_id: int, sink: Sink, encoder: Encoder, door: Door, peer: str = ""
    ) -> None:
        self.id = session_id
        self.sink = sink
        self.encoder = encoder
        self.door = door
        self.peer = peer
        self.nick: str | None = None
        self.key: str | None = None  # folded nick
        # Rooms this session hears, by folded name: as a member, or as an anonymous listener.
        self.rooms: dict[str, Room] = {}
        self.away = ""  # why the user is away; empty while present
        self.account = ""  # the account it logged in to; empty if none
        self.gone = False  # disconnected: slow work finishing later must leave it alone
        # Who the user says it is (IRC's USER); other doors use the nick for both.
        self.user = ""
        self.realname = ""
        # User modes as IRC names them: i (invisible to WHO and NAMES from strangers),
        # w (hears WALLOPS), o (a server operator; `oper` is the operator's name).
        self.modes = ""  # one letter each: a string costs nothing while empty
        self.oper = ""
        self.since = 0.0  # when it registered (the hub's clock)
        self.named = 0.0  # when it took the nick it has now
        self.active = 0.0  # when it last said something (WHOIS and WHO show the idle time)
        # key -> value (display-name, avatar...), made on the first key: most have none.
        self.metadata: dict[str, str] | None = None

    @property
    def mask(self) -> str:
        """nick!user@host, what ban, exception and invite masks are matched against."""
        return f"{self.nick}!{self.user or self.nick}@tertulia"

    @property
    def address(self) -> str:
        """The peer's IP address, without its port (what server bans match)."""
        return self.peer.rsplit(":", 1)[0].strip("[]") if ":" in self.peer else self.peer

    def __repr__(self) -> str:
        return f"<Session {self.id} {self.door} {self.nick or '(anonymous)'} {self.peer}>"
