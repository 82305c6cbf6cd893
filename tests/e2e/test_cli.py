"""The real program as a subprocess: start, the `listening` line, signals, errors, config."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from chatclient import JsonClient, LineClient

LISTENING = re.compile(rb"listening on 127\.0\.0\.1:(\d+)")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERTULIA_")}
    env.update({"LANG": "C.UTF-8", "LC_ALL": "", "LANGUAGE": ""}, **extra)
    # Never the user's own data directory.
    env.setdefault("TERTULIA_DATA_DIR", tempfile.mkdtemp(prefix="tertulia-test-"))
    return env


@asynccontextmanager
async def serving(
    *args: str, env: dict[str, str] | None = None
) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tertulia", "serve",
        "--port", "0", "--irc-port", "0", "--web-port", "0", *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env or _env(),
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        match = LISTENING.search(line)
        assert match, line
        yield proc, int(match.group(1))
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tertulia", *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env or _env(),
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_version() -> None:
    code, out, _ = await _run("--version")
    assert code == 0
    # From a checkout, the revision too (tests/e2e/test_package.py checks which one).
    assert re.fullmatch(r"tertulia \d+\.\d+\.\d+( \(git [0-9a-f]{4,}\))?\n", out)


async def test_sigterm_tells_every_client_and_exits_zero() -> None:
    async with serving() as (proc, port):
        plain = await LineClient.connect(port, "ana")
        js = await JsonClient.connect(port, "jota")
        anonymous = await LineClient.connect(port)
        await anonymous.expect("type your nick")
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 5)
        assert code == 0
        assert any("shutting down" in line for line in await plain.closed())
        notice = await js.expect_obj(type="notice")
        assert notice["code"] == "shutdown"
        assert any("shutting down" in line for line in await anonymous.closed())


async def test_sigint_exits_zero() -> None:
    async with serving() as (proc, port):
        client = await LineClient.connect(port, "ana")
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 5) == 0
        assert any("shutting down" in line for line in await client.closed())
        assert proc.stderr is not None
        assert b"Traceback" not in await proc.stderr.read()


async def test_port_in_use_is_one_clear_line_and_a_nonzero_exit() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = await _run("serve", "--port", str(port))
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert f"127.0.0.1:{port}" in lines[0] and "address already in use" in lines[0]
    assert "listening" not in out


async def test_the_line_names_the_door_whose_port_is_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = await _run(
            "serve", "--port", "0", "--irc-port", "0", "--web-port", str(port)
        )
    assert code == 1
    assert err.strip() == f"tertulia: cannot listen on 127.0.0.1:{port}: address already in use"
    assert "listening" not in out


async def test_a_store_that_cannot_be_reached_is_one_line_without_its_password() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        port = closed.getsockname()[1]
        url = f"postgresql://ana:secreto@127.0.0.1:{port}/chat"
        code, out, err = await _run("serve", "--port", "0", "--no-irc", "--no-web", "--store", url)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(
        f"tertulia: cannot open the history at postgresql://ana:***@127.0.0.1:{port}/chat: "
    )
    assert "secreto" not in err and "Traceback" not in err
    assert "listening" not in out
    code, _, err = await _run("serve", "--port", "0", "--store", "mysql://ana@db/chat")
    assert (code, err.strip()) == (
        1, "tertulia: cannot open the history at mysql://ana@db/chat: unknown store 'mysql': "
        "use sqlite:///file or postgresql://...",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # An unknown scheme: refused before any connection, the URL shown all the same.
        pytest.param(
            "postgress://ana:sekrit@db/chat", "postgress://ana:***@db/chat", id="unknown scheme"
        ),
        # libpq's host list, which urlsplit cannot give a port for.
        pytest.param(
            "postgresql://ana:sekrit@127.0.0.1:{one},127.0.0.1:{two}/chat",
            "postgresql://ana:***@127.0.0.1:{one},127.0.0.1:{two}/chat",
            id="host list",
        ),
        # The password as a query parameter.
        pytest.param(
            "postgresql://ana@127.0.0.1:{one}/chat?password=sekrit",
            "postgresql://ana@127.0.0.1:{one}/chat?password=***",
            id="query password",
        ),
        # A password libpq cannot decode, which its error quotes.
        pytest.param(
            "postgresql://u:sek%zzrit@127.0.0.1:{one}/db",
            "postgresql://u:***@127.0.0.1:{one}/db",
            id="undecodable password",
        ),
        # libpq's key=value settings are not a URL.
        pytest.param(
            "host=127.0.0.1 port={one} password=sekrit",
            "host=127.0.0.1 port={one} password=***",
            id="key=value",
        ),
    ],
)
async def test_a_store_url_is_never_shown_with_its_password(url: str, shown: str) -> None:
    with socket.socket() as one, socket.socket() as two:
        one.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        two.bind(("127.0.0.1", 0))
        ports = {"one": one.getsockname()[1], "two": two.getsockname()[1]}
        code, out, err = await _run(
            "serve", "--port", "0", "--no-irc", "--no-web", "--store", url.format(**ports)
        )
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"tertulia: cannot open the history at {shown.format(**ports)}: ")
    assert "Traceback" not in err
    for secret in ("sekrit", "sek%zzrit"):
        assert secret not in out + err
    assert "listening" not in out


async def test_bad_configuration_is_one_line() -> None:
    code, _, err = await _run("serve", env=_env(TERTULIA_PORT="many"))
    assert code == 2
    assert err.strip().splitlines() == [
        "tertulia: configuration: TERTULIA_PORT: bad value 'many' for port"
    ]


async def test_flags_beat_environment_beat_file(tmp_path: Path) -> None:
    conf = tmp_path / "tertulia.toml"
    conf.write_text('server_name = "from-file"\nmax_message_bytes = 100\n')
    env = _env(TERTULIA_SERVER_NAME="from-env")
    async with serving("--config", str(conf), env=env) as (_, port):
        client = await LineClient.connect(port)
        assert "welcome to from-env" in await client.expect("welcome")
        await client.send("ana")
        await client.send("x" * 101)
        assert "the limit is 100" in await client.expect("!")
    async with serving("--config", str(conf), "--server-name", "from-flag", env=env) as (_, port):
        client = await LineClient.connect(port)
        assert "welcome to from-flag" in await client.expect("welcome")


async def test_log_json_writes_json_lines() -> None:
    async with serving("--log-json") as (proc, port):
        client = await LineClient.connect(port, "ana")
        await client.close()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 5) == 0
        assert proc.stderr is not None
        records = [json.loads(line) for line in (await proc.stderr.read()).splitlines()]
    registered = [r for r in records if r["msg"] == "registered"]
    assert registered and registered[0]["nick"] == "ana" and registered[0]["level"] == "info"


async def test_help_speaks_the_users_language() -> None:
    code, out, _ = await _run("serve", "--help", env=_env(LANG="es_AR.UTF-8"))
    assert code == 0 and "archivo de configuración TOML" in out
    code, out, _ = await _run("serve", "--lang", "en", "--help", env=_env(LANG="es_AR.UTF-8"))
    assert code == 0 and "TOML configuration file" in out


async def test_each_door_is_announced_once_and_the_web_door_as_a_url() -> None:
    async with serving() as (proc, _):
        assert proc.stdout is not None and proc.stderr is not None
        rest = [(await asyncio.wait_for(proc.stdout.readline(), 20)).decode() for _ in range(2)]
        assert re.fullmatch(r"irc door listening on 127\.0\.0\.1:\d+\n", rest[0]), rest
        url = re.fullmatch(r"web door listening on http://127\.0\.0\.1:(\d+)/\n", rest[1])
        assert url, rest
        # The URL is the page itself: a browser opened on it gets the chat.
        reader, writer = await asyncio.open_connection("127.0.0.1", int(url[1]))
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"HTTP/1.1 200")
        writer.close()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 5) == 0
        out, err = await proc.stdout.read(), await proc.stderr.read()
    # Nothing else says it again: not stdout, not the log on stderr.
    assert b"listening" not in out and b"listening" not in err, (out, err)


def test_a_tls_web_door_is_an_https_url() -> None:
    from tertulia.cli import listening_line

    assert (
        listening_line("web-tls", "127.0.0.1:8443")
        == "web door listening on https://127.0.0.1:8443/"
    )
    assert listening_line("web", "::1:8080") == "web door listening on http://[::1]:8080/"
    assert (
        listening_line("irc-tls", "127.0.0.1:6697")
        == "irc door listening on 127.0.0.1:6697 with tls"
    )


async def test_each_command_says_what_it_does_and_bench_its_scenarios() -> None:
    for command, about in [
        ("serve", "Run the chat server"),
        ("chat", "Chat from the terminal"),
        ("bench", "Measure a chat server under load"),
    ]:
        code, out, _ = await _run(command, "--help")
        assert code == 0 and about in out, (command, out)
    _, out, _ = await _run("bench", "--help", env=_env(COLUMNS="100"))
    listed = out.split("\nscenarios:\n", 1)[1].splitlines()
    for name in ("fanout", "latency", "stall", "idle", "churn"):
        assert any(line.startswith(f"  {name}  ") for line in listed), (name, listed)


async def test_argparse_speaks_spanish_too() -> None:
    # By the locale, and by --lang under an English locale; help and errors alike.
    for args, env in [(("serve", "--help"), _env(LANG="es_AR.UTF-8")),
                      (("serve", "--lang", "es", "--help"), _env())]:  # fmt: skip
        code, out, _ = await _run(*args, env=env)
        assert code == 0
        assert out.startswith("uso: tertulia serve"), out
        assert "\nopciones:\n" in out and "muestra esta ayuda y termina" in out, out
        assert "usage:" not in out and "options:" not in out and "show this help" not in out
    code, _, err = await _run("bench", env=_env(LANG="es_AR.UTF-8"))
    assert code == 2 and "error: faltan estos argumentos: scenario" in err, err
    code, _, err = await _run("serve", "--lang", "es", "--port", "abc")
    assert code == 2 and "argumento --port: valor int no válido: 'abc'" in err, err
    code, _, err = await _run("bench", "nosuch", env=_env(LANG="es_AR.UTF-8"))
    assert code == 2 and "escenario desconocido 'nosuch': elige entre fanout" in err, err
    code, _, err = await _run("bench", "fanout", "--clients", "0", env=_env(LANG="es_AR.UTF-8"))
    assert code == 2 and "se esperaban números positivos: '0'" in err, err
    # And English stays English.
    code, out, _ = await _run("serve", "--help")
    assert out.startswith("usage: tertulia serve") and "\noptions:\n" in out
