"""The message of the day: every door shows it on arrival, IRC also on MOTD, and a reload
takes a new text or a changed file without dropping anyone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from chatclient import JsonClient, LineClient
from conftest import ServerFactory
from ircclient import IrcClient, irc_port
from tertulia import config
from tertulia.server import motd
from tertulia.server.app import Server

TEXT = "Bienvenidos a la tertulia\n\nNo spam, please\x07\x1b[31m"


def test_lines_drop_blank_ends_and_go_through_clean() -> None:
    found = motd.lines("\n\n  one\n\ntwo\n\n\n", lambda line: line.strip().upper())
    assert found == ("ONE", "", "TWO")
    assert motd.lines("", str) == ()
    assert len(motd.lines("x\n" * 500, str)) == motd.MAX_LINES


async def register(server: Server, nick: str) -> list[str]:
    client = await IrcClient.connect(irc_port(server))
    assert isinstance(client, IrcClient)
    await client.send(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}")
    burst = [await client.line()]
    while " 376 " not in burst[-1] and " 422 " not in burst[-1]:
        burst.append(await client.line())
    await client.close()
    return burst


async def test_every_door_shows_the_message_of_the_day(make_server: ServerFactory) -> None:
    server: Server = await make_server(motd=TEXT)
    burst = await register(server, "ana")
    shown = [line.split(" :", 1)[1] for line in burst if " 372 " in line]
    # Terminal controls are gone: an operator's file cannot ring or paint anyone's screen.
    assert shown == ["- Bienvenidos a la tertulia", "- ", "- No spam, please[31m"]
    assert any(" 375 " in line for line in burst)

    plain = await LineClient.connect(server.port)
    await plain.expect("type your nick")
    await plain.send("bob")
    lines = await plain.lines_until("you are bob")
    assert lines[:3] == ["* Bienvenidos a la tertulia", "* ", "* No spam, please[31m"]

    json = await JsonClient.connect(server.port)
    welcome = await json.request({"type": "hello", "nick": "eva"})
    assert welcome["motd"] == ["Bienvenidos a la tertulia", "", "No spam, please[31m"]
    await plain.close()
    await json.close()


async def test_without_one_irc_says_422_and_json_an_empty_list(
    make_server: ServerFactory,
) -> None:
    server: Server = await make_server()
    burst = await register(server, "ana")
    assert " 422 " in burst[-1] and not any(" 372 " in line for line in burst)
    json = await JsonClient.connect(server.port)
    welcome = await json.request({"type": "hello", "nick": "eva"})
    assert welcome["motd"] == []
    await json.close()


async def test_a_reload_reads_the_file_again(make_server: ServerFactory, tmp_path: Path) -> None:
    path = tmp_path / "motd.txt"
    path.write_text("first version\n", encoding="utf-8")
    server: Server = await make_server(motd="inline text", motd_file=str(path))
    ana = await IrcClient.connect(irc_port(server))
    await ana.send("NICK ana\r\nUSER ana 0 * :ana")
    assert " 372 ana :- first version" in await ana.expect(" 372 ")  # the file wins
    await ana.expect(" 376 ")

    path.write_text("second version\n", encoding="utf-8")  # same path, same settings
    server.reread = lambda: server.settings
    assert server.reload() is not None
    await ana.send("MOTD")
    assert " 372 ana :- second version" in await ana.expect(" 372 ")

    # A file gone at a reload keeps what was shown, and nobody is dropped.
    path.unlink()
    server.reread = lambda: replace(server.settings, motd="changed")
    assert server.reload() is not None
    await ana.send("MOTD")
    assert " 372 ana :- second version" in await ana.expect(" 372 ")
    await ana.send("PING :still")
    await ana.expect("PONG")
    await ana.close()


def test_a_motd_file_that_cannot_be_read_is_a_config_error(tmp_path: Path) -> None:
    conf = tmp_path / "tertulia.toml"
    conf.write_text(f'port = 5000\nmotd_file = "{tmp_path / "absent.txt"}"\n', encoding="utf-8")
    with pytest.raises(config.ConfigError) as caught:
        config.load(env={}, config_file=str(conf))
    assert "motd_file" in caught.value.render()
    found = config.check_file(str(conf))
    assert found is not None and found[0] == 2
