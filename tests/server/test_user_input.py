"""What people type, on real sockets: errors that quote oversized input back cut short."""

from __future__ import annotations

from chatclient import JsonClient, LineClient
from tertulia.server.app import Server


async def test_errors_quote_oversized_input_cut_short(server: Server) -> None:
    client = await LineClient.connect(server.port)
    await client.expect("type your nick")
    await client.send("ñ" * 300)
    error = await client.expect("!")
    assert "ñ" * 49 + "…" in error and "ñ" * 50 not in error, error
    assert len(error) < 120, error
    await client.send("ana")
    await client.expect("you are ana,")
    for line in ("/join #" + "x" * 300, "/" + "y" * 300, "/msg " + "z" * 300 + " hola"):
        await client.send(line)
        error = await client.expect("!")
        assert "…" in error and len(error) < 150, error
    js = await JsonClient.connect(server.port)
    reply = await js.request({"type": "hello", "nick": "q" * 300})
    assert reply["type"] == "error" and "q" * 49 + "…" in reply["text"], reply
    assert len(reply["text"]) < 120, reply
