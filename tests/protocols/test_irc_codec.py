"""The IRC codec over bytes: tags and escaping, trailing parameters, bad lines, casemapping."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tertulia.core.events import Kind
from tertulia.core.names import fold
from tertulia.protocols.irc import (
    BODY_LIMIT,
    IrcParseError,
    Message,
    escape_tag,
    fitted,
    parse,
    serialize,
    unescape_tag,
)
from tertulia.protocols.irc.render import say_line, say_message


def test_a_plain_command_with_a_trailing_parameter() -> None:
    assert parse(b"PRIVMSG #lobby :hola a todos\r\n") == Message(
        "PRIVMSG", ("#lobby", "hola a todos")
    )


def test_source_tags_and_lowercase_commands() -> None:
    msg = parse(b"@time=2026-11-25T10:00:00.000Z;+draft/reply=42 :ana!a@h privmsg bo :hi")
    assert msg.command == "PRIVMSG"
    assert msg.source == "ana!a@h"
    assert msg.tags == {"time": "2026-11-25T10:00:00.000Z", "+draft/reply": "42"}
    assert msg.params == ("bo", "hi")


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (r"a\:b", "a;b"),
        (r"a\sb", "a b"),
        (r"back\\slash", "back\\slash"),
        (r"cr\rlf\n", "cr\rlf\n"),
        (r"unknown\xescape", "unknownxescape"),
        ("trailing\\", "trailing"),
        ("", ""),
    ],
)
def test_tag_values_unescape(raw: str, value: str) -> None:
    assert unescape_tag(raw) == value


def test_tags_without_values_and_duplicates() -> None:
    msg = parse(b"@a;b=;c=1;c=2 PING")
    assert msg.tags == {"a": "", "b": "", "c": "2"}


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_escaping_round_trips(value: str) -> None:
    assert unescape_tag(escape_tag(value)) == value


@pytest.mark.parametrize(
    ("line", "params"),
    [
        (b"JOIN #a,#b key", ("#a,#b", "key")),
        (b"TOPIC #a :", ("#a", "")),
        (b"PRIVMSG #a ::-)", ("#a", ":-)")),
        (b"PRIVMSG #a  two  spaces", ("#a", "two", "spaces")),
        (b"USER u 0 * :Real Name", ("u", "0", "*", "Real Name")),
        (
            b"CMD " + b" ".join(str(i).encode() for i in range(17)),
            (*map(str, range(14)), "14 15 16"),
        ),
        (b"QUIT", ()),
    ],
)
def test_parameters(line: bytes, params: tuple[str, ...]) -> None:
    assert parse(line).params == params


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"", "no command"),
        (b"   ", "no command"),
        (b":source", "no command"),
        (b": PRIVMSG", "empty source"),
        (b"@tags", "no command"),
        (b"PRIV\xffMSG x", "invalid UTF-8"),
        (b"PRIVMSG #a :\xc3", "invalid UTF-8"),
        (b"PRIVMSG #a :nul\x00byte", "NUL in line"),
        (b"PRIV\x01MSG x", "bad command"),
        ("ÑICK x".encode(), "bad command"),
        (b"@" + b"a" * 9000 + b" PING", "tags too long"),
        (b"PRIVMSG #a :" + b"x" * BODY_LIMIT, "line too long"),
    ],
)
def test_malformed_lines_say_why(line: bytes, reason: str) -> None:
    with pytest.raises(IrcParseError) as err:
        parse(line)
    assert err.value.reason == reason


def test_too_long_names_its_command_for_the_error_numeric() -> None:
    with pytest.raises(IrcParseError) as err:
        parse(b":ana PRIVMSG #a :" + b"x" * 600)
    assert err.value.command == "PRIVMSG"


def test_serialize_adds_the_colon_only_where_needed() -> None:
    assert serialize(Message("JOIN", ("#a",))) == b"JOIN #a\r\n"
    assert serialize(Message("MODE", ("#a", "+n"))) == b"MODE #a +n\r\n"
    # Text always goes out as a trailing parameter, even a single word.
    assert serialize(Message("PRIVMSG", ("#a", "hola"))) == b"PRIVMSG #a :hola\r\n"
    assert serialize(Message("353", ("ana", "=", "#a", "ana"))) == b"353 ana = #a :ana\r\n"
    assert serialize(Message("PRIVMSG", ("#a", "hola mundo"))) == b"PRIVMSG #a :hola mundo\r\n"
    assert serialize(Message("TOPIC", ("#a", ""))) == b"TOPIC #a :\r\n"
    assert serialize(Message("PRIVMSG", ("#a", ":)"))) == b"PRIVMSG #a ::)\r\n"
    line = serialize(Message("001", ("ana", "Welcome"), "tertulia", {"time": "x;y z"}))
    assert line == b"@time=x\\:y\\sz :tertulia 001 ana :Welcome\r\n"


@pytest.mark.parametrize("params", [("a b", "c"), ("", "c"), (":a", "c"), ("a\r\nQUIT",)])
def test_serialize_refuses_what_would_change_meaning(params: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        serialize(Message("PRIVMSG", params))


_word = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1)
_middle = _word.filter(lambda w: not w.startswith(":"))
_trailing = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n\x00"))


@given(
    st.sampled_from(["PRIVMSG", "NOTICE", "JOIN", "001", "353"]),
    st.lists(_middle, max_size=5),
    _trailing,
    st.dictionaries(st.from_regex(r"\+?[a-z]{1,8}", fullmatch=True), _trailing, max_size=3),
)
def test_serialize_then_parse_round_trips(
    command: str, middle: list[str], last: str, tags: dict[str, str]
) -> None:
    message = Message(command, (*middle, last), "src", tags)
    line = serialize(message)
    if len(line) > BODY_LIMIT:
        return
    assert parse(line) == message


def test_casemapping_is_ascii_and_utf8mapping_rfc8265() -> None:
    # CASEMAPPING=ascii: A-Z fold, so [ ] \ ~ stay distinct from { } | ^.
    assert fold("Ana[m]") == "ana[m]"
    assert fold("ana[m]") != fold("ana{m}")
    # UTF8MAPPING=rfc8265: beyond ASCII, letters fold too (NFKC, then lower case).
    assert fold("ÁNA") == "ána"


_irc_bytes = st.lists(
    st.one_of(
        st.binary(max_size=30),
        st.sampled_from([b"@", b";", b"=", b" ", b":", b"\\", b"\r\n", b"\0", b"\xc3", b"PRIVMSG"]),
    ),
    max_size=20,
).map(b"".join)


@given(_irc_bytes)
def test_any_bytes_parse_or_say_why(line: bytes) -> None:
    # What the fuzzer checks (fuzz/fuzz_irc_message.py), in every `make test`.
    try:
        msg = parse(line)
    except IrcParseError as err:
        assert err.reason and " " not in err.command
        return
    assert msg.command and " " not in msg.command and len(msg.params) <= 15
    if msg.command.isalnum() and not any(c in p for p in msg.params for c in "\r\n"):
        again = serialize(msg)
        if len(again) <= BODY_LIMIT and not msg.tags:
            assert parse(again) == msg


@given(
    nick=st.text(min_size=1, max_size=12),
    target=st.text(max_size=12),
    text=st.text(max_size=40),
    kind=st.sampled_from(list(Kind)),
    user=st.text(max_size=8),
)
def test_the_fast_say_line_is_the_generic_one(
    nick: str, target: str, text: str, kind: Kind, user: str
) -> None:
    def line(make: Callable[[], bytes]) -> bytes | str:
        try:
            return make()
        except ValueError as exc:
            return f"ValueError: {exc}"

    generic = line(lambda: serialize(say_message(nick, target, text, kind, None, user)))
    assert line(lambda: say_line(nick, target, text, kind, user)) == generic


def test_a_reply_quoting_a_huge_nick_is_cut_to_fit_the_line() -> None:
    nick = "ñ" + "x" * 480
    reply = fitted(Message("432", ("*", nick, "Erroneous nickname"), "irc.example.org"))
    line = serialize(reply)
    assert len(line) <= BODY_LIMIT
    assert line.startswith(b":irc.example.org 432 * \xc3\xb1xxx")
    assert line.endswith(b" :Erroneous nickname\r\n")
    # A character is never cut in half.
    wide = fitted(Message("401", ("ana", "ñ" * 300, "No such nick/channel"), "srv"))
    assert len(serialize(wide)) <= BODY_LIMIT
    assert set(wide.params[1]) == {"ñ"}


@given(
    st.lists(
        st.text(
            alphabet=st.characters(codec="utf-8", exclude_characters=" \r\n\0:"),
            min_size=1,
        ),
        min_size=1,
        max_size=4,
    ),
    # Lone surrogates never get this far: every door refuses them where they enter.
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n\0")),
)
def test_fitted_lines_fit_and_short_ones_are_left_alone(middle: list[str], text: str) -> None:
    message = Message("404", (*middle, text), "irc.example.org")
    result = fitted(message)
    assert len(serialize(result)) <= BODY_LIMIT
    if len(serialize(message)) <= BODY_LIMIT:
        assert result == message
