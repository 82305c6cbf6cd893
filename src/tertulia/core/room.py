"""A room: its name, topic, named members and the sessions that hear it."""

from __future__ import annotations

from tertulia.core.session import Session


class Room:
    __slots__ = (
        "created",
        "key",
        "members",
        "name",
        "operators",
        "persistent",
        "receivers",
        "topic",
        "topic_by",
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
        # Everyone who hears the room: members plus anonymous listeners (a plain connection
        # that has not sent its nick yet still reads #lobby, as the original client did).
        self.receivers: dict[Session, None] = {}

    @property
    def empty(self) -> bool:
        return not self.receivers

    def nicks(self) -> list[str]:
        return sorted((s.nick for s in self.members.values() if s.nick), key=str.lower)
