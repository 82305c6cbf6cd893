"""The hub with in-memory sinks: who hears what, how often, and the rules it enforces."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tertulia.core.errors import (
    BadKey,
    BadMode,
    BadText,
    EmptyMessage,
    InviteOnly,
    MessageTooLong,
    Moderated,
    NickInUse,
    NickInvalid,
    NoSuchNick,
    NotInRoom,
    NotMember,
    NotOperator,
    NotRegistered,
    RedactForbidden,
    RoomFull,
    TopicTooLong,
    UnknownMessage,
)
from tertulia.core.events import (
    Event,
    Joined,
    Kicked,
    Kind,
    ModeChanged,
    NickChanged,
    Parted,
    PrivateMessage,
    Quit,
    RoomMessage,
    ServerNotice,
)
from tertulia.core.hub import ORPHAN_RINGS, Hub, Limits, RoomDelivery, Settled
from tertulia.core.session import Door, Session


class Inbox:
    """A sink that keeps what it is given: the hub's real output, read back by the test."""

    def __init__(self) -> None:
        self.got: list[bytes] = []
        self.closed = False

    def deliver(self, data: bytes) -> None:
        self.got.append(data)

    deliver_later = deliver

    def close(self, data: bytes | None = None) -> None:
        self.closed = True


class CountingEncoder:
    def __init__(self) -> None:
        self.calls = 0
        self.events: list[Event] = []

    def encode(self, event: Event) -> bytes | None:
        self.calls += 1
        self.events.append(event)
        return repr(event).encode()


def member(hub: Hub, nick: str, encoder: CountingEncoder, *rooms: str) -> tuple[Session, Inbox]:
    inbox = Inbox()
    session = hub.connect(inbox, encoder, Door.PLAIN)
    hub.register(session, nick)
    for room in rooms or ("#lobby",):
        hub.join(session, room)
    return session, inbox


@pytest.fixture
def encoder() -> CountingEncoder:
    return CountingEncoder()


def test_a_message_reaches_every_other_member_once_and_never_the_sender(
    encoder: CountingEncoder,
) -> None:
    hub = Hub()
    ana, ana_in = member(hub, "ana", encoder)
    _, bob_in = member(hub, "bob", encoder)
    _, eva_in = member(hub, "eva", encoder)
    for inbox in (ana_in, bob_in, eva_in):
        inbox.got.clear()
    event = hub.say(ana, "#lobby", "hola")
    assert ana_in.got == []
    assert bob_in.got == eva_in.got == [repr(event).encode()]


def test_one_encoding_per_event_whatever_the_number_of_recipients() -> None:
    hub = Hub()
    plain, json_ = CountingEncoder(), CountingEncoder()
    sender, _ = member(hub, "sender", plain)
    inboxes = [member(hub, f"p{i}", plain)[1] for i in range(50)]
    inboxes += [member(hub, f"j{i}", json_)[1] for i in range(50)]
    plain.calls = json_.calls = 0
    hub.say(sender, "#lobby", "to everyone")
    assert (plain.calls, json_.calls) == (1, 1)
    # Not equal bytes: the very same object, shared by every recipient of one format.
    payloads = {id(inbox.got[-1]) for inbox in inboxes[:50]}
    assert len(payloads) == 1


def test_an_anonymous_listener_hears_the_room_but_is_not_seen(encoder: CountingEncoder) -> None:
    hub = Hub()
    ana, _ = member(hub, "ana", encoder)
    ears = Inbox()
    listener = hub.connect(ears, encoder, Door.PLAIN)
    hub.listen(listener)
    assert hub.room("#lobby").nicks() == ["ana"]
    encoder.events.clear()
    hub.say(ana, "#lobby", "hi")
    assert len(ears.got) == 1
    hub.register(listener, "late")
    hub.join(listener, "#lobby")
    assert hub.room("#lobby").nicks() == ["ana", "late"]
    assert Joined("#lobby", "late") in encoder.events


def test_nicks_are_unique_ignoring_case(encoder: CountingEncoder) -> None:
    hub = Hub()
    member(hub, "Ana", encoder)
    other = hub.connect(Inbox(), encoder, Door.PLAIN)
    for taken in ("ana", "ANA", "aNa"):
        with pytest.raises(NickInUse):
            hub.register(other, taken)
    with pytest.raises(NickInvalid):
        hub.register(other, "1ana")
    hub.register(other, "ana2")
    assert other.nick == "ana2"


