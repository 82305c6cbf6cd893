"""The bus that links the nodes of a cluster: one ordered stream of facts, leases on
nicks and nodes, and the shared state a node reads when it starts.

The hub knows nothing of it: the hub talks to its Gate (server.history alone, or
server.cluster's gate over it in a cluster) and reports what happened to its observers.
server.cluster turns those into facts on a Bus and applies other nodes' facts through
core.replica. Redis is the one Bus there is (bus.redis); docs/cluster.md says why.
"""

from __future__ import annotations

from typing import Protocol


class BusDown(Exception):
    """The bus cannot be reached now: one line for operators (never a password)."""


class Bus(Protocol):
    """What a node needs from the engine that links it to the others. Every method
    raises BusDown when the engine cannot be reached."""

    where: str  # the address, for operators (never a password)

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def append(self, facts: list[bytes], batch: tuple[str, int] | None) -> str:
        """Add facts to the stream, in order, at once; the position of the last. `batch`
        (a run of the node, a number that grows) makes it idempotent: a batch whose number
        the bus has seen from that run is not added again ("" then)."""
        ...

    async def first(self) -> str:
        """The position of the oldest fact kept ("0-0" when there is none)."""
        ...

    async def read(self, after: str, wait: float, count: int) -> list[tuple[str, bytes]]:
        """Facts past position `after`, waiting up to `wait` seconds for the first."""
        ...

    async def last(self) -> str:
        """The position of the last fact ("0-0" when there is none)."""
        ...

    async def claim(self, name: str, owner: str, ttl: float) -> str:
        """Hold `name` for `owner` for `ttl` seconds unless someone else holds it: the
        holder after the call."""
        ...

    async def renew(self, names: list[str], owner: str, ttl: float) -> list[str]:
        """Extend `owner`'s holds (taking back those that lapsed); the names another holds."""
        ...

    async def release(self, names: list[str], owner: str) -> None: ...

    async def beat(self, node: str, info: bytes, ttl: float) -> bool:
        """The node is alive for `ttl` more seconds; False if the bus had lost it (a
        restart that lost its data, or a lease that lapsed): its state must be written again."""
        ...

    async def nodes(self) -> dict[str, bytes]:
        """Every node alive now, with what it last said of itself."""
        ...

    async def known(self) -> list[str]:
        """Every node that joined and was not forgotten, alive or not."""
        ...

    async def forget(self, node: str) -> None:
        """A dead node's shared state goes."""
        ...

    async def put_sessions(self, node: str, sessions: dict[str, bytes], gone: list[str]) -> None:
        """Write (and drop) entries of what `node` says of its sessions."""
        ...

    async def sessions(self, node: str) -> list[bytes]: ...

    async def put_room(self, key: str, state: bytes) -> None: ...

    async def rooms(self) -> dict[str, bytes]: ...


def from_url(url: str) -> Bus:
    """The bus at `url` (redis://...); BusDown for an address that is not one."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise BusDown(f"not a Redis address (redis://HOST:PORT/DB): {url.split('://')[0]}")
    try:
        from tertulia.bus.redis import RedisBus  # redis only for clusters
    except ImportError:
        raise BusDown("a cluster needs redis-py: pip install 'tertulia[cluster]'") from None

    return RedisBus(url)
