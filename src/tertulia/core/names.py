"""Rules for nicks and room names, and the case folding that makes them unique."""

from __future__ import annotations

import string
import unicodedata

from tertulia.core.errors import N_, NickInvalid, RoomInvalid

# ASCII casemapping, as IRC's CASEMAPPING=ascii: only A-Z fold, so every door agrees.
_FOLD = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)

# RFC 2812 nick characters: letters, digits, the specials and '-', never first a digit or '-'.
_SPECIALS = "[]\\`_^{|}"
_NICK_FIRST = frozenset(string.ascii_letters + _SPECIALS)
_NICK_REST = frozenset(string.ascii_letters + string.digits + _SPECIALS + "-")

ROOM_PREFIX = "#"
# Unicode categories a name never holds: controls, format characters (bidi overrides,
# zero-width joiners), separators other than the space, and code points that are no text.
_UNSEEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})
# Space, comma and BEL split IRC parameters and lists; ':' is kept out for IRC masks.
_ROOM_FORBIDDEN = frozenset(" ,\x07:")


def fold(name: str) -> str:
    """The key under which a nick or room is unique, ignoring case."""
    return name.translate(_FOLD)


def check_nick(nick: str, max_len: int) -> str:
    """Return the nick if it is acceptable, else raise NickInvalid with the reason.

    Only ASCII passes, so a lone surrogate (no text at all) never becomes a nick.
    """
    if not nick:
        raise NickInvalid(nick=nick, reason=N_("it is empty"))
    if len(nick) > max_len:
        raise NickInvalid(
            nick=nick, reason=N_("it is longer than {limit} characters"), limit=max_len
        )
    if nick[0] not in _NICK_FIRST:
        raise NickInvalid(
            nick=nick, reason=N_("it must start with a letter or one of [ ] \\ ` _ ^ {{ | }}")
        )
    if any(ch not in _NICK_REST for ch in nick[1:]):
        raise NickInvalid(
            nick=nick, reason=N_("use only letters, digits and [ ] \\ ` _ ^ {{ | }} -")
        )
    return nick


def check_room(room: str, max_len: int) -> str:
    """Return the room name if acceptable (it must start with '#'), else raise RoomInvalid."""
    if not room.startswith(ROOM_PREFIX) or len(room) < 2:
        raise RoomInvalid(room=room, reason=N_("it must be '#' followed by a name"))
    if len(room) > max_len:
        raise RoomInvalid(
            room=room, reason=N_("it is longer than {limit} characters"), limit=max_len
        )
    if any(ch in _ROOM_FORBIDDEN or ord(ch) < 32 or ord(ch) == 127 for ch in room):
        raise RoomInvalid(room=room, reason=N_("no spaces, commas, colons or control characters"))
    if any(unicodedata.category(ch) in _UNSEEN for ch in room):
        # Bidi overrides, zero-width and other invisible characters would let two rooms
        # look the same, or turn the text around them on every reader's screen.
        raise RoomInvalid(room=room, reason=N_("no invisible or direction-changing characters"))
    if any("\ud800" <= ch <= "\udfff" for ch in room):
        # A lone surrogate is no text: no door could write the room's name.
        raise RoomInvalid(room=room, reason=N_("it holds a lone surrogate (U+D800 to U+DFFF)"))
    return room


def normalize_room(room: str) -> str:
    """Accept `lobby` for `#lobby`: people type room names without the prefix."""
    room = room.strip()
    if room and not room.startswith(ROOM_PREFIX):
        return ROOM_PREFIX + room
    return room