def test_a_nick_change_is_told_once_to_each_neighbour(encoder: CountingEncoder) -> None:
    hub = Hub()
    ana, _ = member(hub, "ana", encoder, "#lobby", "#cats", "#dogs")
    _, bob_in = member(hub, "bob", encoder, "#lobby", "#cats")
    _, loner_in = member(hub, "loner", encoder, "#elsewhere")
    bob_in.got.clear()
    loner_in.got.clear()
    hub.change_nick(ana, "Anita")
    assert bob_in.got == [repr(NickChanged("ana", "Anita")).encode()]
    assert loner_in.got == []
    assert "Anita" in hub.room("#cats").nicks()
    assert hub.session("ANITA") is ana
    with pytest.raises(NoSuchNick):
        hub.session("ana")
    # A change of case only is a change too, and keeps the nick.
    assert hub.change_nick(ana, "ANITA") is not None


def test_disconnect_tells_each_neighbour_once_and_frees_the_nick(encoder: CountingEncoder) -> None:
    hub = Hub()
    ana, _ = member(hub, "ana", encoder, "#lobby", "#cats")
    _, bob_in = member(hub, "bob", encoder, "#lobby", "#cats")
    bob_in.got.clear()
    hub.disconnect(ana, "gone")
    assert bob_in.got == [repr(Quit("ana", "gone")).encode()]
    assert "ana" not in hub.sessions
    assert hub.room("#cats").nicks() == ["bob"]
    again = hub.connect(Inbox(), encoder, Door.PLAIN)
    hub.register(again, "ana")


def test_rooms_go_when_empty_unless_persistent(encoder: CountingEncoder) -> None:
    hub = Hub(Limits(persistent_rooms=("#lobby", "#keep")))
    ana, _ = member(hub, "ana", encoder, "#lobby", "#cats", "#keep")
    hub.part(ana, "#cats")
    hub.part(ana, "#keep")
    hub.part(ana, "#lobby")
    assert sorted(hub.rooms) == ["#keep", "#lobby"]
    with pytest.raises(NotInRoom):
        hub.say(ana, "#cats", "anyone?")


def test_message_rules(encoder: CountingEncoder) -> None:
    hub = Hub(Limits(max_message_bytes=512))
    ana, _ = member(hub, "ana", encoder)
    hub.say(ana, "#lobby", "a" * 512)
    hub.say(ana, "#lobby", "tab\tis fine")
    with pytest.raises(MessageTooLong):
        hub.say(ana, "#lobby", "a" * 513)
    with pytest.raises(MessageTooLong):  # the limit counts UTF-8 bytes, not characters
        hub.say(ana, "#lobby", "é" * 257)
    hub.say(ana, "#lobby", "é" * 256)
    for bad in ("\x1b[31mred", "nul\x00", "bell\x07", "c1\x9b"):
        with pytest.raises(BadText):
            hub.say(ana, "#lobby", bad)
    with pytest.raises(EmptyMessage):
        hub.say(ana, "#lobby", "   ")
    with pytest.raises(NotInRoom):
        hub.say(ana, "#nowhere", "x")
    with pytest.raises(NoSuchNick):
        hub.tell(ana, "ghost", "x")
    anonymous = hub.connect(Inbox(), encoder, Door.PLAIN)
    with pytest.raises(NotRegistered):
        hub.say(anonymous, "#lobby", "who am I")


def test_private_messages_and_actions(encoder: CountingEncoder) -> None:
    hub = Hub()
    ana, ana_in = member(hub, "ana", encoder)
    _, bob_in = member(hub, "BOB", encoder)
    _, eva_in = member(hub, "eva", encoder)
    for inbox in (ana_in, bob_in, eva_in):
        inbox.got.clear()
    event = hub.tell(ana, "bob", "psst", Kind.ACTION)
    assert event.target == "BOB" and event.kind is Kind.ACTION
    assert len(bob_in.got) == 1 and eva_in.got == [] and ana_in.got == []


def test_topics(encoder: CountingEncoder) -> None:
    hub = Hub(Limits(topic_length=10))
    ana, _ = member(hub, "ana", encoder)
    _, bob_in = member(hub, "bob", encoder)
    bob_in.got.clear()
    hub.topic(ana, "#lobby", "  cats  ")
    assert hub.room("#lobby").topic == "cats" and hub.room("#lobby").topic_by == "ana"
    assert len(bob_in.got) == 1
    with pytest.raises(TopicTooLong):
        hub.topic(ana, "#lobby", "x" * 11)
    with pytest.raises(BadText):
        hub.topic(ana, "#lobby", "\x1b")


