"""What a door sees of the server: a narrow context instead of the whole Server.

Doors, connections and the accounts service type against this Protocol (uvicorn hands its
protocols one ServerState the same way), so they never import `server.app`, and
`server.app` is the only module that knows every door.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from tertulia.config import Settings
from tertulia.core.errors import TertuliaError
from tertulia.core.hub import Hub
from tertulia.core.limits import AddressLimits
from tertulia.core.session import Encoder, Session
from tertulia.protocols.jsonlines import JsonEncoder
from tertulia.protocols.plain import PlainEncoder
from tertulia.protocols.websocket import WebEncoder

if TYPE_CHECKING:
    from tertulia.server.accounts import Accounts
    from tertulia.server.connection import Connection, WriteFlusher
    from tertulia.server.history import History
    from tertulia.server.irc.monitor import Monitor
    from tertulia.server.liveness import Liveness
    from tertulia.server.metrics import Stats
    from tertulia.server.moderation import Moderation
    from tertulia.server.web_door import Asset


# Turns one line of a door's into one WebSocket frame (IRC over WebSocket).
Frame = Callable[[bytes], bytes]


class DoorContext(Protocol):
    """The server as its doors use it."""

    settings: Settings
    name: str
    translate: Callable[[str], str]
    motd: tuple[str, ...]  # the message of the day, as lines (empty: none)
    hub: Hub
    stats: Stats
    accounts: Accounts
    moderation: Moderation
    assets: dict[str, Asset]
    plain_encoder: PlainEncoder
    json_encoder: JsonEncoder
    web_encoder: WebEncoder
    irc_encoder: Encoder
    irc_monitor: Monitor
    irc_read_markers: dict[str, dict[str, str]]
    address_limits: AddressLimits
    liveness: Liveness

    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...

    @property
    def flusher(self) -> WriteFlusher: ...

    @property
    def history(self) -> History: ...

    def irc_encoder_for(self, caps: Collection[str], frame: Frame | None = None) -> Encoder: ...

    def sts_policy(self, secure: bool) -> str: ...

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...

    def spawn_for(
        self,
        conn: Connection,
        work: Coroutine[Any, Any, None],
        on_error: Callable[[TertuliaError], None],
    ) -> None: ...

    def accept(self, conn: Connection) -> None: ...

    def forget(self, conn: Connection) -> None: ...

    def switch_to_json(self, conn: Connection, session: Session, first_line: bytes) -> None: ...

    def start_nick_timer(self, conn: Connection) -> None: ...

    def stop_nick_timer(self, conn: Any) -> None: ...
