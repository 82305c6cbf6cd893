"""The JSON-lines codec: requests in, replies and events out, never an unexpected exception."""

from __future__ import annotations

import contextlib
import json
from dataclasses import fields
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tertulia.core.errors import BadRequest, NickInUse, TertuliaError
from tertulia.core.events import Joined, Kind, PrivateMessage, Quit, RoomMessage, ServerNotice
from tertulia.protocols import jsonlines as jl


def test_every_request_type_parses() -> None:
    cases: dict[str, dict[str, Any]] = {
        "hello": {"nick": "ana", "password": "s3creto"},
        "register": {"password": "s3creto"},
        "login": {"nick": "ana", "password": "s3creto"},
        "password": {"old": "s3creto", "new": "otro"},
        "say": {"room": "#lobby", "text": "hola", "reply_to": 40},
        "tell": {"to": "bob", "text": "psst", "kind": "action"},
        "join": {"room": "#cats"},
        "part": {"room": "#cats", "reason": "bye"},
        "nick": {"nick": "anita"},
        "who": {"room": "#lobby"},
        "rooms": {},
        "topic": {"room": "#lobby", "topic": "cats"},
        "history": {"room": "#lobby", "before": 120, "limit": 20},
        "search": {"room": "#lobby", "words": "gatos negros", "before": None},
        "ping": {},
        "quit": {"reason": "bed"},
        "kick": {"room": "#cats", "nick": "bob", "reason": "rude"},
        "ban": {"room": "#cats", "target": "bob", "reason": "spam"},
        "unban": {"room": "#cats", "target": "*!*@x"},
        "mute": {"room": "#cats", "target": "bob"},
        "unmute": {"room": "#cats", "target": "bob"},
        "op": {"room": "#cats", "nick": "bob"},
        "deop": {"room": "#cats", "nick": "bob"},
        "voice": {"room": "#cats", "nick": "bob"},
        "devoice": {"room": "#cats", "nick": "bob"},
        "mode": {"room": "#cats", "modes": "+m"},
        "claim": {"room": "#cats"},
        "unclaim": {"room": "#cats"},
        "oper": {"name": "root", "password": "s3cret"},
        "kill": {"nick": "bob", "reason": "flood"},
        "serverban": {"mask": "198.51.100.0/24", "duration": "1d", "reason": "spam"},
        "serverunban": {"mask": "198.51.100.0/24"},
        "serverbans": {},
        "react": {"target": "#cats", "msgid": 41, "emoji": "🐈"},
        "typing": {"target": "bob", "state": "paused"},
        "redact": {"room": "#cats", "msgid": 41, "reason": "typo"},
        "away": {"message": "lunch"},
    }
    assert set(cases) == set(jl.REQUESTS)
    for kind, body in cases.items():
        request = jl.parse_request(json.dumps({"type": kind, "id": 7, **body}))
        assert request.type == kind and request.id == 7
        for name, value in body.items():
            assert getattr(request, name) == value


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{", "not valid JSON"),
        ("[1]", "expected a JSON object"),
        ('{"type": "nope"}', "unknown type"),
        ('{"type": "say", "room": "#x"}', "missing field 'text'"),
        ('{"type": "say", "room": "#x", "text": 5}', "wrong type for field 'text'"),
        ('{"type": "hello", "nick": "a", "v": "1"}', "wrong type for field 'v'"),
        ('{"type": "hello", "nick": "a", "v": true}', "wrong type for field 'v'"),
        ('{"type": "ping", "id": true}', "the id must be"),
        ('{"type": "ping", "id": 1.5}', "the id must be"),
        ('{"type": "ping", "id": [1]}', "the id must be"),
        ('{"type": "say", "room": "#x", "text": "a", "kind": "shout"}', "unknown kind"),
        ("[" * 100_000, "not valid JSON"),
    ],
)
def test_bad_requests_say_what_is_wrong(line: str, reason: str) -> None:
    with pytest.raises(BadRequest) as caught:
        jl.parse_request(line)
    assert reason in caught.value.render()


def test_string_ids_and_a_null_topic() -> None:
    request = jl.parse_request('{"type": "topic", "room": "#x", "topic": null, "id": "a1"}')
    assert isinstance(request, jl.Topic)
    assert request.id == "a1" and request.topic is None


requests = st.one_of(
    st.builds(jl.Hello, nick=st.text(), id=st.integers() | st.text() | st.none()),
    st.builds(
        jl.Say, room=st.text(), text=st.text(), kind=st.sampled_from([k.value for k in Kind])
    ),
    st.builds(jl.Tell, to=st.text(), text=st.text()),
    st.builds(jl.Join, room=st.text()),
    st.builds(jl.Part, room=st.text(), reason=st.text()),
    st.builds(jl.Topic, room=st.text(), topic=st.text() | st.none()),
    st.builds(jl.Rooms, id=st.integers()),
    st.builds(jl.Disconnect, reason=st.text()),
)