def test_announce_reaches_everyone_once_and_observers_see_every_event(
    encoder: CountingEncoder,
) -> None:
    hub = Hub()
    seen: list[Event] = []
    hub.observers.append(seen.append)
    ana, ana_in = member(hub, "ana", encoder, "#lobby", "#cats")
    _, bob_in = member(hub, "bob", encoder, "#lobby", "#cats")
    ana_in.got.clear()
    bob_in.got.clear()
    notice = ServerNotice("shutdown", "bye")
    hub.announce(notice)
    assert len(ana_in.got) == len(bob_in.got) == 1
    said = hub.say(ana, "#cats", "x")
    assert seen[-2:] == [notice, said]
    assert isinstance(said, RoomMessage)


def test_part_and_quit_reasons_lose_control_characters(encoder: CountingEncoder) -> None:
    hub = Hub(Limits(topic_length=20))
    ana, _ = member(hub, "ana", encoder, "#lobby", "#cats")
    member(hub, "bob", encoder, "#lobby", "#cats")
    encoder.events.clear()
    hub.part(ana, "#cats", "\x1b[2Jbye\x07")
    hub.disconnect(ana, "x" * 50)
    assert encoder.events == [Parted("#cats", "ana", "[2Jbye"), Quit("ana", "x" * 20)]


def test_the_first_to_join_is_operator_and_may_kick(encoder: CountingEncoder) -> None:
    hub = Hub(Limits())
    ana, ana_in = member(hub, "ana", encoder, "#dev")
    bob, bob_in = member(hub, "bob", encoder, "#dev")
    room = hub.room("#dev")
    assert hub.is_operator(room, ana) and not hub.is_operator(room, bob)
    with pytest.raises(NotOperator):
        hub.kick(bob, "#dev", "ana")
    with pytest.raises(NotMember):
        hub.kick(ana, "#dev", "nobody")
    ana_in.got.clear()
    bob_in.got.clear()
    event = hub.kick(ana, "#dev", "BOB", "spam\x07")
    assert event == Kicked("#dev", "bob", "ana", "spam")
    assert len(ana_in.got) == 1 and len(bob_in.got) == 1  # the kicker and the kicked hear it
    assert "#dev" not in {r.name for r in bob.rooms.values()}
    assert room.nicks() == ["ana"]


def test_operators_follow_nick_changes_and_leave_with_their_owner(encoder: CountingEncoder) -> None:
    hub = Hub(Limits())
    ana, _ = member(hub, "ana", encoder, "#dev")
    bob, _ = member(hub, "bob", encoder, "#dev")
    hub.change_nick(ana, "anita")
    room = hub.room("#dev")
    assert hub.is_operator(room, ana)
    hub.part(ana, "#dev")
    assert room.operators == set()
    with pytest.raises(NotOperator):
        hub.kick(bob, "#dev", "bob")


def test_modes_guard_joining_speaking_and_topics(encoder: CountingEncoder) -> None:
    hub = Hub(Limits())
    ana, _ = member(hub, "ana", encoder, "#dev")
    bob, bob_in = member(hub, "bob", encoder, "#dev")
    with pytest.raises(NotOperator):
        hub.set_modes(bob, "#dev", [(True, "m", "")])
    event, refused = hub.set_modes(
        ana, "#dev", [(True, "m", ""), (True, "t", ""), (True, "v", "bob")]
    )
    assert event == ModeChanged("#dev", "ana", "+mtv", ("bob",)) and refused == []
    assert hub.set_modes(ana, "#dev", [(True, "m", "")]) == (None, [])  # nothing changed
    hub.say(bob, "#dev", "voiced, so heard")
    hub.set_modes(ana, "#dev", [(False, "v", "bob")])
    with pytest.raises(Moderated):
        hub.say(bob, "#dev", "not any more")
    with pytest.raises(NotOperator):
        hub.topic(bob, "#dev", "mine")
    hub.set_modes(ana, "#dev", [(True, "i", ""), (True, "k", "sesame"), (True, "l", "2")])
    eva, _ = member(hub, "eva", encoder, "#other")
    with pytest.raises(InviteOnly):
        hub.join(eva, "#dev", "sesame")
    hub.invite(ana, "#dev", "eva")
    hub.join(eva, "#dev")  # an invitation opens +i, +k and +l, once
    hub.part(eva, "#dev")
    with pytest.raises(InviteOnly):
        hub.join(eva, "#dev", "sesame")
    hub.set_modes(ana, "#dev", [(False, "i", "")])
    with pytest.raises(BadKey):
        hub.join(eva, "#dev", "wrong")
    with pytest.raises(RoomFull):
        hub.join(eva, "#dev", "sesame")
    # An unknown mode is refused alone, and said so; the known ones beside it still apply.
    event, refused = hub.set_modes(ana, "#dev", [(True, "s", ""), (True, "z", "")])
    assert event == ModeChanged("#dev", "ana", "+s", ()) and isinstance(refused[0], BadMode)
    assert bob_in.got  # bob heard the mode changes


