"""MONITOR (IRCv3): clients ask to hear when nicks come and go, on any door.

One registry per server: folded nick -> the IRC clients that watch it. The hub's presence
hook tells it when a nick comes into use (registration, a nick change) or goes out of use
(a quit, a nick change), and each watcher gets 730 or 731.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tertulia.core.names import fold
from tertulia.core.session import Session

if TYPE_CHECKING:
    from tertulia.server.irc.handler import IrcHandler


class Monitor:
    __slots__ = ("watchers",)

    def __init__(self) -> None:
        self.watchers: dict[str, set[IrcHandler]] = {}

    def add(self, h: IrcHandler, nick: str) -> None:
        self.watchers.setdefault(fold(nick), set()).add(h)

    def remove(self, h: IrcHandler, nick: str) -> None:
        key = fold(nick)
        found = self.watchers.get(key)
        if found is not None:
            found.discard(h)
            if not found:
                del self.watchers[key]

    def followers(self, session: Session) -> list[Session]:
        """The hub's followers hook: watchers of this nick that asked for extended-monitor
        hear its away and account changes as if they shared a channel."""
        found = self.watchers.get(session.key or "")
        if not found:
            return []
        return [h.session for h in found if "extended-monitor" in h.caps.enabled]

    def changed(self, session: Session, nick: str, online: bool) -> None:
        """The hub's presence hook: tell whoever watches `nick`."""
        found = self.watchers.get(fold(nick))
        if not found:
            return
        for h in list(found):
            if online:
                h.numeric("730", session.mask)
            else:
                h.numeric("731", nick)
