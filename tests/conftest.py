"""Shared fixtures: a real server on 127.0.0.1, port 0, torn down after each test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest

from browser import browser  # noqa: F401  # the Chromium fixture, for tests/web
from pgserver import pg_server, pg_url  # noqa: F401  # a real PostgreSQL, for tests/store
from tertulia.config import Settings
from tertulia.server.app import Server

ServerFactory = Callable[..., Any]


def settings_for(**overrides: Any) -> Settings:
    base = Settings(
        host="127.0.0.1", port=0, irc_port=0, web_port=0, lang="en", data_dir="/nonexistent"
    )
    return replace(base, **overrides)


@pytest.fixture
async def make_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServerFactory]:
    """Start servers with overridden settings; every one is shut down after the test.

    Each server keeps its history in a fresh directory unless the test names one.
    """
    servers: list[Server] = []

    async def start(**overrides: Any) -> Server:
        overrides.setdefault("data_dir", str(tmp_path_factory.mktemp("data")))
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
