"""`tertulia chat` as a subprocess: the set-up flow and the line mode, against a real server."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from conftest import ServerFactory
from tertulia.client import events as ev
from tertulia.client.connection import ChatClient
from tertulia.server.app import Server

pytestmark = pytest.mark.timeout(60)


async def chat(*args: str, stdin: str, lang: str = "en") -> tuple[int, str, str]:
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "", "LANGUAGE": ""}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tertulia", "chat", "--lang", lang, *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    async with asyncio.timeout(30):
        out, err = await proc.communicate(stdin.encode())
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_a_bad_port_is_asked_again_and_salir_ends_with_0() -> None:
    code, out, err = await chat(stdin="seis\n70000\nsalir\n")
    assert code == 0, err
    assert out.count("A port is a number from 1 to 65535") == 2
    assert out.count("Port (Enter for 5000):") == 3
    assert "Traceback" not in err


@pytest.mark.parametrize("word", ["salir", "exit", "QUIT"])
async def test_each_quit_word_at_the_nick_prompt_ends_with_0(server: Server, word: str) -> None:
    code, out, err = await chat(stdin=f"{server.port}\n{word}\n")
    assert code == 0, err
    assert "Nick:" in out
    assert "you are" not in out


async def test_spanish_prompts(server: Server) -> None:
    code, out, _ = await chat(stdin="abc\nsalir\n", lang="es")
    assert code == 0
    assert "Puerto (Intro para 5000):" in out and "prueba otra vez" in out


async def test_a_taken_nick_shows_the_reason_and_the_question_comes_back(server: Server) -> None:
    ana = await ChatClient.open("127.0.0.1", server.port)
    await ana.hello("ana")
    code, out, err = await chat("--port", str(server.port), stdin="Ana\nbea\nhola\n")
    assert code == 0, err
    assert out.count("Nick:") == 2
    assert "! " in out and "Ana" in out  # the server's reason, e.g. the nick is taken
    assert "* you are bea, in #lobby" in out
    message = await _next_message(ana)
    assert (message.sender, message.text) == ("bea", "hola")
    await ana.quit()


async def test_plain_mode_pipes_lines_through_the_server(server: Server) -> None:
    reader = await ChatClient.open("127.0.0.1", server.port)
    await reader.hello("reader")
    await reader.join("#otra")
    lines = "hola\n/me saluda\n/join #otra\nen otra\n/msg reader psst\n"
    code, out, err = await chat("--port", str(server.port), "--nick", "bot", "--plain", stdin=lines)
    assert code == 0, err
    assert "* you are bot, in #lobby" in out
    got = [await _next_message(reader) for _ in range(4)]
    assert [(type(m).__name__, m.text) for m in got] == [
        ("Message", "hola"), ("Message", "saluda"), ("Message", "en otra"), ("Private", "psst"),
    ]  # fmt: skip
    assert got[1].kind == "action" and isinstance(got[2], ev.Message) and got[2].room == "#otra"
    assert "[bot -> reader] psst" in out.splitlines()  # your own /msg is shown
    await reader.quit()


async def test_plain_mode_prints_what_others_say(server: Server) -> None:
    talker = await ChatClient.open("127.0.0.1", server.port)
    await talker.hello("talker")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tertulia", "chat", "--lang", "en", "--port", str(server.port),
        "--nick", "listener", "--plain",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdin is not None
    async with asyncio.timeout(20):
        first = await proc.stdout.readline()
        assert b"you are listener" in first, first
        await talker.say("#lobby", "buenas")
        second = await proc.stdout.readline()
        assert second == b"#lobby [talker] buenas\n", second
        proc.stdin.write(b"#LOGOUT\n")
        await proc.stdin.drain()
        assert await proc.wait() == 0
    await talker.quit()


async def test_plain_mode_replies_and_shows_replies_and_reactions(server: Server) -> None:
    reader = await ChatClient.open("127.0.0.1", server.port)
    await reader.hello("reader")
    said = await reader.say("#lobby", "hay tortilla")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tertulia", "chat", "--lang", "en", "--port", str(server.port),
        "--nick", "bot", "--plain",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdin is not None

    async def printed(wanted: str) -> str:
        assert proc.stdout is not None
        while wanted not in (line := (await proc.stdout.readline()).decode()):
            assert line, f"ended before {wanted!r}"
        return line.rstrip("\n")

    async with asyncio.timeout(20):
        await printed("#lobby [reader] hay tortilla")  # the replay on arriving
        proc.stdin.write(b"/reply 1 yo\n")
        answer = await _next_message(reader)
        assert (answer.text, answer.reply_to) == ("yo", str(said.data["msgid"]))
        assert await printed("[bot]") == "#lobby [bot] ↪ reader: «hay tortilla» yo"
        await reader.react("#lobby", int(answer.msgid), "👍")
        assert await printed("reacted") == "#lobby * reader reacted 👍 to bot: «yo»"
        await reader.say("#lobby", "¡bien!", reply_to=int(answer.msgid))
        assert await printed("¡bien!") == "#lobby [reader] ↪ bot: «yo» ¡bien!"
        proc.stdin.write(b"#LOGOUT\n")
        await proc.stdin.drain()
        assert await proc.wait() == 0
    await reader.quit()


async def test_plain_mode_leaves_when_the_server_goes(make_server: ServerFactory) -> None:
    server: Server = await make_server()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tertulia", "chat", "--lang", "en", "--port", str(server.port),
        "--nick", "listener", "--plain",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    async with asyncio.timeout(20):
        assert b"you are listener" in await proc.stdout.readline()
        await server.shutdown()
        # Its input stays open: it leaves at once all the same, saying why.
        assert await proc.wait() == 1
        err = (await proc.stderr.read()).decode()
    assert err.strip() == "tertulia: the server closed the connection", err


async def test_plain_mode_quit_leaves_with_0_and_sends_nothing_after(server: Server) -> None:
    reader = await ChatClient.open("127.0.0.1", server.port)
    await reader.hello("reader")
    code, _, err = await chat(
        "--port", str(server.port), "--nick", "bot", "--plain", stdin="uno\n/quit\ndos\n"
    )  # fmt: skip
    assert code == 0 and err == "", err
    heard: list[str] = []
    async with asyncio.timeout(10):
        async for event in reader.events():
            if isinstance(event, ev.Message):
                heard.append(event.text)
            if isinstance(event, ev.Quit) and event.nick == "bot":
                break
    assert heard == ["uno"]
    await reader.quit()


async def test_no_server_is_one_line_and_exit_1(server: Server) -> None:
    port = server.port
    await server.shutdown()
    code, _, err = await chat("--port", str(port), "--nick", "x", stdin="")
    assert code == 1
    assert err.strip().startswith("tertulia: cannot connect to 127.0.0.1:")
    assert "Traceback" not in err


async def _next_message(client: ChatClient) -> ev.Message | ev.Private:
    async with asyncio.timeout(10):
        async for event in client.events():
            if isinstance(event, ev.Message | ev.Private):
                return event
    raise AssertionError("closed before a message")


async def test_the_line_mode_shows_the_message_of_the_day(make_server: ServerFactory) -> None:
    server: Server = await make_server(motd="Hoy: charla de redes\na las 18:00")
    code, out, err = await chat("--port", str(server.port), "--nick", "eva", "--plain", stdin="")
    assert code == 0, err
    lines = out.splitlines()
    start = lines.index("* Hoy: charla de redes")
    assert lines[start + 1 : start + 3] == ["* a las 18:00", "* you are eva, in #lobby"]
