"""MARKREAD (IRCv3 draft/read-marker): where a client stopped reading each conversation.

A marker only moves forward. A logged-in user's markers belong to its account, so all its
connections agree (kept in memory while the server runs); a guest's belong to its
connection.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tertulia.core.errors import TertuliaError
from tertulia.core.names import check_nick, check_room, fold
from tertulia.protocols.irc import Message

if TYPE_CHECKING:
    from tertulia.server.irc.handler import IrcHandler

# The IRCv3 server-time format, the only one a marker may take.
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")
MAX_MARKERS = 500  # conversations remembered per user
MAX_ACCOUNTS = 10_000  # accounts whose markers are kept in memory, the least used dropped


def markread(h: IrcHandler, msg: Message) -> None:
    # MARKREAD <target> [timestamp=YYYY-MM-DDThh:mm:ss.sssZ]
    if not msg.params:
        h.fail("MARKREAD", "NEED_MORE_PARAMS", "Missing target")
        return
    target = msg.param(0)
    if not _target_ok(h, target):
        h.fail("MARKREAD", "INVALID_PARAMS", "*", "Invalid target")
        return
    markers = _markers(h)
    if len(msg.params) > 1:
        value = msg.param(1).removeprefix("timestamp=")
        if not msg.param(1).startswith("timestamp=") or not _TIMESTAMP.fullmatch(value):
            h.fail("MARKREAD", "INVALID_PARAMS", target, "Invalid timestamp")
            return
        key = fold(target)
        # ISO 8601 in UTC compares as text; a marker never moves back.
        if value > markers.get(key, "") and (key in markers or len(markers) < MAX_MARKERS):
            markers[key] = value
    tell(h, target)


def tell(h: IrcHandler, target: str) -> None:
    """The client's marker for `target` (after a JOIN, or asked for)."""
    stamp = _markers(h).get(fold(target))
    h.send(Message("MARKREAD", (target, f"timestamp={stamp}" if stamp else "*"), h.server.name))


def _target_ok(h: IrcHandler, target: str) -> bool:
    """A name a room or a nick could have: markers are kept for nothing else."""
    limits = h.hub.limits
    try:
        if target.startswith("#"):
            check_room(target, limits.room_length)
        else:
            check_nick(target, limits.nick_length)
    except TertuliaError:
        return False
    return True


def _markers(h: IrcHandler) -> dict[str, str]:
    account = h.session.account
    if account:
        kept = h.server.irc_read_markers
        key = fold(account)
        markers = kept.pop(key, None) or {}
        kept[key] = markers  # the most recently used last
        while len(kept) > MAX_ACCOUNTS:
            del kept[next(iter(kept))]
        return markers
    if h.markers is None:
        h.markers = {}
    return h.markers
