"""`tertulia chat`: its arguments and the original set-up flow (port, then nick; `salir` quits)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from tertulia.chat.lines import run_lines
from tertulia.client.connection import ChatClient, ClientError
from tertulia.core.errors import N_
from tertulia.i18n import Translate, translator
from tertulia.runtime import run

DEFAULT_PORT = 5000
QUIT_WORDS = frozenset({"salir", "exit", "quit"})


def add_parser(sub: Any, tr: Translate) -> None:
    p = sub.add_parser("chat", help=tr(N_("chat from the terminal")))
    p.add_argument("--host", default="127.0.0.1", help=tr(N_("server address (default 127.0.0.1)")))
    p.add_argument("--port", type=int, help=tr(N_("server port (asked if missing)")))
    p.add_argument("--nick", help=tr(N_("your nick (asked if missing)")))
    p.add_argument("--room", help=tr(N_("room to join after connecting")))
    p.add_argument("--lang", help=tr(N_("language of user-facing text: en or es")))
    p.add_argument("--plain", action="store_true", help=tr(N_("line mode even on a terminal")))
    p.set_defaults(func=cmd_chat)


class Leave(Exception):
    """The user typed salir/exit/quit at a set-up prompt, or input ended."""


class Prompter:
    """Set-up questions read from stdin as lines, so a script can answer them too."""

    def __init__(self, tr: Translate) -> None:
        self.tr = tr

    def ask(self, question: str) -> str:
        print(question, end="", flush=True)
        answer = sys.stdin.readline()
        if not answer:
            print()
            raise Leave
        answer = answer.strip()
        if answer.lower() in QUIT_WORDS:
            raise Leave
        return answer

    def port(self) -> int:
        while True:
            answer = self.ask(self.tr(N_("Port (Enter for {port}): ")).format(port=DEFAULT_PORT))
            if not answer:
                return DEFAULT_PORT
            if answer.isdigit() and 1 <= int(answer) <= 65535:
                return int(answer)
            print(self.tr(N_("A port is a number from 1 to 65535; try again.")), flush=True)

    def nick(self) -> str:
        while True:
            answer = self.ask(self.tr(N_("Nick: ")))
            if answer:
                return answer


async def _chat(args: argparse.Namespace, tr: Translate) -> int:
    ask = Prompter(tr)
    loop = asyncio.get_running_loop()
    try:
        port = args.port if args.port is not None else await loop.run_in_executor(None, ask.port)
        try:
            client = await ChatClient.open(args.host, port)
        except (OSError, TimeoutError) as exc:
            reason = exc.strerror or str(exc) or tr(N_("timed out"))
            line = tr(N_("cannot connect to {host}:{port}: {reason}"))
            print(
                "tertulia: " + line.format(host=args.host, port=port, reason=reason),
                file=sys.stderr,
            )
            return 1
        nick = args.nick
        while True:
            if nick is None:
                nick = await loop.run_in_executor(None, ask.nick)
            try:
                welcome = await client.hello(nick)
                break
            except ClientError as err:
                if client.closed.is_set():
                    print(f"tertulia: {err}", file=sys.stderr)
                    return 1
                print(f"! {err}", flush=True)
                nick = None
    except Leave:
        return 0
    room = welcome.rooms[0].room if welcome.rooms else "#lobby"
    if args.room:
        try:
            reply = await client.join(args.room)
            room = str(reply.data.get("room", args.room))
        except ClientError as err:
            print(f"! {err}", flush=True)
    if args.plain or not (sys.stdin.isatty() and sys.stdout.isatty()):
        line = tr(N_("you are {nick}, in {room}")).format(nick=welcome.nick, room=room)
        print(f"* {line}", flush=True)
        return await run_lines(client, room, tr)
    from tertulia.tui.app import ChatApp  # Textual loads only for the full-screen client

    app = ChatApp(client, (args.host, port), room, tr)
    code = await app.run_async()
    await app.client.close()  # the app's client: a new one after a reconnection
    return code or 0


def cmd_chat(args: argparse.Namespace) -> int:
    tr = translator(args.lang or "")
    try:
        return run(lambda: _chat(args, tr))
    except KeyboardInterrupt:
        return 0
