"""A test-side IRC client: raw lines over a real socket, registered with or without CAP."""

from __future__ import annotations

from chatclient import LineClient
from tertulia.server.app import Server


class IrcClient(LineClient):
    """A LineClient that reads IRC's CR LF lines."""

    async def line(self, timeout: float = 5.0) -> str:
        return (await super().line(timeout)).rstrip("\r")


def irc_port(server: Server) -> int:
    return int(server.addresses("irc")[0].rsplit(":", 1)[1])


async def irc(server: Server, nick: str, cap: bool = False) -> IrcClient:
    client = await IrcClient.connect(irc_port(server))
    assert isinstance(client, IrcClient)
    if cap:
        await client.send("CAP LS 302")
        await client.expect(" CAP * LS ")
    await client.send(f"NICK {nick}\r\nUSER {nick} 0 * :Real {nick}", newline=True)
    if cap:
        await client.send("CAP END")
    await client.expect(" 422 ")
    return client


async def cap_requested(server: Server, nick: str, caps: str) -> IrcClient:
    """A client that asked for `caps`, sent NICK and USER, and has its ACK (no CAP END)."""
    client = await IrcClient.connect(irc_port(server))
    assert isinstance(client, IrcClient)
    await client.send(f"CAP LS 302\r\nCAP REQ :{caps}\r\nNICK {nick}\r\nUSER {nick} 0 * :{nick}")
    await client.expect(" ACK ")
    return client
