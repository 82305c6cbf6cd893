"""The hub's second line of defence: text no wire format can write never gets in, and an
encoder that fails costs its own recipients one event, nobody else anything."""

from __future__ import annotations

import pytest

from tertulia.core.errors import BadText, BadUnicode, NotInRoom, RoomInvalid
from tertulia.core.events import Event, RoomMessage
from tertulia.core.hub import Hub
from tertulia.core.session import Session

LONE = "\udc80"  # what surrogateescape makes of a stray byte: no encoder can write it


class Inbox:
    def __init__(self) -> None:
        self.got: list[bytes] = []

    def deliver(self, data: bytes) -> None:
        self.got.append(data)

    deliver_later = deliver

    def close(self, data: bytes | None = None) -> None:
        pass


class Utf8Encoder:
    """Encodes like every real door does: to UTF-8, which a lone surrogate breaks."""

    def encode(self, event: Event) -> bytes | None:
        return repr(event).encode() if not isinstance(event, RoomMessage) else event.text.encode()


class Broken:
    def encode(self, event: Event) -> bytes | None:
        raise RuntimeError("this encoder cannot write anything")


def member(hub: Hub, nick: str, encoder: object) -> tuple[Session, Inbox]:
    inbox = Inbox()
    session = hub.connect(inbox, encoder, "test")  # type: ignore[arg-type]
    hub.register(session, nick)
    hub.join(session, "#lobby")
    return session, inbox


def test_no_lone_surrogate_gets_into_a_message_a_topic_or_a_room() -> None:
    hub = Hub()
    ana, _ = member(hub, "ana", Utf8Encoder())
    _, bob = member(hub, "bob", Utf8Encoder())
    with pytest.raises(BadUnicode) as said:
        hub.say(ana, "#lobby", f"hola {LONE}")
    assert "surrogate" in said.value.render() and said.value.code == "bad_text"
    with pytest.raises(BadUnicode):
        hub.tell(ana, "bob", LONE)
    with pytest.raises(BadUnicode):
        hub.topic(ana, "#lobby", f"gatos {LONE}")
    with pytest.raises(RoomInvalid):
        hub.join(ana, f"#sala{LONE}")
    with pytest.raises(BadText):  # a control character is still told apart
        hub.say(ana, "#lobby", "\x1b[2J")
    assert hub.rooms["#lobby"].topic == ""
    # Reasons are cleaned, not refused: nobody is kept from leaving.
    hub.part(ana, "#lobby", f"adiós{LONE}")
    assert bob.got[-1].decode().endswith("reason='adiós')")
    # An error quoting what the user typed can always be written.
    hub.join(ana, "#lobby")
    with pytest.raises(NotInRoom) as err:
        hub.say(ana, f"#nada{LONE}", "hola")
    assert "#nada" in err.value.render().encode().decode()


def test_an_encoder_that_raises_costs_only_its_own_recipients_that_event() -> None:
    hub = Hub()
    failed: list[Event] = []
    hub.on_encode_failure = lambda event, exc: failed.append(event)
    ana, _ = member(hub, "ana", Utf8Encoder())
    _, bob = member(hub, "bob", Utf8Encoder())
    _, broken = member(hub, "rota", Broken())
    _, eva = member(hub, "eva", Utf8Encoder())
    bob.got.clear()
    eva.got.clear()
    failed.clear()
    before = hub.encode_failures
    hub.say(ana, "#lobby", "hola")
    assert bob.got == [b"hola"] and eva.got == [b"hola"] and broken.got == []
    assert hub.encode_failures == before + 1 and isinstance(failed[0], RoomMessage)
    # The next event reaches everyone who can be written to, as before.
    hub.say(ana, "#lobby", "otra vez")
    assert bob.got[-1] == eva.got[-1] == b"otra vez"
    assert hub.encode_failures == before + 2
