"""What the terminal client knows of a conversation, apart from drawing: pure code."""

from __future__ import annotations

from rich.text import Text

from tertulia.tui.model import Conversation, Said, excerpt, mark, ranked


def test_modes_change_operators_and_voices_and_skip_the_arguments_of_others() -> None:
    room = Conversation("#a")
    room.set_state("", ["ana", "bo", "eva"], ["ana"])
    room.apply_modes("+kov-o", ("secret", "bo", "eva", "ana"))
    assert room.operators == {"bo"} and room.voiced == {"eva"}
    room.apply_modes("+l-v+b", ("10", "eva", "x!*@*"))
    assert room.voiced == set() and room.operators == {"bo"}
    room.apply_modes("-l+m+o", ("ana",))  # -l takes no argument
    assert room.operators == {"ana", "bo"}


def test_the_nick_list_order_and_marks() -> None:
    room = Conversation("#a")
    room.set_state("", ["zoe", "Ana", "bo", "eva"], ["zoe"], ["eva"])
    assert ranked(room) == ["zoe", "eva", "Ana", "bo"]
    assert [mark(room, n) for n in ranked(room)] == ["@", "+", " ", " "]
    assert room.rename("zoe", "zoey") and ranked(room)[0] == "zoey"
    assert room.drop("zoey") and not room.drop("zoey") and room.operators == set()


def test_scrollback_drops_the_oldest_lines_and_knows_what_it_saw() -> None:
    room = Conversation("#a", scrollback=3)
    for n in range(5):
        said = Said(str(n), "bo", f"m{n}", "message", None)
        room.add(Text(f"m{n}"), said)
    assert [t.plain for t in room.lines] == ["m2", "m3", "m4"]
    assert room.seen("4") and room.seen("1")  # a replay of recent lines is still known
    last = room.nth_last(1)
    oldest = room.nth_last(3)
    assert last is not None and oldest is not None
    assert (last.text, oldest.text, room.nth_last(4)) == ("m4", "m2", None)
    assert room.remove("3") and [t.plain for t in room.lines] == ["m2", "m4"]
    assert not room.remove("3") and not room.seen("3")
    assert room.replace(last, Text("m4 👍")) and room.lines[-1].plain == "m4 👍"


def test_an_excerpt_is_the_first_words() -> None:
    assert excerpt("hola") == "hola"
    assert excerpt("uno dos tres cuatro cinco seis") == "uno dos tres cuatro cinco…"
    assert excerpt("x" * 60) == "x" * 40 + "…"
