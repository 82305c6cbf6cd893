"""A room: its name, topic, named members and the sessions that hear it."""

from __future__ import annotations

from tertulia.core.session import Session


class Room:
    __slots__ = (
        "created",
        "invited",
        "key",
        "limit",
        "members",
        "modes",
        "name",
        "operators",
        "password",
        "persistent",
        "receivers",
        "topic",
        "topic_by",
        "voiced",
    )

    def __init__(self, name: str, key: str, created: float, persistent: bool = False) -> None:
        self.name = name
        self.key = key
        self.created = created
        self.persistent = persistent
        self.topic = ""
        self.topic_by = ""
        # Named members by folded nick; they show in member lists and notices.
        self.members: dict[str, Session] = {}
        # Folded nicks of the room's operators: whoever joins an empty room becomes one.
        self.operators: set[str] = set()
        self.voiced: set[str] = set()
        # Flag modes as IRC names them: n (only members speak, always), t (only operators
        # set the topic), m (only operators and voiced speak), i (invite only).
        self.modes: set[str] = {"n"}
        self.password = ""  # the k mode's key
        self.limit = 0  # the l mode; 0 for none
        self.invited: set[str] = set()
        # Everyone who hears the room: members plus anonymous listeners (a plain connection
        # that has not sent its nick yet still reads #lobby, as the original client did).
        self.receivers: dict[Session, None] = {}

    @property
    def empty(self) -> bool:
        return not self.receivers

    def mode_string(self) -> tuple[str, ...]:
        flags = "+" + "".join(sorted(self.modes)) + ("k" if self.password else "")
        flags += "l" if self.limit else ""
        args = ((self.password,) if self.password else ()) + (
            (str(self.limit),) if self.limit else ()
        )
        return (flags, *args)

    def nicks(self) -> list[str]:
        return sorted((s.nick for s in self.members.values() if s.nick), key=str.lower)
