"""Rules for nicks and room names, and the case folding that makes them unique."""

from __future__ import annotations

import string
import unicodedata

from tertulia.core.errors import N_, NickInvalid, RoomInvalid

# RFC 2812 nick characters: letters, digits, the specials and '-', never first a digit or '-'.
_SPECIALS = "[]\\`_^{|}"
_NICK_FIRST = frozenset(string.ascii_letters + _SPECIALS)
_NICK_REST = frozenset(string.ascii_letters + string.digits + _SPECIALS + "-")
# Beyond ASCII: letters of any script (Unicode L*), and after the first character the marks
# that some scripts write vowels and accents with (Mn, Mc); digits stay 0-9.
_LETTER = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo"})
_MARK = frozenset({"Mn", "Mc"})
MARKS_IN_A_ROW = 3
# Scripts that may share a nick, as in UTS #39's "highly restrictive" level: Japanese,
# Chinese with Bopomofo, and Korean each mix with Han and Latin; no other script mixes.
_MIXES = (
    frozenset({"LATIN", "HAN", "KANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
# Python has no Unicode Script property: a letter's script is the first word of its name
# (LATIN, CYRILLIC, GREEK, ARABIC...), with these names for one script or none (None:
# combining and modifier characters go with any script).
_SCRIPT_OF_WORD: dict[str, str | None] = {
    "CJK": "HAN", "IDEOGRAPHIC": "HAN", "HIRAGANA": "KANA", "KATAKANA": "KANA",
    "KATAKANA-HIRAGANA": "KANA", "COMBINING": None, "MODIFIER": None,
}  # fmt: skip
# Cyrillic and Greek letters that look like Latin ones: a nick written only with them
# (Cyrillic "сор", Greek "ΤΟΡ") would pass for a Latin nick in most fonts.
_LATIN_LOOKALIKES = frozenset(
    "аԁеһіјӏорԛѕԝхусъЬҽпгѵѡАВСЕНІЈКМОРЅТХУ"  # Cyrillic
    "αοικνρτυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ"  # Greek
)

ROOM_PREFIX = "#"
# Unicode categories a name never holds: controls, format characters (bidi overrides,
# zero-width joiners), separators other than the space, and code points that are no text.
_UNSEEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})
# Space, comma and BEL split IRC parameters and lists; ':' is kept out for IRC masks.
_ROOM_FORBIDDEN = frozenset(" ,\x07:")


def fold(name: str) -> str:
    """The key under which a nick or room is unique, ignoring case: ASCII's lower case (IRC's
    CASEMAPPING=ascii), and beyond ASCII the compatibility form (NFKC) in lower case, as RFC
    8265 compares user names (IRC's UTF8MAPPING=rfc8265), so that "Ñandú" is "ñandú" and an
    accent typed as a separate mark is the same accent."""
    if name.isascii():
        return name.lower()
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).lower())


def check_nick(nick: str, max_len: int) -> str:
    """Return the nick if it is acceptable, else raise NickInvalid with the reason.

    ASCII nicks follow RFC 2812. Others may hold letters of any one script (docs/protocol.md,
    "Arriving"); a lone surrogate is no letter, so it never becomes a nick.
    """
    if not nick:
        raise NickInvalid(nick=nick, reason=N_("it is empty"))
    if len(nick) > max_len:
        raise NickInvalid(
            nick=nick, reason=N_("it is longer than {limit} characters"), limit=max_len
        )
    ascii_only = nick.isascii()
    if nick[0] not in _NICK_FIRST and (ascii_only or unicodedata.category(nick[0]) not in _LETTER):
        raise NickInvalid(
            nick=nick, reason=N_("it must start with a letter or one of [ ] \\ ` _ ^ {{ | }}")
        )
    if ascii_only:
        if any(ch not in _NICK_REST for ch in nick[1:]):
            raise NickInvalid(
                nick=nick, reason=N_("use only letters, digits and [ ] \\ ` _ ^ {{ | }} -")
            )
        return nick
    _check_unicode_nick(nick)
    return nick


def _check_unicode_nick(nick: str) -> None:
    scripts: set[str] = set()
    lookalikes = True
    marks = 0
    for ch in nick:
        if ch in _NICK_REST:
            marks = 0
            if ch.isalpha():
                scripts.add("LATIN")
                lookalikes = False
            continue
        kind = unicodedata.category(ch)
        if kind in _MARK:
            marks += 1
            if marks > MARKS_IN_A_ROW:
                raise NickInvalid(
                    nick=nick, reason=N_("at most {limit} accents or marks on one letter"),
                    limit=MARKS_IN_A_ROW,
                )  # fmt: skip
        elif kind in _LETTER:
            marks = 0
        else:
            raise NickInvalid(
                nick=nick, reason=N_("use only letters, digits and [ ] \\ ` _ ^ {{ | }} -")
            )
        word = unicodedata.name(ch, "").partition(" ")[0]
        script = _SCRIPT_OF_WORD.get(word, word)
        if script is not None:
            scripts.add(script)
            lookalikes = lookalikes and (kind in _MARK or ch in _LATIN_LOOKALIKES)
    if unicodedata.normalize("NFKC", nick) != unicodedata.normalize("NFC", nick):
        raise NickInvalid(
            nick=nick, reason=N_("write plain letters, not full-width, styled or ligated ones")
        )
    if len(scripts) > 1 and not any(scripts <= mix for mix in _MIXES):
        raise NickInvalid(
            nick=nick, reason=N_("it mixes scripts (such as Latin and Cyrillic letters)")
        )
    if lookalikes and scripts and scripts <= {"CYRILLIC", "GREEK"}:
        raise NickInvalid(
            nick=nick,
            reason=N_("its letters all look like Latin ones, so it would pass for another nick"),
        )


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