@given(requests)
def test_encode_then_parse_is_the_same_request(request: jl.Request) -> None:
    line = jl.encode_request(request)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert jl.parse_request(line.decode()) == request


@given(st.text())
def test_parsing_raises_only_user_errors(text: str) -> None:
    with contextlib.suppress(TertuliaError):
        jl.parse_request(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.sampled_from(["type", "id", "nick", "room", "text", "v"]), json_values))
def test_parsing_any_object_raises_only_user_errors(obj: dict[str, Any]) -> None:
    try:
        request = jl.parse_request(json.dumps(obj))
    except TertuliaError:
        return
    for f in fields(request):
        assert (
            f.name == "id"
            or getattr(request, f.name) is None
            or not isinstance(getattr(request, f.name), list | dict)
        )


def test_events_as_objects() -> None:
    encoder = jl.JsonEncoder(str)
    message = json.loads(encoder.encode(RoomMessage(3, 1.5, "#lobby", "ana", "hola")) or b"")
    assert message == {
        "type": "message", "room": "#lobby", "from": "ana", "text": "hola",
        "kind": "message", "msgid": 3, "ts": 1.5,
    }  # fmt: skip
    private = json.loads(
        encoder.encode(PrivateMessage(4, 2.0, "ana", "bob", "x", Kind.ACTION)) or b""
    )
    assert private["type"] == "private" and private["to"] == "bob" and private["kind"] == "action"
    assert json.loads(encoder.encode(Joined("#x", "ana")) or b"") == {
        "type": "join",
        "room": "#x",
        "nick": "ana",
    }
    assert json.loads(encoder.encode(Quit("ana", "r")) or b"") == {
        "type": "quit",
        "nick": "ana",
        "reason": "r",
    }
    notice = json.loads(
        encoder.encode(ServerNotice("shutdown", "bye {who}", (("who", "all"),))) or b""
    )
    assert notice == {"type": "notice", "code": "shutdown", "text": "bye all"}


def test_non_ascii_text_is_sent_as_utf8_not_escaped() -> None:
    line = jl.JsonEncoder(str).encode(RoomMessage(1, 0.0, "#x", "ana", "¿qué tal?"))
    assert line is not None and "¿qué tal?".encode() in line


def test_replies_echo_the_id() -> None:
    assert json.loads(jl.reply(9, room="#x")) == {"type": "ok", "id": 9, "room": "#x"}
    assert json.loads(jl.reply(None, "pong")) == {"type": "pong"}
    error = json.loads(jl.error_reply("q", NickInUse(nick="ana"), str))
    assert error == {
        "type": "error", "id": "q", "code": "nick_in_use",
        "text": "the nick ana is already in use, choose another",
    }  # fmt: skip


def test_history_paging_fields_are_checked() -> None:
    with pytest.raises(BadRequest) as caught:
        jl.parse_request('{"type": "history", "room": "#a", "before": "12"}')
    assert "wrong type for field 'before'" in caught.value.render()
    with pytest.raises(BadRequest) as caught:
        jl.parse_request('{"type": "search", "room": "#a", "words": "x", "limit": true}')
    assert "wrong type for field 'limit'" in caught.value.render()
    line = jl.history(3, "search", "#a", [RoomMessage(9, 1.5, "#a", "ana", "hola")], True)
    assert json.loads(line) == {
        "type": "search", "id": 3, "room": "#a", "more": True,
        "messages": [{"msgid": 9, "ts": 1.5, "from": "ana", "text": "hola", "kind": "message"}],
    }  # fmt: skip


@given(
    room=st.text(min_size=1, max_size=20),
    sender=st.text(min_size=1, max_size=20),
    text=st.text(max_size=60),
    msgid=st.integers(min_value=1, max_value=1 << 53),
    ts=st.floats(min_value=0, max_value=4e9, allow_nan=False),
    account=st.text(max_size=10),
    reply_to=st.one_of(st.none(), st.integers(min_value=1, max_value=1 << 40)),
    kind=st.sampled_from(list(Kind)),
    rid=st.one_of(st.none(), st.integers(min_value=-(1 << 40), max_value=1 << 40), st.text()),
)
def test_the_fast_message_lines_are_the_generic_ones(
    room: str,
    sender: str,
    text: str,
    msgid: int,
    ts: float,
    account: str,
    reply_to: int | None,
    kind: Kind,
    rid: str | int | None,
) -> None:
    tags = () if reply_to is None else ((jl.REPLY_TAG, str(reply_to)),)
    message = RoomMessage(msgid, ts, room, sender, text, kind, account, False, tags)
    assert jl.message_line(message) == jl.dumps(jl.event_object(message, str))
    assert jl.said(rid, message) == jl.reply(rid, msgid=msgid, ts=ts, room=room)
    private = PrivateMessage(msgid, ts, sender, room, text, kind, account)
    assert jl.said(rid, private) == jl.reply(rid, msgid=msgid, ts=ts, to=room)
