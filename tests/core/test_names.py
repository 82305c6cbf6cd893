"""Nick and room rules and case folding."""

from __future__ import annotations

import pytest

from tertulia.core.errors import NickInvalid, RoomInvalid, TertuliaError
from tertulia.core.names import check_nick, check_room, fold, normalize_room


@pytest.mark.parametrize("nick", ["a", "ana", "Ana_2", "[bot]", "x" * 30, "`ok", "a-b"])
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
        ("josé", "use only"),
        ("ana\x00", "use only"),
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


def test_fold_is_ascii_only() -> None:
    assert fold("AnA[]") == "ana[]"
    assert fold("ÁNGEL") == "Ángel"  # like IRC's CASEMAPPING=ascii: only A-Z fold


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
