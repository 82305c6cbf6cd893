"""The registration machine and CAP negotiation, driven by bytes: any order of the
registration commands, any split of the stream, gives one welcome after the last."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tertulia.protocols.framing import LineFramer
from tertulia.protocols.irc import parse
from tertulia.protocols.irc.caps import CapState, offered
from tertulia.protocols.irc.registration import Phase, Registration, RegistrationError, clean_user

CAPS = offered(stored=True)


def drive(chunks: list[bytes]) -> tuple[Registration, CapState, list[int]]:
    """Feed the stream; return the machine and the indexes of the lines after which the
    client was ready to be welcomed (what the door's maybe_welcome checks)."""
    reg, caps, framer, ready = Registration(), CapState(), LineFramer(8192), []
    index = 0
    for chunk in chunks:
        for item in framer.feed(chunk):
            assert isinstance(item, bytes)
            msg = parse(item)
            if msg.command == "CAP":
                before = caps.negotiating
                caps.handle(msg.param(0), msg.param(1), CAPS, reg.registered)
                if caps.negotiating and not before:
                    reg.fire("cap-start")
                elif before and not caps.negotiating:
                    reg.fire("cap-end")
            elif msg.command == "NICK":
                reg.nick = msg.param(0)
            elif msg.command == "USER":
                reg.take_user(msg.params)
            if reg.ready():
                ready.append(index)
                reg.fire("welcome")
            index += 1
    return reg, caps, ready


def split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(stream) + 1) for c in cuts})
    return [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]


@given(order=st.permutations(["NICK ana", "USER ana 0 * :Ana"]), cuts=st.lists(st.integers(0, 200)))
def test_nick_and_user_in_any_order_and_any_split(order: list[str], cuts: list[int]) -> None:
    stream = "".join(line + "\r\n" for line in order).encode()
    reg, _, ready = drive(split(stream, cuts))
    assert ready == [1] and reg.phase is Phase.REGISTERED and reg.user == "ana"


@given(
    order=st.permutations(["NICK ana", "USER ana 0 * :Ana", "CAP REQ :server-time"]),
    cuts=st.lists(st.integers(0, 200)),
)
def test_cap_holds_the_welcome_until_cap_end(order: list[str], cuts: list[int]) -> None:
    lines = ["CAP LS 302", *order, "CAP END"]
    stream = "".join(line + "\r\n" for line in lines).encode()
    _, caps, ready = drive(split(stream, cuts))
    assert ready == [4]  # after CAP END, whatever came between
    assert {"server-time", "cap-notify"} <= caps.enabled


def test_cap_replies() -> None:
    caps = CapState()
    assert caps.handle("NOTACOMMAND", "", CAPS, False) == [
        ("410", "NOTACOMMAND", "Invalid CAP command")
    ]
    assert caps.handle("REQ", "multi-prefix foo", CAPS, False) == [
        ("CAP", "NAK", "multi-prefix foo")
    ]
    assert caps.handle("REQ", "multi-prefix", CAPS, False) == [("CAP", "ACK", "multi-prefix")]
    assert caps.handle("REQ", "-multi-prefix", CAPS, True) == [("CAP", "ACK", "-multi-prefix")]
    assert "multi-prefix" not in caps.enabled


def test_user_needs_a_username_and_a_realname() -> None:
    reg = Registration()
    for params in (("ana", "0", "*"), ("ana", "0", "*", ""), ("", "0", "*", "Ana")):
        try:
            reg.take_user(params)
        except RegistrationError as err:
            assert err.numeric == "461"
        else:
            raise AssertionError(f"USER {params} accepted")
    assert clean_user("😊 a!b@c") == "abc" and clean_user("😊") == "~u"
