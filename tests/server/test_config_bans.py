"""Server bans kept in the configuration ([bans]): in force from the start, and a reload
puts out whoever a new one matches and lifts those taken out of the file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from chatclient import LineClient
from conftest import ServerFactory
from tertulia import config
from tertulia.server.app import Server


async def refused(port: int, nick: str | None = None, address: str = "127.0.0.1") -> list[str]:
    client = await LineClient.connect(port, local_addr=(address, 0))
    if nick is not None:
        await client.expect("type your nick")
        await client.send(nick)
    return await client.closed()


async def test_configured_bans_hold_from_the_start_and_change_on_reload(
    make_server: ServerFactory,
) -> None:
    server: Server = await make_server(bans=(("malo!*@*", "spam"), ("127.0.0.2", "from there")))
    assert any(
        "banned from this server: spam" in line for line in await refused(server.port, "malo")
    )
    lines = await refused(server.port, address="127.0.0.2")
    assert any("banned from this server: from there" in line for line in lines)
    assert {(e.mask, e.by) for e in server.hub.bans.entries()} == {
        ("malo!*@*", "config"), ("127.0.0.2", "config"),
    }  # fmt: skip

    bob = await LineClient.connect(server.port, "bob")
    eva = await LineClient.connect(server.port, "eva")
    lurker = await LineClient.connect(server.port, local_addr=("127.0.0.3", 0))
    await lurker.expect("type your nick")
    # The file now bans bob and 127.0.0.3 and no longer malo or 127.0.0.2.
    new = replace(server.settings, bans=(("bob!*@*", "se acabó"), ("127.0.0.3/32", "ruido")))
    server.reread = lambda: new
    done = server.reload()
    assert done is not None and done.changed == ("bans",)
    assert any("banned from this server: se acabó" in line for line in await bob.closed())
    assert any("banned from this server: ruido" in line for line in await lurker.closed())
    malo = await LineClient.connect(server.port, "malo")
    back = await LineClient.connect(server.port, "again", local_addr=("127.0.0.2", 0))
    await eva.send("sigo aquí")  # nobody else noticed
    await malo.expect("[eva] sigo aquí")
    for client in (eva, malo, back):
        await client.close()


async def test_an_operators_ban_is_not_lifted_by_the_file(make_server: ServerFactory) -> None:
    server: Server = await make_server(bans=(("malo!*@*", "spam"),))
    await server.moderation.ban_server("otro!*@*", "", "by hand", None)
    server.reread = lambda: replace(server.settings, bans=())
    assert server.reload() is not None
    assert [(e.mask, e.reason) for e in server.hub.bans.entries()] == [("otro!*@*", "by hand")]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[bans]\n"malo!*@*" = "spam"\n"10.0.0.300" = "typo"\n', "'10.0.0.300' is not a ban mask"),
        ('[bans]\n"malo!*@*" = "spam"\nport = "5000"\n', "port is under [bans]"),
    ],
)
def test_bad_bans_in_a_file(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "tertulia.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(config.ConfigError) as caught:
        config.load(env={}, config_file=str(path))
    assert words in caught.value.render()


def test_bans_from_a_file_and_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "tertulia.toml"
    path.write_text('[bans]\n"*!*@10.0.0.0/8" = "spam"\n"$a:troll" = "trolling"\n')
    found = config.load(env={}, config_file=str(path))
    assert found.bans == (("*!*@10.0.0.0/8", "spam"), ("$a:troll", "trolling"))
    found = config.load(env={"TERTULIA_BANS": "malo!*@*=spam, 192.0.2.1=abuse"})
    assert found.bans == (("malo!*@*", "spam"), ("192.0.2.1", "abuse"))
