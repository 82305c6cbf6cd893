"""A reload (what SIGHUP does) with clients connected: the live settings apply to them at
once, the others wait for a restart and are named, and bad settings change nothing."""

from __future__ import annotations

from dataclasses import replace

from chatclient import LineClient
from conftest import ServerFactory
from tertulia.config import ConfigError
from tertulia.server.app import Server

LONG = "x" * 300


async def test_a_reload_changes_limits_for_connected_clients(make_server: ServerFactory) -> None:
    server: Server = await make_server(flood_rate=5.0, flood_burst=10)
    ana = await LineClient.connect(server.port, "ana")
    bob = await LineClient.connect(server.port, "bob")
    await ana.send(LONG)
    await bob.expect(f"[ana] {LONG}")
    new = replace(
        server.settings, max_message_bytes=100, flood_rate=50.0, flood_burst=80,
        max_per_address=3, default_room="#sala", port=1,
    )  # fmt: skip
    server.reread = lambda: new
    done = server.reload()
    assert done is not None
    assert set(done.changed) == {
        "max_message_bytes",
        "flood_rate",
        "flood_burst",
        "max_per_address",
    }
    assert set(done.fixed) == {"default_room", "port"}
    assert server.settings.default_room == "#lobby" and server.settings.port == 0
    assert server.address_limits.rules.per_address == 3
    buckets = [c.bucket for c in server.connections if c.bucket is not None]
    assert all(b.rate == 50.0 and b.burst == 80 for b in buckets)
    await ana.send(LONG)
    assert "too long" in await ana.expect("! ")
    await ana.send("corto")
    await bob.expect("[ana] corto")
    await ana.close()
    await bob.close()


async def test_settings_that_do_not_load_change_nothing(make_server: ServerFactory) -> None:
    server: Server = await make_server()
    before = server.settings

    def broken() -> object:
        raise ConfigError(reason="flood limits must be positive")

    server.reread = broken  # type: ignore[assignment]
    assert server.reload() is None
    assert server.settings is before
