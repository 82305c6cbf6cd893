"""Three nodes of one cluster in this process: each a Server on port 0, all on one real
Redis and one real PostgreSQL database."""

from __future__ import annotations

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
