"""A reload (what SIGHUP does) with clients connected: the live settings apply to them at
once, the others wait for a restart and are named, and bad settings change nothing."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import trustme

from chatclient import JsonClient, LineClient
from conftest import ServerFactory
from ircclient import irc
from tertulia.config import ConfigError
from tertulia.server.app import Server
from tlscerts import write_cert
from webclient import recv_until, ws_open

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
    ircop = await irc(server, "ircop")
    await ircop.send("OPER root s3cret")
    await ircop.expect(" 381 ")
    server.reread = lambda: replace(server.settings, operators=(("jefa", "otra"),))
    assert server.reload() is not None
    notice = await op.expect_obj(type="notice")
    assert "no longer a server operator" in notice["text"]
    # An IRC client sees its user modes change, as well as the notice.
    assert await ircop.expect("MODE ircop -o") == ":tertulia MODE ircop -o"
    await ircop.close()
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
    assert server.settings.tls_cert == ""  # kept as it was: the next reload says it again
    assert "tls_cert" in (server.reload() or done).fixed


async def test_retention_turned_on_by_a_reload_prunes_at_once(make_server: ServerFactory) -> None:
    server: Server = await make_server()
    ana = await JsonClient.connect(server.port, "ana")
    for i in range(5):
        await ana.request({"type": "say", "room": "#lobby", "text": f"viejo {i}"})
    store = server.history.store
    assert store is not None
    server.reread = lambda: replace(server.settings, history_keep_messages=2)
    done = server.reload()
    assert done is not None and done.changed == ("history_keep_messages",)
    async with asyncio.timeout(10):
        # The pass runs in the background, with no event to wait on: poll the store.
        while len(store.export_messages(0, 100)) > 2:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    assert [m.text for m in store.export_messages(0, 100)] == ["viejo 3", "viejo 4"]
    await ana.close()


async def test_a_configured_ban_lifted_by_hand_comes_back_at_the_next_reload(
    make_server: ServerFactory,
) -> None:
    server: Server = await make_server(bans=(("troll!*@*", "no"),))
    await server.moderation.server_unban(None, "troll!*@*")
    assert len(server.hub.bans) == 0
    server.reread = lambda: server.settings  # the same file
    assert server.reload() is not None
    assert [e.mask for e in server.hub.bans.entries()] == ["troll!*@*"]


async def test_certificates_taken_out_of_the_file_wait_for_a_restart(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    chain, key = write_cert(trustme.CA(), tmp_path)
    server: Server = await make_server(tls_cert=str(chain), tls_key=str(key), plain_tls_port=0)
    server.reread = lambda: replace(server.settings, tls_cert="", tls_key="")
    done = server.reload()
    assert done is not None and set(done.fixed) == {"tls_cert", "tls_key"} and not done.failed
    assert server.settings.tls_cert == str(chain)  # still serving with it


async def test_a_line_limit_reload_reaches_json_lines_and_websockets(
    make_server: ServerFactory,
) -> None:
    server: Server = await make_server(max_message_bytes=100, max_line_bytes=200)
    js = await JsonClient.connect(server.port, "jota")
    ws = await ws_open(server, "web")
    server.reread = lambda: replace(server.settings, max_message_bytes=3000, max_line_bytes=4000)
    assert server.reload() is not None
    text = "x" * 2500  # past the old line limit, within the new message limit
    reply = await js.request({"type": "say", "room": "#lobby", "text": text})
    assert reply["type"] == "ok", reply
    await ws.send(json.dumps({"type": "say", "room": "#lobby", "text": text, "id": 7}))
    assert (await recv_until(ws, "ok"))["id"] == 7  # not closed for a message too big
    await ws.close()
    await js.close()
