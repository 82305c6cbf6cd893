"""The plain codec over text and bytes, without sockets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tertulia.core.errors import BadEncoding
from tertulia.core.events import (
    Joined,
    Kind,
    NickChanged,
    Parted,
    PrivateMessage,
    Quit,
    RoomMessage,
    ServerNotice,
    TopicChanged,
)
from tertulia.i18n import translator
from tertulia.protocols import plain
from tertulia.protocols.text import decode


def test_the_original_clients_writes() -> None:
    assert plain.parse_original("[ana] hola") == ("ana", "hola")
    assert plain.parse_original("[ana] #LOGOUT") == ("ana", "#LOGOUT")
    assert plain.parse_original("[ana]") == ("ana", "")
    assert plain.parse_original("[ana] [x] y") == ("ana", "[x] y")
    assert plain.parse_original("ana") is None
    assert plain.parse_original("[] hola") is None
    assert plain.parse_original("[two words] hola") is None


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("", None),
        ("   ", None),
        ("#LOGOUT", plain.Logout()),
        (" #LOGOUT ", plain.Logout()),
        ("/quit off to bed", plain.Logout("off to bed")),
        ("/QUIT", plain.Logout("")),
        ("//not a command", plain.Say("/not a command")),
        ("/JOIN #cats", plain.Command("join", "#cats")),
        ("/msg bob  hi there", plain.Command("msg", "bob  hi there")),
        ("hello", plain.Say("hello")),
        ("#LOGOUT later", plain.Say("#LOGOUT later")),
    ],
)
def test_parse_line(line: str, parsed: plain.Line | None) -> None:
    assert plain.parse_line(line) == parsed


@given(st.text())
def test_parsing_never_raises(text: str) -> None:
    plain.parse_line(text)
    plain.parse_original(text)


def test_decode_refuses_invalid_utf8() -> None:
    assert decode("café".encode()) == "café"
    with pytest.raises(BadEncoding):
        decode(b"caf\xe9")


@pytest.mark.parametrize(
    ("event", "line"),
    [
        (RoomMessage(1, 0.0, "#lobby", "ana", "hola"), b"[ana] hola\n"),
        (RoomMessage(1, 0.0, "#lobby", "ana", "waves", Kind.ACTION), b"* ana waves\n"),
        (RoomMessage(1, 0.0, "#lobby", "bot", "beep", Kind.NOTICE), b"-bot- beep\n"),
        (PrivateMessage(1, 0.0, "ana", "bob", "psst"), b"[ana -> bob] psst\n"),
        (PrivateMessage(1, 0.0, "ana", "bob", "winks", Kind.ACTION), b"* [ana -> bob] ana winks\n"),
        (Joined("#lobby", "ana"), b"* ana joined #lobby\n"),
        (Parted("#lobby", "ana", "bye"), b"* ana left #lobby (bye)\n"),
        (Parted("#lobby", "ana"), b"* ana left #lobby\n"),
        (Quit("ana", "timeout"), b"* ana quit (timeout)\n"),
        (NickChanged("ana", "anita"), b"* ana is now known as anita\n"),
        (TopicChanged("#lobby", "ana", "cats"), b"* ana set the topic of #lobby: cats\n"),
        (ServerNotice("x", "going {where}", (("where", "away"),)), b"* going away\n"),
    ],
)
def test_events_as_lines(event: object, line: bytes) -> None:
    assert plain.PlainEncoder(str).encode(event) == line  # type: ignore[arg-type]


def test_notices_are_translated_but_messages_are_not() -> None:
    encoder = plain.PlainEncoder(translator("es"))
    assert encoder.encode(Joined("#lobby", "ana")) == "* ana entró a #lobby\n".encode()
    assert encoder.encode(RoomMessage(1, 0.0, "#lobby", "ana", "hi")) == b"[ana] hi\n"


def test_notice_and_error_lines() -> None:
    assert plain.notice("hi") == b"* hi\n"
    assert plain.error("bad") == b"! bad\n"
