"""The plain door over real sockets: relaying, the original client, nicks and bad input."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
import struct
import sys

import pytest

from chatclient import TIMEOUT, JsonClient, LineClient
from conftest import ServerFactory
from tertulia.core.hub import CROWD
from tertulia.server.app import Server
from tertulia.server.plain_door import WELCOME_NAMES


async def test_three_clients_each_message_reaches_the_other_two_once(server: Server) -> None:
    ana = await LineClient.connect(server.port, "ana")
    bob = await LineClient.connect(server.port, "bob")
    eva = await LineClient.connect(server.port, "eva")
    await ana.expect("eva joined #lobby")
    await bob.expect("eva joined #lobby")
    clients = {"ana": ana, "bob": bob, "eva": eva}
    for nick, client in clients.items():
        await client.send(f"hello from {nick}")
    # A last marker from each client closes the window: whatever came before it is all there is.
    for nick, client in clients.items():
        await client.send(f"done {nick}")
    for nick, client in clients.items():
        others = [n for n in clients if n != nick]
        received: list[str] = []
        for _ in others:
            received += await client.lines_until(
                lambda line: line.startswith("[") and "] done" in line
            )
        # The last marker may arrive after the other's: read until both markers are in.
        said = [line for line in client.seen if line.startswith("[")]
        for other in others:
            assert said.count(f"[{other}] hello from {other}") == 1, said
        assert not any(line.startswith(f"[{nick}]") for line in client.seen), client.seen


async def test_sender_never_gets_its_own_message(server: Server) -> None:
    ana = await LineClient.connect(server.port, "ana")
    bob = await LineClient.connect(server.port, "bob")
    await ana.send("only for others")
    await bob.expect("[ana] only for others")
    await bob.send("reply")
    lines = await ana.lines_until("[bob] reply")
    assert "[ana] only for others" not in lines


async def test_original_client_chats_with_plain_and_json(server: Server) -> None:
    plain = await LineClient.connect(server.port, "pepe")
    js = await JsonClient.connect(server.port, "jota")
    # The original client: connects, reads before writing, sends unterminated "[nick] text".
    orig = await LineClient.connect(server.port)
    await plain.send("before ana spoke")
    await orig.expect("[pepe] before ana spoke")

    await orig.send("[ana] hola", newline=False)
    await plain.expect("[ana] hola")
    got = await js.expect_obj(type="message", **{"from": "ana"})
    assert got["text"] == "hola" and got["room"] == "#lobby"

    await orig.send("[ana] que tal?", newline=False)
    await plain.expect("[ana] que tal?")
    await plain.send("bien, y vos?")
    await orig.expect("[pepe] bien, y vos?")
    await js.request({"type": "say", "room": "#lobby", "text": "desde json"})
    await orig.expect("[jota] desde json")

    await orig.send("[ana] #LOGOUT", newline=False)
    await orig.closed()
    await plain.expect("ana quit")
    await js.expect_obj(type="quit", nick="ana")
    assert "[ana] #LOGOUT" not in plain.seen


async def test_unterminated_bytes_are_one_line_after_idle(server: Server) -> None:
    # The original client never sends a newline: what sits idle is a line.
    ana = await LineClient.connect(server.port, "ana")
    bob = await LineClient.connect(server.port)
    await bob.send("[bob] half a ", newline=False)
    await bob.send("line", newline=False)
    await ana.expect("[bob] half a line")
    await bob.send("[bob] and another", newline=False)
    await ana.expect("[bob] and another")


async def test_taken_nick_gets_an_error_and_a_second_chance(server: Server) -> None:
    first = await LineClient.connect(server.port, "Ana")
    other = await LineClient.connect(server.port)
    await other.expect("type your nick")
    await other.send("aNA")
    error = await other.expect(lambda line: line.startswith("!"))
    assert "already in use" in error
    await other.send("ana2")
    await other.expect("you are ana2,")
    await first.expect("ana2 joined")


async def test_invalid_nicks_are_refused_with_a_reason(server: Server) -> None:
    client = await LineClient.connect(server.port)
    await client.expect("type your nick")
    for nick, reason in [
        ("9lives", "must start with"),
        ("a" * 31, "longer than 30"),
        ("has space", "use only"),
        ("еvan", "mixes scripts"),
    ]:
        await client.send(nick)
        error = await client.expect(lambda line: line.startswith("!"))
        assert reason in error, (nick, error)
    await client.send("ñandú")
    await client.expect("you are ñandú,")


async def _assert_nobody_saw_anything(watcher: LineClient, marker_from: LineClient) -> None:
    await marker_from.send("marker")
    before = await watcher.lines_until("] marker")
    assert before == [], before


async def test_bad_input_gets_an_error_and_nobody_notices(make_server) -> None:  # type: ignore[no-untyped-def]
    server = await make_server(max_message_bytes=512, max_line_bytes=1024)
    bad = await LineClient.connect(server.port, "bad")
    good = await LineClient.connect(server.port, "good")
    await bad.expect("good joined")

    await bad.send("x" * 513)
    assert "message too long" in await bad.expect(lambda line: line.startswith("!"))
    await bad.send("é" * 257)  # 514 bytes in UTF-8, 257 characters
    assert "message too long" in await bad.expect(lambda line: line.startswith("!"))

    await bad.send(b"y" * 5000, newline=False)
    await bad.send(b"y" * 5000 + b"\n", newline=False)
    assert "line too long" in await bad.expect(lambda line: line.startswith("!"))

    await bad.send(b"caf\xc3 \xff\xfe")
    assert "UTF-8" in await bad.expect(lambda line: line.startswith("!"))

    await bad.send("\x1b[2Jclear screen")
    assert "control characters" in await bad.expect(lambda line: line.startswith("!"))

    rng = random.Random(2026)
    junk = bytes(rng.getrandbits(8) for _ in range(4000))
    await bad.send(junk)
    await _assert_nobody_saw_anything(good, bad)

    # The connection survived all of it, and so did the server.
    await bad.send("still here")
    await good.expect("[bad] still here")
    late = await LineClient.connect(server.port, "late")
    await late.send("hi")
    await good.expect("[late] hi")


async def test_json_garbage_gets_an_error_and_the_connection_survives(server: Server) -> None:
    js = await JsonClient.connect(server.port, "jota")
    await js.send("{not json")
    error = await js.expect_obj(type="error")
    assert error["code"] == "bad_request"
    await js.send(json.dumps({"type": "say", "room": "#lobby", "text": "x" * 600, "id": 7}))
    error = await js.expect_obj(type="error", id=7)
    assert error["code"] == "message_too_long"
    pong = await js.request({"type": "ping"})
    assert pong["type"] == "pong"


async def test_commands(server: Server) -> None:
    ana = await LineClient.connect(server.port, "ana")
    bob = await LineClient.connect(server.port, "bob")
    await ana.send("/me waves")
    await bob.expect("* ana waves")
    await ana.send("/msg bob psst")
    await bob.expect("[ana -> bob] psst")
    await ana.send("/topic all about cats")
    await bob.expect("ana set the topic of #lobby: all about cats")
    await bob.send("/who")
    assert "ana bob" in await bob.expect("#lobby (2)")
    await ana.send("/nick anita")
    await bob.expect("ana is now known as anita")
    await ana.send("/join #cats")
    await ana.expect("you are anita, in #cats")
    await bob.expect("anita left #lobby")
    await bob.send("/rooms")
    await bob.expect("#cats (1)")
    await bob.send("//slash text")
    await ana.send("/part")
    await ana.expect("you are anita, in #lobby")
    await ana.send("/help")
    await ana.expect("/msg NICK TEXT")
    await ana.send("/quit off to bed")
    assert "* goodbye" in await ana.closed()
    await bob.expect("anita quit (off to bed)")


async def test_max_clients_refuses_with_a_line(make_server) -> None:  # type: ignore[no-untyped-def]
    server = await make_server(max_clients=2)
    kept = [await LineClient.connect(server.port, nick) for nick in ("one", "two")]
    third = await LineClient.connect(server.port)
    lines = await third.closed()
    assert any(line.startswith("! the server is full") for line in lines), lines
    await kept[0].send("still served")
    await kept[1].expect("[one] still served")


async def test_no_nick_in_time_is_closed(make_server) -> None:  # type: ignore[no-untyped-def]
    server = await make_server(nick_timeout=0.2)
    lurker = await LineClient.connect(server.port)
    lines = await lurker.closed(timeout=5)
    assert any("no nick after 0.2 seconds" in line for line in lines), lines


async def test_client_that_never_reads_is_dropped_and_others_get_everything(
    server: Server,
) -> None:
    total = 20_000
    window = 1_000  # in flight at most, as a real sender that waits on its peers would be
    readers = [await LineClient.connect(server.port, f"reader{i}") for i in range(3)]
    sender = await LineClient.connect(server.port, "sender")
    # A small receive window, set before connecting, so the kernel cannot soak up the flood.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
    stuck = await LineClient.connect(server.port, "stuck", sock=sock)
    stuck.writer.transport.pause_reading()  # type: ignore[attr-defined]
    for reader in readers:
        await reader.expect("stuck joined")

    # 20,000 x 400 bytes is twice what loopback's largest socket buffers hold.
    payload = "m" * 400
    progress = [0] * len(readers)
    moved = asyncio.Condition()

    async def send_all() -> None:
        for start in range(0, total, 200):

            def caught_up(floor: int = start - window) -> bool:
                return min(progress) >= floor

            async with moved:
                await asyncio.wait_for(moved.wait_for(caught_up), 30)
            chunk = "".join(f"{i} {payload}\n" for i in range(start, min(start + 200, total)))
            await sender.send(chunk, newline=False)

    async def count(index: int, reader: LineClient) -> int:
        expected = 0
        while expected < total:
            line = await reader.line(timeout=30)
            if line.startswith("[sender] "):
                number = int(line.split()[1])
                assert number == expected, (number, expected)
                expected += 1
                if expected % 100 == 0:
                    async with moved:
                        progress[index] = expected
                        moved.notify_all()
        return expected

    results = await asyncio.gather(send_all(), *(count(i, r) for i, r in enumerate(readers)))
    assert results[1:] == [total] * len(readers)
    # The stuck client was dropped mid-flood; its quit notice came among the messages.
    for reader in readers:
        assert any("stuck quit (slow consumer" in line for line in reader.seen)
    assert "stuck" not in server.hub.sessions


async def test_junk_and_abrupt_disconnects_from_many_clients_break_nothing(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    watcher = await LineClient.connect(server.port, "watcher")
    rng = random.Random(5000)

    async def vandal(index: int) -> None:
        client = await LineClient.connect(server.port)
        if index % 3 == 0:
            await client.send(f"v{index}")
        for _ in range(rng.randint(1, 8)):
            junk = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 3000)))
            await client.send(junk.replace(b"{", b"("), newline=rng.random() < 0.5)
        sock = client.writer.get_extra_info("socket")
        if index % 2:
            # An abrupt reset instead of a clean close.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.writer.transport.abort()

    with caplog.at_level(logging.WARNING, logger="tertulia"):
        await asyncio.gather(*(vandal(i) for i in range(24)))
        friend = await LineClient.connect(server.port, "friend")
        await friend.send("anyone there?")
        await watcher.expect("[friend] anyone there?")
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    # Only the watcher and the friend are left; every vandal's session is gone.
    await friend.send("/who")
    assert (await friend.expect("#lobby (")).endswith("friend watcher")


# A client on another machine: it reads while the server's loop writes a batch out
# (a reader in the server's own process, even in a thread, waits for the loop or its GIL).
READER = """
import socket, sys
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
sock.sendall(b"lector\\n")
received = bytearray()
while b"you are lector" not in received:
    received.extend(sock.recv(65536))
