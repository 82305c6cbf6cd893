"""A reload (what SIGHUP does) with clients connected: the live settings apply to them at
once, the others wait for a restart and are named, and bad settings change nothing."""

from __future__ import annotations

from dataclasses import replace

from chatclient import JsonClient, LineClient
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
        max_per_address=3, default_room="#sala", port=1, max_line_bytes=200,
    )  # fmt: skip
    server.reread = lambda: new
    done = server.reload()
    assert done is not None
    assert set(done.changed) == {
        "max_message_bytes",
        "max_line_bytes",
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
    assert "line too long (the limit is 200 bytes)" in await ana.expect("! ")
    await ana.send("x" * 150)
    assert "message too long" in await ana.expect("! ")
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


async def test_an_operator_taken_out_of_the_settings_is_one_no_more(
    make_server: ServerFactory,
) -> None:
    server: Server = await make_server(operators=(("root", "s3cret"), ("jefa", "otra")))
    op = await JsonClient.connect(server.port, "op")
    boss = await JsonClient.connect(server.port, "boss")
    for client, name, password in ((op, "root", "s3cret"), (boss, "jefa", "otra")):
        reply = await client.request({"type": "oper", "name": name, "password": password})
        assert reply["type"] == "ok", reply
    server.reread = lambda: replace(server.settings, operators=(("jefa", "otra"),))
    assert server.reload() is not None
    notice = await op.expect_obj(type="notice")
    assert "no longer a server operator" in notice["text"]
    refused = await op.request({"type": "kill", "nick": "boss", "reason": "x"})
    assert refused["type"] == "error", refused
    # An operator whose entry did not change keeps what it proved.
    assert "o" in server.hub.sessions["boss"].modes
    await op.close()
    await boss.close()


async def test_limit_exempt_changes_reach_open_connections(make_server: ServerFactory) -> None:
    server: Server = await make_server(flood_rate=1.0, flood_burst=2)
    ana = await LineClient.connect(server.port, "ana")  # 127.0.0.1: exempt by default
    (conn,) = server.connections
    assert conn.bucket is None
    server.reread = lambda: replace(server.settings, limit_exempt=())
    assert server.reload() is not None
    assert conn.bucket is not None and conn.bucket.rate == 1.0
    server.reread = lambda: replace(server.settings, limit_exempt=("127.0.0.0/8",))
    assert server.reload() is not None
    assert conn.bucket is None
    # Admitted while exempt, it was never counted: closing it leaves no count behind.
    server.reread = lambda: replace(server.settings, limit_exempt=())
    assert server.reload() is not None
    await ana.send("/quit")
    await ana.closed()
    assert server.address_limits.open == {} and server.address_limits.networks == {}


async def test_certificates_given_to_a_server_without_tls_wait_for_a_restart(
    make_server: ServerFactory,
) -> None:
    server: Server = await make_server()
    server.reread = lambda: replace(server.settings, tls_cert="/c.pem", tls_key="/k.pem")
    done = server.reload()
    assert done is not None
    assert "tls_cert" in done.fixed and "tls_cert" not in done.changed
