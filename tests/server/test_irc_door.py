"""The IRC door over real sockets: registration, channels, messages across doors."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from chatclient import JsonClient, LineClient
from conftest import ServerFactory
from ircclient import IrcClient, irc, irc_port
from tertulia.server.app import Server
from tertulia.server.irc.commands import COMMANDS, Command


async def test_registration_burst_without_cap(server: Server) -> None:
    client = await IrcClient.connect(irc_port(server))
    await client.send("NICK ana\r\nUSER ana 0 * :Ana")
    burst = await client.lines_until(" 422 ")
    codes = [line.split(" ")[1] for line in burst]
    assert codes == [
        "001", "002", "003", "004", "005", "005", "005", "251", "252", "253", "254", "255", "265",
        "266",
    ]  # fmt: skip
    isupport = " ".join(burst[4:7])
    for token in (
        "CASEMAPPING=ascii", "UTF8MAPPING=rfc8265", "CHANTYPES=#", "NICKLEN=30", "NETWORK=tertulia"
    ):  # fmt: skip
        assert f" {token} " in isupport
    await client.send("PING :abc")
    assert (await client.expect("PONG")) == ":tertulia PONG tertulia abc"
    await client.close()


async def test_cap_negotiation_holds_the_welcome_until_cap_end(server: Server) -> None:
    client = await IrcClient.connect(irc_port(server))
    await client.send("CAP LS 302\r\nNICK ana\r\nUSER ana 0 * :Ana\r\nCAP REQ :example.org/unknown")
    assert " CAP * LS " in await client.line()
    assert " CAP " in (nak := await client.line()) and " NAK " in nak
    await client.send("CAP END")
    assert " 001 ana " in await client.line()
    await client.close()


async def test_unknown_commands_and_unregistered_use(server: Server) -> None:
    client = await IrcClient.connect(irc_port(server))
    await client.send("JOIN #lobby")
    assert " 451 " in await client.line()
    await client.send("NICK ana\r\nUSER ana 0 * :Ana")
    await client.expect(" 422 ")
    await client.send("FROBNICATE now")
    assert re.search(r" 421 ana FROBNICATE :Unknown command", await client.line())
    await client.close()


async def test_join_names_topic_part(server: Server) -> None:
    ana = await irc(server, "ana")
    await ana.send("JOIN #dev")
    assert await ana.line() == ":ana!ana@tertulia JOIN #dev"
    assert " 353 ana = #dev :@ana" in await ana.line()
    assert " 366 ana #dev " in await ana.line()
    bo = await irc(server, "bo", cap=True)
    await bo.send("JOIN #dev")
    await bo.expect(" 366 ")
    assert await ana.line() == ":bo!bo@tertulia JOIN #dev"
    await ana.send("TOPIC #dev :planning day")
    assert await ana.line() == ":ana!ana@tertulia TOPIC #dev :planning day"
    assert await bo.line() == ":ana!ana@tertulia TOPIC #dev :planning day"
    await bo.send("NAMES #dev")
    assert (await bo.line()).endswith("= #dev :@ana bo")
    await bo.expect(" 366 bo #dev ")
    await bo.send("PART #dev :bye")
    assert await bo.line() == ":bo!bo@tertulia PART #dev :bye"
    assert await ana.line() == ":bo!bo@tertulia PART #dev :bye"
    await ana.close()
    await bo.close()


async def test_messages_cross_every_door(server: Server) -> None:
    plain = await LineClient.connect(server.port, "pia")
    js = await JsonClient.connect(server.port, "jo")
    ana = await irc(server, "ana")
    await ana.send("JOIN #lobby")
    await ana.expect(" 366 ")
    await plain.expect("ana joined #lobby")
    await ana.send("PRIVMSG #lobby :hola desde IRC")
    assert await plain.expect("hola desde IRC") == "[ana] hola desde IRC"
    got = await js.expect_obj(type="message")
    assert (got["from"], got["text"], got["room"]) == ("ana", "hola desde IRC", "#lobby")
    await plain.send("y desde netcat")
    assert await ana.expect("netcat") == ":pia!pia@tertulia PRIVMSG #lobby :y desde netcat"
    await ana.send("PRIVMSG #lobby :\x01ACTION saluda\x01")
    assert await plain.expect("saluda") == "* ana saluda"
    await ana.send("PRIVMSG jo :psst")
    private = await js.expect_obj(type="private")
    assert (private["from"], private["text"]) == ("ana", "psst")
    await ana.send("QUIT :me voy")
    assert "ERROR" in await ana.expect("ERROR")
    assert await plain.expect("ana quit") == "* ana quit (me voy)"
    for client in (plain, js, ana):
        await client.close()


async def test_nicks_are_shared_across_doors(server: Server) -> None:
    plain = await LineClient.connect(server.port, "Ana")
    client = await IrcClient.connect(irc_port(server))
    await client.send("NICK ana\r\nUSER ana 0 * :Ana")
    assert re.search(r" 433 \* ana :Nickname is already in use", await client.line())
    await client.send("NICK ana2")
    assert " 001 ana2 " in await client.line()
    await client.close()
    await plain.close()


async def test_who_whois_list_ison_and_friends(server: Server) -> None:
    plain = await LineClient.connect(server.port, "pia")
    ana = await irc(server, "ana")
    await ana.send("WHO #lobby")
    who = await ana.lines_until(" 315 ana #lobby ")
    assert any(" 352 ana #lobby pia tertulia tertulia pia H :0 pia (plain)" in w for w in who)
    await ana.send("WHOIS pia")
    whois = await ana.lines_until(" 318 ")
    assert [w.split(" ")[1] for w in whois] == ["311", "319", "312", "317"]
    assert whois[1].endswith(":#lobby")  # nobody runs #lobby but the server's operators
    await ana.send("WHOIS nobody")
    assert " 401 ana nobody " in await ana.line()
    await ana.expect(" 318 ")
    await ana.send("LIST")
    assert " 321 ana Channel " in await ana.line()
    assert " 322 ana #lobby 1 :" in await ana.line()
    assert " 323 " in await ana.line()
    await ana.send("ISON pia nobody ANA")
    assert (await ana.line()).endswith(" 303 ana :pia ana")
    await ana.send("USERHOST pia")
    assert (await ana.line()).endswith(" 302 ana :pia=+pia@tertulia")
    for command, code in (("MOTD", "422"), ("VERSION", "351"), ("TIME", "391")):
        await ana.send(command)
        assert f" {code} ana " in await ana.line()
    await ana.close()
    await plain.close()


async def test_channel_modes_and_invites(server: Server) -> None:
    ana = await irc(server, "ana")
    await ana.send("JOIN #dev")
    await ana.expect(" 366 ")
    await ana.send("MODE #dev")
    assert (await ana.line()).endswith(" 324 ana #dev :+n")
    assert " 329 ana #dev " in await ana.line()
    await ana.send("MODE #dev +b")
    assert " 368 ana #dev " in await ana.line()
    bo = await irc(server, "bo")
    await bo.send("JOIN #dev")
    await bo.expect(" 366 ")
    await ana.expect("JOIN #dev")
    await bo.send("MODE #dev +m")
    assert " 482 bo #dev " in await bo.line()
    await ana.send("MODE #dev +mt")
    assert await ana.line() == ":ana!ana@tertulia MODE #dev +mt"
    assert await bo.line() == ":ana!ana@tertulia MODE #dev +mt"
    await bo.send("PRIVMSG #dev :can I speak?")
    assert " 404 bo #dev " in await bo.line()
    await bo.send("TOPIC #dev :mine")
    assert " 482 bo #dev " in await bo.line()
    await ana.send("MODE #dev +v bo")
    assert await bo.line() == ":ana!ana@tertulia MODE #dev +v bo"
    await bo.send("PRIVMSG #dev :now I can")
    assert (await ana.expect("now I can")).endswith(":now I can")
    await ana.send("MODE #dev +i")
    await ana.expect("MODE #dev +i")
    cy = await irc(server, "cy")
    await cy.send("JOIN #dev")
    assert " 473 cy #dev " in await cy.line()
    await ana.send("INVITE cy #dev")
    assert (await ana.expect(" 341 ")).endswith(" 341 ana cy :#dev")
    assert await cy.line() == ":ana!ana@tertulia INVITE cy #dev"
    await cy.send("JOIN #dev")
    await cy.expect(" 366 ")
    await ana.send("JOIN #k\r\nMODE #k +kl sesame 2")
    await ana.expect("MODE #k +kl sesame 2")
    await bo.send("JOIN #k")
    assert " 475 bo #k " in await bo.expect(" 475 ")
    await bo.send("JOIN #k sesame")
    await bo.expect(" 366 bo #k ")
    await cy.send("JOIN #k sesame")
    assert " 471 cy #k " in await cy.expect(" 471 ")
    await ana.send("MODE #k")
    assert (await ana.expect(" 324 ")).endswith(" 324 ana #k +nkl sesame :2")
    await ana.send("MODE ana")
    assert (await ana.expect(" 221 ")).endswith(" 221 ana :+")
    for client in (ana, bo, cy):
        await client.close()


async def test_plain_members_see_mode_changes(server: Server) -> None:
    ana = await irc(server, "ana")
    await ana.send("JOIN #dev")
    await ana.expect(" 366 ")
    plain = await LineClient.connect(server.port, "pia")
    await plain.send("/join #dev")
    await plain.expect("you are pia, in #dev")
    await ana.send("MODE #dev +o pia")
    assert await plain.expect("set mode") == "* ana set mode +o pia on #dev"
    await plain.send("/kick ana bye")
    assert (await ana.expect("KICK")).startswith(":pia!pia@tertulia KICK #dev ana")
    await ana.close()
    await plain.close()


async def test_a_silent_client_is_pinged_then_dropped(make_server: ServerFactory) -> None:
    server: Server = await make_server(ping_interval=0.2)
    ana = await irc(server, "ana")
    assert await ana.expect("PING") == "PING tertulia"
    await ana.send("PONG tertulia")
    # Answering keeps it; then silence: another PING, and the door gives up.
    assert await ana.expect("PING") == "PING tertulia"
    lines = await ana.closed()
    assert any("ping timeout" in line for line in lines)


async def test_idle_clients_share_one_ping_sweep_and_leave_it(make_server: ServerFactory) -> None:
    # One sweep per server pings every quiet client, with no timer of its own: each that
    # leaves (a QUIT, a dropped socket) leaves the sweep, so idle memory does not leak.
    server: Server = await make_server()
    sweep = server.liveness
    ana = await irc(server, "ana")
    bo = await irc(server, "bo")
    assert len(sweep) == 2
    await ana.send("JOIN #dev")
    await ana.expect(" 366 ")
    await bo.send("JOIN #dev")
    await bo.expect(" 366 ")
    await bo.close()  # no QUIT: the socket just goes
    await ana.expect(":bo!bo@tertulia QUIT")
    assert len(sweep) == 1
    await ana.send("QUIT :bye")
    await ana.closed()
    assert len(sweep) == 0


async def test_server_time_and_echo_message(server: Server) -> None:
    ana = await IrcClient.connect(irc_port(server))
    await ana.send("CAP LS 302")
    offered = await ana.line()
    assert "server-time" in offered and "echo-message" in offered
    await ana.send("CAP REQ :server-time echo-message\r\nNICK ana\r\nUSER ana 0 * :Ana")
    assert (await ana.line()).endswith("ACK :server-time echo-message")
    await ana.send("CAP END")
    welcome = await ana.expect(" 001 ")
    assert re.match(r"@time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z :tertulia 001 ", welcome)
    await ana.expect(" 422 ")
    bo = await irc(server, "bo")
    await ana.send("JOIN #lobby")
    await ana.expect(" 366 ")
    await bo.send("JOIN #lobby")
    await bo.expect(" 366 ")
    await bo.send("PRIVMSG #lobby :con hora")
    tagged = await ana.expect("con hora")
    assert re.match(r"@time=\S+Z :bo!bo@tertulia PRIVMSG #lobby :con hora$", tagged)
    await ana.send("PRIVMSG #lobby :eco")
    echoed = await ana.expect(":eco")
    assert re.match(r"@time=\S+Z :ana!ana@tertulia PRIVMSG #lobby :eco$", echoed)
    assert await bo.expect(":eco") == ":ana!ana@tertulia PRIVMSG #lobby :eco"  # bo has no tags
    await ana.close()
    await bo.close()


async def test_a_server_password_is_required_over_irc(make_server: ServerFactory) -> None:
    server: Server = await make_server(password="s3cret")
    wrong = await IrcClient.connect(irc_port(server))
    await wrong.send("PASS nope\r\nNICK ana\r\nUSER ana 0 * :Ana")
    assert " 464 * :Password incorrect" in await wrong.line()
    assert any("bad password" in line for line in await wrong.closed())
    missing = await IrcClient.connect(irc_port(server))
    await missing.send("NICK ana\r\nUSER ana 0 * :Ana")
    assert " 464 " in await missing.line()
    right = await IrcClient.connect(irc_port(server))
    await right.send("CAP LS 302\r\nPASS s3cret\r\nNICK ana\r\nUSER ana 0 * :Ana\r\nCAP END")
    await right.expect(" 001 ana ")
    await right.send("PASS again")
    assert " 462 " in await right.expect(" 462 ")
    await right.close()


async def test_an_operator_kicks_across_doors(server: Server) -> None:
    ana = await irc(server, "ana")
    await ana.send("JOIN #dev")
    assert "@ana" in await ana.expect(" 353 ")
    plain = await LineClient.connect(server.port, "pia")
    await plain.send("/join #dev")
    await plain.expect("you are pia, in #dev")
    await ana.expect("JOIN #dev")
    await plain.send("/kick ana")
    assert "not an operator of #dev" in await plain.expect("!")
    await ana.send("KICK #dev pia :too loud")
    assert await ana.expect("KICK") == ":ana!ana@tertulia KICK #dev pia :too loud"
    assert await plain.expect("put out") == "* pia was put out of #dev by ana (too loud)"
    await ana.send("KICK #dev pia")
    assert " 441 ana pia #dev " in await ana.line()
    await ana.close()
    await plain.close()


async def test_away_shows_in_whois_who_and_replies_and_reaches_away_notify(
    server: Server,
) -> None:
    watcher = await IrcClient.connect(irc_port(server))
    await watcher.send("CAP REQ :away-notify\r\nNICK wat\r\nUSER wat 0 * :W\r\nCAP END")
    await watcher.expect(" 422 ")
    ana = await irc(server, "ana")
    for client in (watcher, ana):
        await client.send("JOIN #dev")
        await client.expect(" 366 ")
    await ana.send("AWAY :lunch")
    assert " 306 ana " in await ana.line()
    assert await watcher.expect("AWAY") == ":ana!ana@tertulia AWAY :lunch"
    await watcher.send("PRIVMSG ana :are you there?")
    assert (await watcher.expect(" 301 ")).endswith(" 301 wat ana :lunch")
    await watcher.send("WHO #dev")
    who = await watcher.lines_until(" 315 ")
    assert any(" ana G@ " in w or " ana G " in w for w in who)
    await ana.send("AWAY")
    assert " 305 ana " in await ana.expect(" 305 ")
    assert await watcher.expect("AWAY") == ":ana!ana@tertulia AWAY"
    await watcher.close()
    await ana.close()


async def test_multi_prefix_shows_every_mark(server: Server) -> None:
    ana = await IrcClient.connect(irc_port(server))
    await ana.send("CAP REQ :multi-prefix\r\nNICK ana\r\nUSER ana 0 * :A\r\nCAP END")
    await ana.expect(" 422 ")
    bo = await irc(server, "bo")
    await ana.send("JOIN #dev\r\nMODE #dev +v ana")
    await ana.expect("MODE #dev +v ana")
    await bo.send("JOIN #dev")
    assert (await bo.expect(" 353 ")).endswith(":@ana bo")  # one mark without the cap
    await ana.send("NAMES #dev")
    assert (await ana.expect(" 353 ")).endswith(":@+ana bo")
    await ana.send("MODE ana +i")
    await ana.send("LUSERS")
    assert " 251 ana :There are 1 users and 1 invisible " in await ana.expect(" 251 ")
    for client in (ana, bo):
        await client.close()


async def test_long_lines_and_bad_bytes_are_dropped_and_the_client_stays(server: Server) -> None:
    ana = await irc(server, "ana")
    bo = await irc(server, "bo")
    for client in (ana, bo):
        await client.send("JOIN #lobby")
        await client.expect(" 366 ")
    await ana.send("PRIVMSG #lobby :" + "x" * 600)
    assert " 417 ana :Input line was too long" in await ana.expect(" 417 ")
    await ana.send(b"PRIVMSG #lobby :\xff\xfe broken\r\n\x00\x01\x02\r\n", newline=False)
    await ana.send("@" + "t=" + "v" * 9000 + " PRIVMSG #lobby :tagged too long")
    await ana.expect(" 417 ")
    await ana.send("PRIVMSG #lobby :still here")
    assert await bo.expect("still here") == ":ana!ana@tertulia PRIVMSG #lobby :still here"
    assert not any("broken" in line or "x" * 100 in line for line in bo.seen)
    await ana.close()
    await bo.close()


async def test_unregistered_connections_time_out(make_server: ServerFactory) -> None:
    server: Server = await make_server(nick_timeout=0.2)
    lurker = await IrcClient.connect(irc_port(server))
    await lurker.send("NICK lurker")  # never sends USER
    lines = await lurker.closed()
    assert any("NOTICE" in line for line in lines)


async def test_only_commands_in_the_table_run(server: Server) -> None:
    # CLOSE and LINE once reached the handler's own methods: CLOSE left a ghost holding
    # its nick for ever. Now they are unknown commands, and the nick is free after QUIT.
    ghost = await irc(server, "ghost")
    await ghost.send("CLOSE :x\r\nLINE :y")
    assert " 421 ghost CLOSE " in await ghost.line()
    assert " 421 ghost LINE " in await ghost.line()
    await ghost.send("QUIT :bye")
    await ghost.expect("ERROR")
    again = await irc(server, "ghost")
    await again.send("WHOIS ghost")
    assert " 311 ghost ghost ghost " in await again.expect(" 311 ")
    await again.close()


async def test_a_ban_set_on_irc_holds_on_every_door(server: Server) -> None:
    ana = await irc(server, "ana")
    await ana.send("JOIN #dev\r\nMODE #dev +b pia")
    assert await ana.expect(" MODE ") == ":ana!ana@tertulia MODE #dev +b pia!*@*"
    pia = await LineClient.connect(server.port, "pia")
    await pia.send("/join #dev")
    assert "banned" in await pia.expect(lambda line: line.startswith("!"))
    await ana.send("MODE #dev b")
    assert " 367 ana #dev pia!*@* ana " in await ana.line()
    assert " 368 ana #dev " in await ana.line()
    await ana.send("MODE #dev +e pia\r\nMODE #dev +tz")
    await ana.expect("MODE #dev +e")
    assert await ana.line() == ":ana!ana@tertulia MODE #dev +t"  # applied...
    assert " 472 ana z " in await ana.line()  # ...and the unknown mode refused alone
    await pia.send("/join #dev")
    await ana.expect("JOIN #dev")
    for client in (ana, pia):
        await client.close()


async def test_server_operators_kill_and_wallops(server: Server) -> None:
    server.settings = replace(server.settings, operators=(("root", "s3cret"),))
    op = await irc(server, "op")
    bo = await irc(server, "bo")
    await bo.send("KILL op :no")
    assert " 481 bo " in await bo.line()
    await op.send("OPER root wrong")
    assert " 464 op " in await op.line()
    await op.send("OPER root s3cret\r\nMODE op +w")
    assert " 381 op " in await op.line()
    assert await op.line() == ":op!op@tertulia MODE op +o"
    await op.expect("MODE op +w")
    await op.send("WALLOPS :maintenance at noon")
    assert await op.expect("WALLOPS") == ":op!op@tertulia WALLOPS :maintenance at noon"
    await op.send("KILL bo :flooding")
    assert any("flooding" in line for line in await bo.closed())
    await op.send("WHOWAS bo")
    assert " 314 op bo bo tertulia * :Real bo" in await op.expect(" 314 ")
    await op.close()


async def test_a_reply_never_overtakes_the_clients_own_messages(server: Server) -> None:
    ana = await irc(server, "ana")
    burst = "".join(f"PRIVMSG #lobby :m{i}\r\n" for i in range(300))
    await ana.send("JOIN #lobby")
    await ana.expect(" 366 ")
    bo = await irc(server, "bo")
    await bo.send("JOIN #lobby")
    await ana.expect("JOIN #lobby")
    await ana.send(burst + "PING :after-the-burst")
    await ana.expect("after-the-burst")
    # The PONG waited for every message before it to be stored and handed out.
    assert server.hub.messages_delivered >= 300
    await bo.expect(":m299")
    await ana.close()
    await bo.close()


async def test_a_bug_of_ours_gets_an_irc_client_an_irc_line(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A handler that fails stands in for a bug: the client is told in its own format.
    def broken(h: object, msg: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setitem(COMMANDS, "BREAK", Command(broken))
    ana = await irc(server, "ana")
    await ana.send("BREAK")
    last = await ana.closed()
    assert last[0].startswith("ERROR :Closing link: internal error")  # not the plain "!" line


async def test_monitor_follows_nicks_on_every_door(server: Server) -> None:
    ana = await irc(server, "ana")
    await ana.send("MONITOR + pia,bo")
    assert " 731 ana :pia,bo" in await ana.line()
    pia = await LineClient.connect(server.port, "pia")  # a plain user counts as much
    assert " 730 ana :pia!pia@tertulia" in await ana.expect(" 730 ")
    await pia.send("/nick pia2")
    assert " 731 ana :pia" in await ana.expect(" 731 ")
    await ana.send("MONITOR - pia\r\nMONITOR L")
    assert " 732 ana :bo" in await ana.line()
    assert " 733 ana " in await ana.line()
    await pia.close()
    await ana.close()


async def test_metadata_is_set_read_and_heard_by_subscribers(server: Server) -> None:
    ana = await irc(server, "ana")
    bo = await irc(server, "bo")
    await bo.send("METADATA * SUB display-name")
    assert await bo.line() == ":tertulia 770 bo :display-name"
    for client in (ana, bo):
        await client.send("JOIN #dev")
        await client.expect(" 366 ")
    await ana.expect("bo!bo@tertulia JOIN #dev")
    await ana.send("METADATA * SET display-name :Ana la Primera")
    assert await ana.line() == ":tertulia 761 ana ana display-name * :Ana la Primera"
    assert " 761 bo ana display-name * :Ana la Primera" in await bo.expect(" 761 ")
    await bo.send("METADATA ana SET display-name :not hers")
    assert " FAIL METADATA KEY_NO_PERMISSION ana display-name " in await bo.line()
    await bo.send("WHOIS ana")
    assert " 760 bo ana display-name * :Ana la Primera" in await bo.expect(" 760 ")
    for client in (ana, bo):
        await client.close()


async def test_read_markers_only_move_forward(server: Server) -> None:
    ana = await IrcClient.connect(irc_port(server))
    await ana.send("CAP REQ :draft/read-marker\r\nNICK ana\r\nUSER ana 0 * :Ana\r\nCAP END")
    await ana.expect(" 422 ")
    await ana.send("JOIN #dev")
    assert await ana.expect("MARKREAD") == ":tertulia MARKREAD #dev *"
    await ana.send("MARKREAD #dev timestamp=2026-12-01T10:00:00.000Z")
    assert (await ana.expect("MARKREAD")).endswith("#dev timestamp=2026-12-01T10:00:00.000Z")
    await ana.send("MARKREAD #dev timestamp=2025-01-01T00:00:00.000Z")
    assert (await ana.expect("MARKREAD")).endswith("#dev timestamp=2026-12-01T10:00:00.000Z")
    await ana.send("MARKREAD #dev timestamp=yesterday")
    assert " FAIL MARKREAD INVALID_PARAMS #dev " in await ana.expect("FAIL")
    await ana.close()


async def test_a_taken_back_message_leaves_history(server: Server) -> None:
    caps = "CAP REQ :draft/message-redaction message-tags echo-message batch server-time"
    clients = []
    for nick in ("ana", "bo"):
        client = await IrcClient.connect(irc_port(server))
        await client.send(f"{caps}\r\nNICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nCAP END")
        await client.expect(" 422 ")
        await client.send("JOIN #dev")
        await client.expect(" 366 ")
        clients.append(client)
    ana, bo = clients
    await ana.send("PRIVMSG #dev :oops")
    msgid = re.search(r"msgid=(\d+)", await ana.expect(":oops"))
    assert msgid is not None
    await bo.send(f"REDACT #dev {msgid[1]}")  # not bo's, and bo is no operator
    assert " FAIL REDACT REDACT_FORBIDDEN #dev " in await bo.expect("FAIL")
    await ana.send(f"REDACT #dev {msgid[1]} :wrong room")
    assert (await bo.expect("REDACT")).endswith(f"REDACT #dev {msgid[1]} :wrong room")
    # The history read right behind it no longer holds the message.
    await bo.send("CHATHISTORY LATEST #dev * 10\r\nPING :done")
    lines = await bo.lines_until("done")
    assert not any(":oops" in line for line in lines)
    for client in clients:
        await client.close()


async def test_slow_answers_keep_the_order_of_the_commands_and_their_label(
    server: Server,
) -> None:
    ana = await IrcClient.connect(irc_port(server))
    caps = "CAP REQ :batch labeled-response draft/chathistory server-time message-tags"
    await ana.send(f"{caps}\r\nNICK ana\r\nUSER ana 0 * :Ana\r\nCAP END")
    await ana.expect(" 422 ")
    await ana.send("JOIN #dev\r\nPRIVMSG #dev :para la historia")
    await ana.expect(" 366 ")
    # A store read (slow) then a PING (fast), in one write: the history comes first,
    # whole and labeled, then the PONG.
    await ana.send("@label=h1 CHATHISTORY LATEST #dev * 10\r\nPING :after")
    lines = await ana.lines_until("after")  # everything before the PONG
    assert "label=h1" in lines[0] and " BATCH +" in lines[0]
    assert any("para la historia" in line for line in lines)
    assert " BATCH -" in lines[-1]
    await ana.close()


async def test_a_slow_command_that_fails_answers_before_the_next_and_in_its_label(
    make_server: ServerFactory,
) -> None:
    server: Server = await make_server(operators=(("root", "s3cret"),))
    ana = await IrcClient.connect(irc_port(server))
    caps = "CAP REQ :batch labeled-response message-tags"
    await ana.send(f"{caps}\r\nNICK ana\r\nUSER ana 0 * :Ana\r\nCAP END")
    await ana.expect(" 422 ")
    # OPER checks its password off the loop; a wrong one is 464, then the PONG.
    await ana.send("@label=o1 OPER root wrong\r\n@label=p1 PING :after")
    answer = await ana.expect(" 464 ")
    assert answer.startswith("@label=o1 "), answer
    assert "label=p1" in await ana.expect("after")
    await ana.close()


async def test_odd_input_gets_an_answer_never_an_internal_error(server: Server) -> None:
    # Review findings: superscript digits passed isdigit() and broke int(); replies quoting
    # a parameter with a space could not be written; WHOX without a token lost its line.
    ana = await irc(server, "ana")
    await ana.send("JOIN #dev")
    await ana.expect(" 366 ")
    for line, answer in (
        ("WHOWAS ana ²", " 369 "),
        ("LIST >²", " 323 "),
        ("MODE #dev +l ²", " 696 "),
        ("REDACT #dev ²", "FAIL REDACT UNKNOWN_MSGID"),
        ("METADATA * GET :a b", "FAIL METADATA KEY_INVALID * "),
        ("WHO #dev %tn", " 354 ana 0 :ana"),
    ):
        await ana.send(line)
        assert answer in await ana.expect(answer)
    await ana.send("PING :still here")
    assert "still here" in await ana.expect("PONG")
    await ana.close()


async def test_an_invitation_is_the_connections_and_rooms_per_client_are_capped(
    server: Server,
) -> None:
    ana = await irc(server, "ana")
    await ana.send("JOIN #club\r\nMODE #club +i")
    await ana.expect("MODE #club +i")
    bo = await irc(server, "bo")
    await ana.send("INVITE bo #club")
    await ana.expect(" 341 ")
    await bo.send("QUIT")
    await bo.closed()
    # Whoever takes the nick next is not the one invited.
    other = await irc(server, "bo")
    await other.send("JOIN #club")
    assert " 473 bo #club " in await other.expect(" 473 ")
    server.hub.limits = replace(server.hub.limits, rooms_per_session=2)
    await other.send("JOIN #a,#b,#c")
    assert " 405 bo #c " in await other.expect(" 405 ")
    for client in (ana, other):
        await client.close()


async def test_nobody_runs_the_lobby_but_the_servers_operators(server: Server) -> None:
    server.settings = replace(server.settings, operators=(("root", "s3cret"),))
    first = await LineClient.connect(server.port, "primera")  # the first one in #lobby
    await first.send("/kick segundo")
    second = await LineClient.connect(server.port, "segundo")
    await first.send("/kick segundo")
    assert "not an operator of #lobby" in await first.expect(lambda line: line.startswith("!"))
    op = await irc(server, "op")
    await op.send("JOIN #lobby\r\nOPER root s3cret")
    await op.expect(" 381 ")
    await op.send("KICK #lobby segundo :fuera")
    assert "segundo was put out of #lobby by op" in await second.expect("put out")
    for client in (first, second, op):
        await client.close()


async def test_a_reply_quoting_a_huge_nick_still_fits_one_line(server: Server) -> None:
    client = await IrcClient.connect(irc_port(server))
    # The longest line a client may send (510 bytes and CR LF), all of it nick.
    await client.send("NICK " + "ñ" * 200 + "x" * 105)
    reply = await client.expect(" 432 ")
    assert len(reply.encode()) + 2 <= 512  # with its CR LF, as RFC 2812 allows
    assert reply.endswith(":Erroneous nickname")
