"""Facts as bytes and back (bus.facts), without Redis: every kind round-trips, and bytes
that are not a fact decode to None instead of raising."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tertulia.bus.facts import Account, Announce, Kill, Owner, Unban, decode, encode
from tertulia.core.bans import ServerBan
from tertulia.core.events import (
    AwayChanged,
    Invited,
    Joined,
    Kicked,
    Kind,
    ModeChanged,
    NickChanged,
    Parted,
    PrivateMessage,
    Quit,
    Redacted,
    RoomMessage,
    TagMessage,
    TopicChanged,
)
from tertulia.core.replica import Hello

EVENTS = [
    Hello("ana", "a", "Ana", "ana", "lejos", "iw", 12.5, (("#lobby", ""), ("#café", "o"))),
    NickChanged("ana", "Ána"),
    Quit("ana", "adiós"),
    AwayChanged("ana", ""),
    Parted("#lobby", "ana", "me voy"),
    Kicked("#lobby", "bob", "ana", "fuera"),
    TopicChanged("#lobby", "ana", "tema \u202e raro"),
    ModeChanged("#lobby", "ana", "+ov-k", ("bob", "eva", "*")),
    RoomMessage(64, 1.5, "#lobby", "ana", "hola 👋", Kind.ACTION, "ana", True, (("+x", "1"),)),
    PrivateMessage(129, 2.5, "ana", "bob", "en privado", Kind.NOTICE, "", (("+y", "2"),)),
    TagMessage(130, "ana", "#lobby", (("+typing", "active"),), "ana"),
    Redacted("#lobby", 64, "ana", "error"),
    ServerBan("127.0.0.2", "spam", "op", 3.0, 4.0),
    Unban("127.0.0.2"),
    Kill("n2", "bob", "op", "flooding"),
    Announce("el servidor se reinicia a las 3"),
    Invited("#sala", "bob", "ana"),
    Owner("#sala", "ana"),
    Account("ana", "Anita"),
    Account("anita", ""),  # dropped
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_fact_comes_back_as_it_went(event: object) -> None:
    fact = decode(encode("n1", 99.25, event))  # type: ignore[arg-type]
    assert fact is not None
    assert (fact.node, fact.at, fact.event) == ("n1", 99.25, event)


def test_a_join_carries_its_standing_and_a_bye_its_node() -> None:
    fact = decode(encode("n1", 1.0, Joined("#lobby", "ana"), flag="o"))
    assert fact is not None and fact.flag == "o" and fact.event == Joined("#lobby", "ana")
    bye = decode(encode("n7", 1.0, None, type_="bye"))
    assert bye is not None and (bye.type, bye.node, bye.event) == ("bye", "n7", None)


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b"[]", b"null", b'{"n":"x"}', b'{"n":"x","at":1,"t":"nope"}',
     b'{"n":"x","at":"soon","t":"quit","nick":"a","reason":""}',
     b'{"n":"x","at":1,"t":"msg","id":"one"}', b'{"n":"x","at":1,"t":"account","old":"a"}',
     b"\xff\xfe"],
)  # fmt: skip
def test_what_is_not_a_fact_is_skipped(data: bytes) -> None:
    assert decode(data) is None


@given(st.binary(max_size=200))
def test_no_bytes_make_decoding_raise(data: bytes) -> None:
    decode(data)


@given(st.text(max_size=50), st.text(max_size=50))
def test_any_text_round_trips(nick: str, text: str) -> None:
    event = RoomMessage(1, 0.0, "#r", nick, text)
    fact = decode(encode("n", 0.0, event))
    assert fact is not None and fact.event == event
