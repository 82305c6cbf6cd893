"""Shared fixtures: a real server on 127.0.0.1, port 0, torn down after each test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest

from browser import browser  # noqa: F401  # the Chromium fixture, for tests/web
from pgserver import pg_server, pg_url  # noqa: F401  # a real PostgreSQL, for tests/store
from redisserver import own_redis, redis_server, redis_url  # noqa: F401  # a real Redis
from tertulia.config import Settings
from tertulia.server.app import Server

ServerFactory = Callable[..., Any]


def settings_for(**overrides: Any) -> Settings:
    base = Settings(
        host="127.0.0.1", port=0, irc_port=0, web_port=0, lang="en", data_dir="/nonexistent"
    )
    return replace(base, **overrides)


@pytest.fixture
async def make_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> AsyncIterator[ServerFactory]:
    """Start servers with overridden settings; every one is shut down after the test.

    Each server keeps its history in a fresh directory unless the test names one.
    """
    servers: list[Server] = []
    # TERTULIA_TEST_STORE=postgresql runs every server test on a fresh PostgreSQL
    # database instead of SQLite (by hand: CI runs the store contract on both instead).
    on_postgres = os.environ.get("TERTULIA_TEST_STORE") == "postgresql"
    databases: dict[str, str] = {}  # one database per data directory, as one file is

    async def start(**overrides: Any) -> Server:
        overrides.setdefault("data_dir", str(tmp_path_factory.mktemp("data")))
        if on_postgres and "store" not in overrides:
            data_dir = overrides["data_dir"]
            if data_dir not in databases:
                databases[data_dir] = request.getfixturevalue("pg_server").new_database()
            overrides["store"] = databases[data_dir]
        server = Server(settings_for(**overrides))
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.shutdown()


@pytest.fixture
async def server(make_server: ServerFactory) -> Server:
    result: Server = await make_server()
    return result


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Under TERTULIA_REQUIRE_ALL=1 (CI), a test skipped for a missing component fails."""
    outcome = yield
    report = outcome.get_result()
    required = os.environ.get("TERTULIA_REQUIRE_ALL") == "1"
    if report.skipped and required and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under TERTULIA_REQUIRE_ALL=1: {report.longrepr}"
