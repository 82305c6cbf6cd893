"""A room: its name, topic, named members and the sessions that hear it."""

from __future__ import annotations

from dataclasses import dataclass

from tertulia.core.session import Session

# Member lists up to this size come sorted; a bigger room's come in the order people came.
SORTED_UP_TO = 200


@dataclass(frozen=True, slots=True)
class MaskEntry:
    """One entry of a ban, exception or invite list."""

    mask: str
    by: str
    ts: float


class Room:
    __slots__ = (
        "bans",
        "created",
        "exceptions",
        "invex",
        "invited",
        "key",
        "limit",
        "members",
        "metadata",
        "modes",
        "name",
        "operators",
        "owner",
        "password",
        "persistent",
        "receivers",
        "topic",
        "topic_by",
        "topic_ts",
        "voiced",
    )

    def __init__(self, name: str, key: str, created: float, persistent: bool = False) -> None:
        self.name = name
        self.key = key
        self.created = created
        self.persistent = persistent
        self.owner = ""  # the account it is registered to, folded; empty if none
        self.topic = ""
        self.topic_by = ""
        self.topic_ts = 0.0
        # Named members by folded nick; they show in member lists and notices.
        self.members: dict[str, Session] = {}
        # Folded nicks of the room's operators: whoever joins an empty room becomes one,
        # except in the persistent rooms (#lobby), which only server operators run.
        self.operators: set[str] = set()
        self.voiced: set[str] = set()
        # Flag modes as IRC names them: n (only members speak), t (only operators set the
        # topic), m (only operators and voiced speak), i (invite only), s (secret: not
        # listed, and not shown to strangers).
        self.modes: set[str] = {"n"}
        self.password = ""  # the k mode's key
        self.limit = 0  # the l mode; 0 for none
        self.invited: dict[int, None] = {}  # ids of invited sessions, oldest first
        self.metadata: dict[str, str] = {}  # key -> value, set by the room's operators
        # The list modes: b (bans), e (exceptions to bans), I (always invited), each a mask
        # with who set it and when, in the order they were set.
        self.bans: dict[str, MaskEntry] = {}
        self.exceptions: dict[str, MaskEntry] = {}
        self.invex: dict[str, MaskEntry] = {}
        # Everyone who hears the room: members plus anonymous listeners (a plain connection
        # that has not sent its nick yet still reads #lobby, as the original client did).
        self.receivers: dict[Session, None] = {}

    @property
    def empty(self) -> bool:
        # Members that are not receivers are other nodes' people (core.replica): the room
        # goes on existing here while they are in it.
        return not self.receivers and not self.members

    def mode_string(self) -> tuple[str, ...]:
        flags = "+" + "".join(sorted(self.modes)) + ("k" if self.password else "")
        flags += "l" if self.limit else ""
        args = ((self.password,) if self.password else ()) + (
            (str(self.limit),) if self.limit else ()
        )
        return (flags, *args)

    def mask_list(self, mode: str) -> dict[str, MaskEntry]:
        """The list a list mode (b, e or I) names."""
        return {"b": self.bans, "e": self.exceptions, "I": self.invex}[mode]

    def nicks(self) -> list[str]:
        """The members' nicks: in alphabetical order, or for a crowd in the order they
        came (each newcomer gets the list: sorting a crowd's for each cost O(N log N) a
        join)."""
        names = [s.nick for s in self.members.values() if s.nick]
        return names if len(names) > SORTED_UP_TO else sorted(names, key=str.lower)