print("joined", flush=True)
while b"[fuente] 4999 " not in received:
    chunk = sock.recv(65536)
    if not chunk:
        break
    received.extend(chunk)
print(sum(line.startswith(b"[fuente] ") for line in received.split(b"\\n")), flush=True)
"""


async def test_a_big_batch_is_written_in_pieces(make_server: ServerFactory) -> None:
    # A flood's group commit can hold thousands of messages; written to each client in one
    # piece, a stalled client's queue took megabytes before its bound could drop it. The
    # burst (about 575 KB) fits the default bound, so a reader the scheduler starves for a
    # moment still gets all of it: a tighter bound would drop it, as the policy says.
    server = await make_server()
    reader = await asyncio.create_subprocess_exec(
        sys.executable, "-c", READER, str(server.port), stdout=asyncio.subprocess.PIPE
    )
    assert reader.stdout is not None
    assert await asyncio.wait_for(reader.stdout.readline(), TIMEOUT) == b"joined\n"
    stalled = await LineClient.connect(server.port, "quieto")
    stalled.writer.transport.pause_reading()  # type: ignore[attr-defined]
    sender = await LineClient.connect(server.port, "fuente")
    await sender.send("".join(f"{i} {'x' * 100}\n" for i in range(5000)), newline=False)
    assert await asyncio.wait_for(reader.stdout.readline(), TIMEOUT) == b"5000\n"
    assert await reader.wait() == 0
    assert 0 < server.stats.largest_write <= 65536
    for client in (stalled, sender):
        await client.close()


async def test_a_crowd_joining_costs_each_member_a_few_writes(server: Server) -> None:
    # Each join is told to every member; told one write per join, a crowd of N joining
    # one room cost N^2 / 2 writes. Who came and went may wait a moment instead.
    watcher = await LineClient.connect(server.port, "vigia")
    # A crowd: past CROWD members, arrivals are told lazily (smaller rooms hear at once).
    residents = await asyncio.gather(
        *(LineClient.connect(server.port, f"r{i}") for i in range(CROWD))
    )
    writes, events = server.stats.writes["plain"], server.hub.delivered
    # One after another: each arrival in a loop turn of its own.
    crowd = [await LineClient.connect(server.port, f"n{i}") for i in range(60)]
    await crowd[-1].send("hola")
    lines = await watcher.lines_until("[n59] hola")
    # Every arrival reached the watcher, before what came after it.
    joined = [line for line in lines if line.startswith("* n") and " joined #lobby" in line]
    assert sorted(joined) == sorted(f"* n{i} joined #lobby" for i in range(60))
    # A newcomer's welcome names some of a crowd, and says how many there are.
    welcome = next(line for line in crowd[-1].seen if line.startswith("* you are n59,"))
    assert f"with {CROWD + 60} more, among them: vigia, r" in welcome
    assert len(welcome.split("among them: ")[1].split(", ")) == WELCOME_NAMES
    told = server.hub.delivered - events
    assert told >= 60 * (CROWD + 1)  # each arrival, to everyone there before it
    assert server.stats.writes["plain"] - writes < told / 3
    for client in (watcher, *residents, *crowd):
        await client.close()


async def test_anonymous_listeners_are_counted_and_can_be_turned_off(
    make_server: ServerFactory,
) -> None:
    server = await make_server()
    ana = await LineClient.connect(server.port, "ana")
    silent = await LineClient.connect(server.port)  # hears #lobby, says nothing yet
    await silent.expect("type your nick")
    await ana.send("/who")
    assert (await ana.expect("#lobby (")).endswith("ana, and 1 listening without a nick")
    await ana.send("para quien escuche")
    await silent.expect("[ana] para quien escuche")
    closed = await make_server(anonymous_listeners=False)
    bo = await LineClient.connect(closed.port, "bo")
    quiet = await LineClient.connect(closed.port)
    await quiet.expect("type your nick")
    await bo.send("nadie sin nombre me oye")
    await bo.send("/who")
    assert (await bo.expect("#lobby (")).endswith("(1): bo")
    await quiet.send("quiet")
    lines = await quiet.lines_until("you are quiet")
    assert not any("nadie sin nombre" in line for line in lines[:-1])
    for client in (ana, silent, bo, quiet):
        await client.close()


async def test_lines_pasted_at_once_are_done_in_their_order(make_server: ServerFactory) -> None:
    server: Server = await make_server()
    ana = await LineClient.connect(server.port, "ana")
    # /register hashes a password off the loop; /claim needs its account, /rooms nothing.
    await ana.send("/join #sala\n/register secreto123\n/claim\n/rooms", newline=True)
    lines = await ana.lines_until("* #lobby (")  # /rooms: the last answer
    registered = lines.index("* ana is registered to you, and you are logged in")
    claimed = lines.index("* #sala is registered to ana")
    assert registered < claimed, lines
    assert not any(line.startswith("! ") for line in lines), lines
    await ana.close()


async def test_a_slow_line_that_fails_answers_before_the_lines_after_it(
    make_server: ServerFactory,
) -> None:
    server: Server = await make_server()
    ana = await LineClient.connect(server.port, "ana")
    await ana.send("/register secreto123")
    await ana.expect("registered to you")
    bob = await LineClient.connect(server.port, "bob")
    # /login hashes off the loop; its refusal comes before /rooms' answer.
    await bob.send("/login ana equivocada\n/rooms", newline=True)
    first = await bob.line()
    assert first.startswith("! ") and "password" in first, first
    assert (await bob.line()).startswith("* #lobby (")
    await ana.close()
    await bob.close()


async def test_too_many_lines_behind_slow_work_are_told_before_the_close(
    make_server: ServerFactory,
) -> None:
    server: Server = await make_server()
    bea = await LineClient.connect(server.port, "bea")
    # /register's hash keeps the next lines waiting; past the bound the client is told.
    await bea.send("/register secreto123\n" + "hola\n" * 3000, newline=False)
    assert any("too many lines too fast" in line for line in await bea.closed())
