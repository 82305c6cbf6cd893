"""The one registry of `/` commands against everyone who claims to serve it, over real sockets.

Each side is checked both ways: every name the registry gives a door or client is handled
there (nobody answers "unknown command"), and every handler there is in the registry.
"""

from __future__ import annotations

import json

import pytest

from chatclient import LineClient
from tertulia.client.commands import LEAVE, LineChat
from tertulia.client.connection import ChatClient
from tertulia.i18n import translator
from tertulia.protocols import slash
from tertulia.server.app import Server
from tertulia.server.plain_door import PlainHandler
from tertulia.tui.app import COMMANDS as TUI_COMMANDS
from webclient import http, web_port

UNKNOWN = "unknown command"


def test_names_are_unique_and_lower_case() -> None:
    for where in slash.Where:
        names = list(slash.names(where))
        assert len(names) == len(set(names)), where
        assert all(name == name.lower() and " " not in name for name in names)


def test_find_resolves_case_and_aliases_for_where_it_works() -> None:
    assert slash.find("JOIN", slash.Where.PLAIN) is slash.find("join", slash.Where.WEB)
    rooms = slash.find("list", slash.Where.CLIENT)
    assert rooms is not None and rooms.name == "rooms"
    assert slash.find("kick", slash.Where.PLAIN) is not None
    assert slash.find("ban", slash.Where.CLIENT) is not None
    assert slash.find("query", slash.Where.WEB) is not None
    assert slash.find("query", slash.Where.PLAIN) is None  # page-only
    assert slash.find("nosuch", slash.Where.PLAIN) is None


def test_help_speaks_both_languages_in_one_column() -> None:
    english = slash.help_lines(slash.Where.PLAIN, translator("en"))
    spanish = slash.help_lines(slash.Where.PLAIN, translator("es"))
    assert len(english) == len(slash.commands(slash.Where.PLAIN))
    assert any(line.startswith("/msg NICK TEXT ") for line in english)
    assert any(line.startswith("/msg APODO TEXTO ") for line in spanish)
    helps = [c.help for c in slash.commands(slash.Where.PLAIN)]
    assert len({line.index(text) for line, text in zip(english, helps, strict=True)}) == 1


def test_the_terminal_client_completes_every_client_command() -> None:
    assert set(TUI_COMMANDS) == {"/" + c.name for c in slash.commands(slash.Where.CLIENT)}


def test_every_plain_handler_is_in_the_registry() -> None:
    handlers = {name.removeprefix("cmd_") for name in dir(PlainHandler) if name.startswith("cmd_")}
    assert handlers == set(slash.names(slash.Where.PLAIN, aliases=False)) - {"quit"}


async def test_the_plain_door_knows_every_registry_command(server: Server) -> None:
    ana = await LineClient.connect(server.port, "ana")
    for name in slash.names(slash.Where.PLAIN):
        if name != "quit":
            await ana.send("/" + name)
    await ana.send("/nosuchcommand")
    # Unknown commands are answered at once and in order: all of them come before this one.
    before = await ana.lines_until(f"{UNKNOWN} /nosuchcommand")
    assert [line for line in before if UNKNOWN in line] == []
    await ana.send("/help")
    assert "/kick NICK [reason]" in await ana.expect("/kick")
    await ana.send("/quit")
    assert "* goodbye" in await ana.closed()


async def test_the_client_library_knows_every_registry_command(server: Server) -> None:
    client = await ChatClient.open("127.0.0.1", server.port)
    await client.hello("bea")
    said: list[str] = []
    chat = LineChat(client, "#lobby", translator("en"), out=said.append)
    assert set(chat.commands) == set(slash.names(slash.Where.CLIENT, aliases=False))
    for name in slash.names(slash.Where.CLIENT):
        said.clear()
        result = await chat.handle("/" + name)
        assert not [line for line in said if UNKNOWN in line], (name, said)
        assert (result == LEAVE) == (name == "quit"), name
    said.clear()
    await chat.handle("/nosuchcommand")
    assert said == ["! unknown command /nosuchcommand"]
    said.clear()
    await chat.handle("/help")
    login = [line for line in said if line.startswith("* /login NICK PASSWORD ")]
    assert login and login[0].endswith(" log in to a registered nick")
    assert any(line.startswith("* /serverban MASK") for line in said)
    await client.close()


async def test_the_web_door_serves_the_registry_in_every_language(server: Server) -> None:
    reply = await http(web_port(server), "/commands.json")
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    served = {c["name"]: c for c in json.loads(reply.body)["commands"]}
    assert list(served) == [c.name for c in slash.COMMANDS]
    query = served["query"]
    assert query["where"] == ["web"]
    assert query["args"] == {"en": "NICK", "es": "APODO"}
    assert served["rooms"]["aliases"] == ["list"]
    assert served["help"]["args"] == {"en": "", "es": ""}


@pytest.mark.parametrize("where", list(slash.Where))
def test_every_command_has_help_translated(where: slash.Where) -> None:
    spanish = translator("es")
    for command in slash.commands(where):
        assert spanish(command.help) != command.help, command
        assert not command.args or spanish(command.args), command
