"""Other nodes' users in a hub (core.replica), with in-memory sinks: what local members
hear, and that applying the same fact twice changes nothing."""

from __future__ import annotations

import pytest
from test_hub import CountingEncoder, member

from tertulia.core.bans import ServerBan
from tertulia.core.errors import NickInUse
from tertulia.core.events import (
    AwayChanged,
    Joined,
    ModeChanged,
    NickChanged,
    Parted,
    RoomMessage,
    TopicChanged,
)
from tertulia.core.hub import Hub, Limits
from tertulia.core.replica import Hello, Mirror, Replica, hello


def test_a_mirror_is_a_member_that_never_receives() -> None:
    hub, encoder = Hub(), CountingEncoder()
    replica = Replica(hub)
    ana, inbox = member(hub, "ana", encoder)
    inbox.got.clear()
    bob = replica.hello("n2", Hello("bob", rooms=(("#lobby", ""), ("#cafe", "o"))))
    assert isinstance(bob, Mirror) and bob.node == "n2"
    assert set(hub.rooms["#lobby"].members) == {"ana", "bob"}
    assert bob not in hub.rooms["#lobby"].receivers
    assert "bob" in hub.rooms["#cafe"].operators
    assert encoder.events == [Joined("#lobby", "bob")]  # ana hears bob come, once
    # Nobody here may take bob's nick while bob is there.
    other, _ = member(hub, "other", encoder)
    with pytest.raises(NickInUse):
        hub.change_nick(other, "BOB")
    assert ana.key in hub.rooms["#lobby"].members


def test_facts_applied_twice_change_nothing_more() -> None:
    hub, encoder = Hub(), CountingEncoder()
    replica = Replica(hub)
    member(hub, "ana", encoder)
    state = Hello("bob", "b", "Bob", rooms=(("#lobby", ""),))
    for _ in range(2):
        replica.hello("n2", state)
        replica.join("n2", Joined("#lobby", "bob"))
        replica.topic("n2", TopicChanged("#lobby", "bob", "hola"), 1.0)
    joins = [e for e in encoder.events if isinstance(e, Joined)]
    assert [j.nick for j in joins] == ["bob"]  # ana hears bob come once
    assert hub.rooms["#lobby"].topic == "hola"
    replica.part("n2", Parted("#lobby", "bob"))
    replica.part("n2", Parted("#lobby", "bob"))
    assert sum(isinstance(e, Parted) for e in encoder.events) == 1
    assert "bob" not in hub.rooms["#lobby"].members


def test_facts_of_a_nick_another_node_does_not_serve_are_ignored() -> None:
    hub, encoder = Hub(), CountingEncoder()
    replica = Replica(hub)
    member(hub, "ana", encoder)
    replica.hello("n2", Hello("bob", rooms=(("#lobby", ""),)))
    # n3 says something of bob (a collision it lost): n2's bob stays as it is.
    replica.part("n3", Parted("#lobby", "bob"))
    replica.nick("n3", NickChanged("bob", "zed"))
    replica.away("n3", AwayChanged("bob", "lunch"))
    assert "bob" in hub.rooms["#lobby"].members and hub.sessions["bob"].away == ""
    # A local nick is never taken over by another node's hello.
    assert replica.hello("n2", Hello("ana")) is None
    assert not isinstance(hub.sessions["ana"], Mirror)


def test_nick_changes_modes_and_messages_reach_local_members() -> None:
    hub, encoder = Hub(Limits(replay=10)), CountingEncoder()
    replica = Replica(hub)
    _, inbox = member(hub, "ana", encoder, "#lobby")
    replica.hello("n2", Hello("bob", rooms=(("#lobby", "o"),)))
    replica.nick("n2", NickChanged("bob", "Roberto"))
    assert "roberto" in hub.rooms["#lobby"].operators and "bob" not in hub.sessions
    replica.modes("n2", ModeChanged("#lobby", "Roberto", "+mv", ("ana",)))
    assert "m" in hub.rooms["#lobby"].modes and "ana" in hub.rooms["#lobby"].voiced
    inbox.got.clear()
    said = RoomMessage(64, 1.0, "#lobby", "Roberto", "hola")
    replica.message(said)
    assert inbox.got == [repr(said).encode()]
    assert hub.replay(hub.rooms["#lobby"]) == [said]  # shown to whoever joins next


def test_a_node_gone_takes_its_users_and_their_rooms_with_it() -> None:
    hub = Hub()
    replica = Replica(hub)
    connected = hub.connected
    for nick in ("bob", "eva"):
        replica.hello("n2", Hello(nick, rooms=(("#cafe", ""),)))
    replica.hello("n3", Hello("zoe", rooms=(("#lobby", ""),)))
    assert hub.connected == connected + 3
    assert replica.node_gone("n2", "Node lost") == 2
    assert "#cafe" not in hub.rooms and set(hub.sessions) == {"zoe"}
    assert hub.connected == connected + 1


def test_a_ban_from_another_node_puts_out_local_users_it_matches() -> None:
    hub, encoder = Hub(), CountingEncoder()
    replica = Replica(hub)
    put_out = []
    hub.on_banned = lambda session, entry: put_out.append(session.nick)
    member(hub, "spam", encoder)
    member(hub, "ana", encoder)
    replica.ban(ServerBan("spam!*@*", "spam", "op", 1.0), "spam!*@*")
    assert put_out == ["spam"] and "spam" not in hub.sessions
    replica.ban(None, "spam!*@*")
    assert len(hub.bans) == 0


def test_hello_says_what_others_may_see_of_a_session() -> None:
    hub, encoder = Hub(), CountingEncoder()
    ana, _ = member(hub, "ana", encoder, "#lobby", "#cafe")
    hub.set_away(ana, "comiendo")
    said = hello(ana)
    assert said.nick == "ana" and said.away == "comiendo"
    assert dict(said.rooms) == {"#lobby": "", "#cafe": "o"}