def test_the_last_messages_of_rooms_that_are_gone_do_not_pile_up() -> None:
    hub = Hub(Limits(replay=5))
    ana, _ = member(hub, "ana", CountingEncoder())
    for i in range(ORPHAN_RINGS + 50):
        hub.join(ana, f"#r{i}")
        hub.say(ana, f"#r{i}", "hola")
        hub.part(ana, f"#r{i}")
    assert len(hub.recent) == ORPHAN_RINGS
    assert "#r0" not in hub.recent and f"#r{ORPHAN_RINGS + 49}" in hub.recent
    # A room that comes back finds its last messages while they are kept.
    room = hub.join(ana, f"#r{ORPHAN_RINGS + 49}")
    assert [m.text for m in hub.replay(room)] == ["hola"]


def test_only_the_sender_takes_a_message_back_not_the_next_holder_of_its_nick() -> None:
    hub = Hub(Limits(replay=10))
    ana, _ = member(hub, "ana", CountingEncoder(), "#dev")
    boss, _ = member(hub, "boss", CountingEncoder(), "#dev")
    said = hub.say(ana, "#dev", "oops")
    hub.disconnect(ana)
    taker, _ = member(hub, "ana", CountingEncoder(), "#dev")
    with pytest.raises(RedactForbidden):
        hub.redact(taker, "#dev", said.id)
    with pytest.raises(RedactForbidden):
        hub.redact(boss, "#dev", said.id)  # neither its sender nor an operator
    mine = hub.say(taker, "#dev", "mine")
    assert hub.redact(taker, "#dev", mine.id).msgid == mine.id
    with pytest.raises(UnknownMessage):
        hub.redact(taker, "#dev", mine.id)  # gone already


def test_a_topic_may_not_turn_the_text_around() -> None:
    hub = Hub()
    ana, _ = member(hub, "ana", CountingEncoder(), "#dev")
    with pytest.raises(BadText):
        hub.topic(ana, "#dev", "hola \u202edlrow")
    assert hub.topic(ana, "#dev", "hola 👨\u200d👩\u200d👧").topic.startswith("hola")


class HeldGate:
    """A gate that keeps stored messages until the test lets them out."""

    def __init__(self) -> None:
        self.held: list[tuple[RoomDelivery, Settled]] = []

    @property
    def waiting(self) -> bool:
        return False

    def durable(self, event: object, deliver: object, settled: Settled) -> None:
        assert isinstance(deliver, RoomDelivery)
        self.held.append((deliver, settled))

    def later(self, deliver: Callable[[], None]) -> None:
        deliver()

    def forget(self, event: object) -> None:
        pass

    def keep(self, event: object, account: str, settled: Settled) -> None:
        pass


class Picky(CountingEncoder):
    """A wire format that shows nothing of one sender's messages."""

    def encode(self, event: Event) -> bytes | None:
        if isinstance(event, RoomMessage) and event.sender == "bob":
            return None
        return super().encode(event)


def test_a_run_of_stored_messages_reads_exactly_as_one_by_one() -> None:
    def said(inboxes: dict[str, Inbox], run: bool) -> dict[str, bytes]:
        hub, gate = Hub(clock=lambda: 1000.0), HeldGate()
        hub.gate = gate
        plain, picky = CountingEncoder(), Picky()
        people = {nick: member(hub, nick, plain) for nick in ("ana", "bob", "eva")}
        people["pat"] = member(hub, "pat", picky)
        inboxes.update({nick: inbox for nick, (_, inbox) in people.items()})
        for inbox in inboxes.values():
            inbox.got.clear()

        def settle(event: RoomMessage | PrivateMessage, error: object) -> None:
            # What a JSON sender gets: its own reply, in its place among the others'.
            inboxes[event.sender].deliver(f"ok {event.text}\n".encode())

        for nick, text in [("ana", "1"), ("bob", "2"), ("ana", "3"), ("eva", "4"), ("bob", "5")]:
            hub.say(people[nick][0], "#lobby", text, settled=settle)
        if run:
            hub.deliver_run(gate.held)
        else:
            for delivery, settled in gate.held:
                delivery()
                settled(delivery.event, None)
        return {nick: b"".join(inbox.got) for nick, inbox in inboxes.items()}

    ran: dict[str, Inbox] = {}
    one_by_one, as_run = said({}, run=False), said(ran, run=True)
    assert as_run == one_by_one
    assert b"ok 1" in as_run["ana"] and b"'2'" in as_run["ana"] and b"ok 2" not in as_run["ana"]
    assert b"'2'" not in as_run["pat"] and b"'4'" in as_run["pat"]
    # Whoever did not speak gets the whole run in one hand-over.
    assert len(ran["pat"].got) == 1
