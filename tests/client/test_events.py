"""The client library's typed events, parsed from the bytes a server sends."""

from __future__ import annotations

import time

import pytest

from tertulia.client import events as ev
from tertulia.client.render import render
from tertulia.i18n import translator


def test_a_message_and_an_action() -> None:
    line = (
        b'{"type":"message","room":"#lobby","from":"ana","text":"hola",'
        b'"kind":"message","msgid":"7","ts":1.5}\n'
    )
    assert ev.parse(line) == ev.Message("#lobby", "ana", "hola", "message", "7", 1.5)
    action = ev.parse(line.replace(b'"kind":"message"', b'"kind":"action"'))
    assert isinstance(action, ev.Message) and action.kind == "action"


def test_the_welcome_carries_rooms_and_the_request_id() -> None:
    line = (
        '{"type":"welcome","id":1,"v":1,"nick":"ana","server":"t","version":"0.1",'
        '"rooms":[{"room":"#lobby","topic":"","members":["ana","bo"]}]}'
    )
    welcome = ev.parse(line)
    assert welcome == ev.Welcome("ana", "t", "0.1", (ev.RoomState("#lobby", "", ("ana", "bo")),), 1)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"type":"join","room":"#a","nick":"bo"}', ev.Joined("#a", "bo")),
        ('{"type":"part","room":"#a","nick":"bo","reason":"x"}', ev.Parted("#a", "bo", "x")),
        ('{"type":"quit","nick":"bo","reason":""}', ev.Quit("bo", "")),
        ('{"type":"nick","old":"bo","new":"bob"}', ev.NickChanged("bo", "bob")),
        ('{"type":"topic","room":"#a","nick":"bo","topic":"t"}', ev.TopicChanged("#a", "bo", "t")),
        ('{"type":"notice","code":"shutdown","text":"bye"}', ev.Notice("shutdown", "bye")),
        (
            '{"type":"mode","room":"#a","by":"ana","modes":"+o","args":["bo"]}',
            ev.ModeChanged("#a", "ana", "+o", ("bo",)),
        ),
        ('{"type":"invite","room":"#a","nick":"bo","by":"ana"}', ev.Invited("#a", "bo", "ana")),
        (
            '{"type":"kick","room":"#a","nick":"bo","by":"ana","reason":"x"}',
            ev.Kicked("#a", "bo", "ana", "x"),
        ),
        (
            '{"type":"error","id":3,"code":"nick_in_use","text":"taken"}',
            ev.ErrorReply(3, "nick_in_use", "taken"),
        ),
        ('{"type":"ok","id":4,"room":"#a"}', ev.Reply(4, "ok", {"room": "#a"})),
        ('{"type":"pong","id":5}', ev.Reply(5, "pong", {})),
    ],
)
def test_every_kind_of_line(line: str, expected: ev.Incoming) -> None:
    assert ev.parse(line) == expected


def test_the_plain_greeting_is_not_an_event() -> None:
    assert ev.parse(b"* welcome to tertulia: type your nick\n") is None


@pytest.mark.parametrize("line", [b"{not json", b'{"no":"type"}', b'{"type":"message"}'])
def test_malformed_lines_are_bad_lines(line: bytes) -> None:
    with pytest.raises(ev.BadLine):
        ev.parse(line)


def test_the_replay_on_joining_is_a_history_event_rendered_with_times() -> None:
    ts = time.mktime((2026, 11, 25, 14, 2, 0, 0, 0, -1))
    line = (
        '{"type":"history","room":"#lobby","more":false,"messages":['
        f'{{"msgid":4,"ts":{ts},"from":"ana","text":"hola","kind":"message"}},'
        f'{{"msgid":5,"ts":{ts},"from":"bob","text":"saluda","kind":"action"}}]}}'
    )
    event = ev.parse(line)
    assert isinstance(event, ev.History) and event.room == "#lobby" and not event.more
    assert [(m.sender, m.text, m.kind) for m in event.messages] == [
        ("ana", "hola", "message"),
        ("bob", "saluda", "action"),
    ]
    assert render(event, "eva", translator("en")) == (
        "14:02 #lobby [ana] hola\n14:02 #lobby * bob saluda"
    )
    # A reply to a history request (it has an id) stays a plain reply.
    assert isinstance(ev.parse('{"type":"history","id":3,"room":"#a","messages":[]}'), ev.Reply)


