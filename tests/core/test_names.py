"""Nick and room rules and case folding."""

from __future__ import annotations

import pytest

from tertulia.core.errors import NickInvalid, RoomInvalid, TertuliaError
from tertulia.core.names import check_nick, check_room, fold, normalize_room


@pytest.mark.parametrize(
    "nick",
    [
        "a", "ana", "Ana_2", "[bot]", "x" * 30, "`ok", "a-b",
        # Letters of any script, one script at a time (Japanese, Chinese and Korean may mix
        # theirs with Han and Latin), with the marks some scripts write vowels with.
        "ñandú", "José", "Işıl", "Владимир", "Σοφία", "אבי", "علي", "देवनागरी", "ท่าน",
        "佐々木", "さくら", "日本Taro", "김철수", "ana\u0301", "_ñ", "ñ-2",
    ],
)  # fmt: skip
def test_good_nicks(nick: str) -> None:
    assert check_nick(nick, 30) == nick


@pytest.mark.parametrize(
    ("nick", "reason"),
    [
        ("", "empty"),
        ("x" * 31, "longer than 30"),
        ("2ana", "must start"),
        ("-ana", "must start"),
        ("ana maria", "use only"),
        ("ana!", "use only"),
        ("ana\x00", "use only"),
        ("2ñandú", "must start"),
        ("\u0301ana", "must start"),
        ("ñandú!", "use only"),
        ("ana🙂", "use only"),
        ("a\u200bb", "use only"),  # zero-width space
        ("a\u202eb", "use only"),  # right-to-left override
        ("ñ\u00a0", "use only"),  # no-break space
        ("a" + "\u0301" * 4, "at most 3 accents"),
        ("ｎｉｃｏ", "plain letters"),  # full-width
        ("𝐚𝐝𝐦𝐢𝐧", "plain letters"),  # mathematical bold
        ("ﬁn", "plain letters"),  # a ligature
        ("еvan", "mixes scripts"),  # a Cyrillic е among Latin letters
        ("Ωmega", "mixes scripts"),
        ("сор", "look like Latin"),  # every letter Cyrillic, and each like a Latin one
        ("ΤΟΡ", "look like Latin"),
    ],
)
def test_bad_nicks_say_why(nick: str, reason: str) -> None:
    with pytest.raises(NickInvalid) as caught:
        check_nick(nick, 30)
    assert reason in caught.value.render()


def test_rooms() -> None:
    assert check_room("#cats", 50) == "#cats"
    assert check_room("#café", 50) == "#café"
    for bad in ("cats", "#", "#a b", "#a,b", "#a:b", "#\x07", "#" + "x" * 50):
        with pytest.raises(RoomInvalid):
            check_room(bad, 50)
    assert normalize_room(" cats ") == "#cats"
    assert normalize_room("#cats") == "#cats"
    assert normalize_room("") == ""


def test_fold_is_ascii_case_and_rfc8265_beyond() -> None:
    # CASEMAPPING=ascii: A-Z fold, and [ ] \ ~ stay apart from { } | ^.
    assert fold("AnA[]") == "ana[]"
    # UTF8MAPPING=rfc8265: beyond ASCII, NFKC then lower case.
    assert fold("ÁNGEL") == fold("ángel") == "ángel"
    assert fold("Ñandú") == fold("n\u0303andu\u0301") == "ñandú"  # composed or not
    assert fold("#CAFÉ") == "#café"
    assert fold("ß") != fold("ss")  # RFC 8265 lower-cases; it does not case-fold


def test_errors_render_translated_with_a_nested_reason() -> None:
    error = NickInvalid(nick="2x", reason="it is longer than {limit} characters", limit=3)

    def upper(template: str) -> str:
        return template.replace("invalid nick", "NICK NO VÁLIDO").replace("longer", "MÁS LARGO")

    assert error.render(upper) == "NICK NO VÁLIDO '2x': it is MÁS LARGO than 3 characters"
    assert str(error) == "invalid nick '2x': it is longer than 3 characters"
    assert isinstance(error, TertuliaError) and error.code == "nick_invalid"


@pytest.mark.parametrize("bad", ["#a\u202eb", "#a\u200bb", "#a\u2066b", "#a\u00a0b", "#a\u2028b"])
def test_room_names_hold_nothing_invisible_or_direction_changing(bad: str) -> None:
    with pytest.raises(RoomInvalid):
        check_room(bad, 50)
    assert check_room("#ñandú☕", 50) == "#ñandú☕"
