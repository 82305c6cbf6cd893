"""English and Spanish: the catalogs are complete and compiled, and the program speaks both."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from chatclient import LineClient
from tertulia.i18n import language, translator
from tertulia.server.app import Server

ROOT = Path(__file__).resolve().parent.parent


def test_catalogs_are_complete_and_compiled() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "i18n.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_translator_speaks_spanish_and_english() -> None:
    assert translator("es")("goodbye") == "adiós"
    assert translator("en")("goodbye") == "goodbye"
    assert (
        translator("es")("{nick} joined {room}").format(nick="ana", room="#x") == "ana entró a #x"
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LANG": "es_AR.UTF-8"}, "es"),
        ({"LANG": "C"}, "en"),
        ({"LC_ALL": "es_ES.UTF-8", "LANG": "en_US.UTF-8"}, "es"),
        ({"LANGUAGE": "fr:es", "LANG": "en_US.UTF-8"}, "es"),
        ({}, "en"),
    ],
)
def test_language_from_the_locale(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert language() == expected


def test_the_lang_flag_beats_the_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "es_AR.UTF-8")
    assert language("en") == "en"


async def test_a_spanish_server_speaks_spanish_to_plain_clients(make_server) -> None:  # type: ignore[no-untyped-def]
    server: Server = await make_server(lang="es")
    client = await LineClient.connect(server.port)
    assert "escribe tu nick" in await client.expect("bienvenido")
    await client.send("9nueve")
    assert "debe empezar con una letra" in await client.expect("!")
    await client.send("ana")
    await client.expect("eres ana, en #lobby")
    await client.send("/quit")
    assert "* adiós" in await client.closed()


def test_port_in_use_in_spanish() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("TERTULIA_")}
        env["LANG"] = "es_AR.UTF-8"
        result = subprocess.run(
            [sys.executable, "-m", "tertulia", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == f"tertulia: no se puede escuchar en 127.0.0.1:{port}: la dirección ya está en uso"
    )
