"""Three nodes of one cluster in this process: each a Server on port 0, all on one real
Redis and one real PostgreSQL database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from conftest import ServerFactory
from pgserver import PgServer
from tertulia.server.app import Server

Nodes = Callable[..., Awaitable[list[Server]]]


@pytest.fixture
def nodes(make_server: ServerFactory, redis_url: str, pg_server: PgServer) -> Nodes:
    """Start `count` nodes sharing a fresh database and an empty Redis."""

    async def start(count: int = 3, bus: str = "", **overrides: Any) -> list[Server]:
        store = overrides.pop("store", None) or pg_server.new_database()
        return [
            await make_server(cluster=bus or redis_url, store=store, node=f"n{i}", **overrides)
            for i in range(1, count + 1)
        ]

    return start


async def until(check: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Wait for a condition that other nodes make true through the bus, checked every few
    milliseconds, failing after `timeout` seconds."""

    def holds() -> bool:
        try:
            return check()
        except LookupError:  # a room or a user the bus has not brought here yet
            return False

    async with asyncio.timeout(timeout):
        # The state is in other nodes' hubs, with no event of its own to wait on.
        while not holds():  # noqa: ASYNC110
            await asyncio.sleep(0.005)
    assert check(), what