def test_room_states_say_who_runs_the_room_has_a_voice_or_is_away() -> None:
    line = (
        '{"type":"welcome","id":1,"nick":"ana","rooms":[{"room":"#a","topic":"t",'
        '"members":["ana","bo","eva"],"operators":["bo"],"voiced":["eva"],"away":["eva"]}]}'
    )
    welcome = ev.parse(line)
    assert isinstance(welcome, ev.Welcome)
    assert welcome.rooms[0] == ev.RoomState(
        "#a", "t", ("ana", "bo", "eva"), ("bo",), ("eva",), ("eva",)
    )
    # A join or who reply is the same shape, read by the same function.
    reply = ev.parse('{"type":"ok","id":2,"room":"#b","topic":"","members":["x"]}')
    assert isinstance(reply, ev.Reply)
    assert ev.room_state(reply.data) == ev.RoomState("#b", "", ("x",))


def test_replies_reactions_typing_redaction_and_away() -> None:
    reply = ev.parse(
        '{"type":"message","room":"#a","from":"bo","text":"sí","kind":"message",'
        '"msgid":43,"ts":2,"reply_to":42}'
    )
    assert isinstance(reply, ev.Message) and (reply.msgid, reply.reply_to) == ("43", "42")
    private = ev.parse(
        '{"type":"private","from":"bo","to":"ana","text":"y","msgid":44,"ts":2,"reply_to":7}'
    )
    assert isinstance(private, ev.Private) and private.reply_to == "7"
    assert ev.parse(
        '{"type":"react","room":"#a","from":"ana","msgid":42,"emoji":"👍"}'
    ) == ev.Reaction("ana", "42", "👍", room="#a")
    assert ev.parse(
        '{"type":"react","to":"bo","from":"ana","msgid":44,"emoji":"🎉"}'
    ) == ev.Reaction("ana", "44", "🎉", to="bo")
    assert ev.parse('{"type":"typing","room":"#a","from":"ana","state":"active"}') == ev.Typing(
        "ana", "active", room="#a"
    )
    assert ev.parse(
        '{"type":"redact","room":"#a","msgid":42,"by":"ana","reason":""}'
    ) == ev.Redaction("#a", "42", "ana")
    assert ev.parse('{"type":"away","nick":"bo","message":"lunch"}') == ev.AwayChanged(
        "bo", "lunch"
    )
    # The replies to those requests stay replies.
    assert isinstance(ev.parse('{"type":"ok","id":9}'), ev.Reply)


def test_history_carries_replies_and_reactions() -> None:
    line = (
        '{"type":"history","room":"#a","more":false,"messages":['
        '{"msgid":42,"ts":1,"from":"ana","text":"hola","kind":"message",'
        '"reactions":[{"emoji":"👍","from":["bo","eva"]}]},'
        '{"msgid":43,"ts":2,"from":"bo","text":"sí","kind":"message","reply_to":42}]}'
    )
    event = ev.parse(line)
    assert isinstance(event, ev.History)
    first, second = event.messages
    assert first.reactions == (ev.Reactions("👍", ("bo", "eva")),) and first.reply_to == ""
    assert second.reply_to == "42" and second.reactions == ()


def test_the_line_mode_quotes_what_replies_answer_and_reactions_are_about() -> None:
    ts = time.mktime((2026, 11, 25, 14, 2, 0, 0, 0, -1))
    replay = ev.parse(
        '{"type":"history","room":"#a","messages":['
        f'{{"msgid":42,"ts":{ts},"from":"ana","text":"hola","kind":"message"}},'
        f'{{"msgid":43,"ts":{ts},"from":"bo","text":"sí","kind":"message","reply_to":42}}]}}'
    )
    assert isinstance(replay, ev.History)
    tr = translator("en")
    assert render(replay, "eva", tr) == "14:02 #a [ana] hola\n14:02 #a [bo] ↪ ana: «hola» sí"
    said = {"42": ("ana", "x" * 50)}

    def quoted(conversation: str, msgid: str) -> tuple[str, str] | None:
        return said.get(msgid) if conversation == "#a" else None

    reply = ev.Message("#a", "bo", "sí", "message", "44", 1.0, reply_to="42")
    assert render(reply, "eva", tr, quoted) == f"#a [bo] ↪ ana: «{'x' * 39}…» sí"
    reaction = ev.Reaction("bo", "42", "👍", room="#a")
    assert render(reaction, "eva", tr, quoted) == f"#a * bo reacted 👍 to ana: «{'x' * 39}…»"
    # About a message nobody here saw: nothing, as on the plain door.
    assert render(ev.Reaction("bo", "7", "👍", room="#a"), "eva", tr, quoted) is None
