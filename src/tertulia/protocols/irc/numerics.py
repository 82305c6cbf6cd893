"""One table from the core's errors to IRC numerics: which numeric, its parameters, its text.

A door that catches a TertuliaError while serving an IRC command asks `reply_for` for the
numeric; errors without an entry fall back to a NOTICE with the translated text, so a
client always gets one clear line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tertulia.core import bans
from tertulia.core import errors as e


@dataclass(frozen=True, slots=True)
class Numeric:
    code: str
    params: Callable[[dict[str, object], str], tuple[str, ...]]
    text: str  # the English text IRC clients expect; a translated one goes to NOTICEs


def _room(args: dict[str, object], target: str) -> tuple[str, ...]:
    return (str(args.get("room") or target),)


def _nick(args: dict[str, object], target: str) -> tuple[str, ...]:
    return (str(args.get("nick") or target),)


def _nick_room(args: dict[str, object], target: str) -> tuple[str, ...]:
    return (str(args.get("nick") or "*"), str(args.get("room") or target))


def _mode(args: dict[str, object], target: str) -> tuple[str, ...]:
    return (str(args.get("mode", "?")).lstrip("+-"),)


def _none(args: dict[str, object], target: str) -> tuple[str, ...]:
    return ()


# The codes are RFC 2812's (and modern.ircdocs.horse's for those RFC 2812 lacks).
ERRORS: dict[type[e.TertuliaError], Numeric] = {
    e.NoSuchNick: Numeric("401", _nick, "No such nick/channel"),
    e.NoSuchRoom: Numeric("403", _room, "No such channel"),
    e.RoomInvalid: Numeric("403", _room, "No such channel"),
    e.Moderated: Numeric("404", _room, "Cannot send to channel"),
    e.CannotSend: Numeric("404", _room, "Cannot send to channel"),
    e.EmptyMessage: Numeric("412", _none, "No text to send"),
    e.TooManyRooms: Numeric("405", _room, "You have joined too many channels"),
    e.NickInvalid: Numeric("432", _nick, "Erroneous nickname"),
    e.NickInUse: Numeric("433", _nick, "Nickname is already in use"),
    e.NotMember: Numeric("441", _nick_room, "They aren't on that channel"),
    e.NotInRoom: Numeric("442", _room, "You're not on that channel"),
    e.NotRegistered: Numeric("451", _none, "You have not registered"),
    e.AlreadyRegistered: Numeric("462", _none, "You may not reregister"),
    e.RoomFull: Numeric("471", _room, "Cannot join channel (+l)"),
    e.BadMode: Numeric("472", _mode, "is unknown mode char to me"),
    e.InviteOnly: Numeric("473", _room, "Cannot join channel (+i)"),
    e.Banned: Numeric("474", _room, "Cannot join channel (+b)"),
    e.BadKey: Numeric("475", _room, "Cannot join channel (+k)"),
    e.ListFull: Numeric("478", _room, "Channel list is full"),
    e.NoPrivileges: Numeric("481", _none, "Permission Denied- You're not an IRC operator"),
    e.WrongOperPassword: Numeric("464", _none, "Password incorrect"),
    bans.ServerBanned: Numeric("465", _none, "You are banned from this server"),
    e.NotOperator: Numeric("482", _room, "You're not channel operator"),
}


def reply_for(err: e.TertuliaError, target: str = "*") -> tuple[str, tuple[str, ...]] | None:
    """The numeric for an error, with its parameters (text last), or None if it has none."""
    numeric = ERRORS.get(type(err))
    if numeric is None:
        return None
    return numeric.code, (*numeric.params(dict(err.args_map), target), numeric.text)
