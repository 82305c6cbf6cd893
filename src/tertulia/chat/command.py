"""`tertulia chat`: its arguments and the original set-up flow (port, then nick; `salir` quits)."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import ssl
import sys
from typing import Any

from tertulia.chat.lines import run_lines
from tertulia.client.connection import ChatClient, ClientError, tls_context
from tertulia.core.errors import N_
from tertulia.i18n import Translate, translator
from tertulia.runtime import run

DEFAULT_PORT = 5000
DEFAULT_TLS_PORT = 5443  # the server's plain door over TLS
QUIT_WORDS = frozenset({"salir", "exit", "quit"})


def add_parser(sub: Any, tr: Translate) -> None:
    p = sub.add_parser(
        "chat",
        help=tr(N_("chat from the terminal")),
        description=tr(
            N_(
                "Chat from the terminal: a full-screen app on a terminal, plain lines when "
                "stdin or stdout is not one (or with --plain). Without --port or --nick it "
                "asks for them, as the original client did; 'salir' at a question quits."
            )
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help=tr(N_("server address (default 127.0.0.1)")))
    p.add_argument("--port", type=int, help=tr(N_("server port (asked if missing)")))
    p.add_argument("--nick", help=tr(N_("your nick (asked if missing)")))
    p.add_argument("--room", help=tr(N_("room to join after connecting")))
    p.add_argument("--lang", help=tr(N_("language of user-facing text: en or es")))
    p.add_argument("--plain", action="store_true", help=tr(N_("line mode even on a terminal")))
    p.add_argument(
        "--tls",
        action="store_true",
        help=tr(N_("connect over TLS, checking the server's certificate (port 5443 if asked)")),
    )
    p.add_argument(
        "--ca-file",
        metavar="FILE",
        help=tr(
            N_(
                "trust only the CA in FILE (a private CA, or a self-signed server's own "
                "certificate) instead of the system's; implies --tls"
            )
        ),
    )
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

    def port(self, default: int = DEFAULT_PORT) -> int:
        while True:
            answer = self.ask(self.tr(N_("Port (Enter for {port}): ")).format(port=default))
            if not answer:
                return default
            if answer.isdigit() and 1 <= int(answer) <= 65535:
                return int(answer)
            print(self.tr(N_("A port is a number from 1 to 65535; try again.")), flush=True)

    def nick(self) -> str:
        while True:
            answer = self.ask(self.tr(N_("Nick: ")))
            if answer:
                return answer


def _why_not(exc: OSError | TimeoutError, tr: Translate) -> str:
    """Why a connection failed, in one line without a traceback."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return tr(N_("the server's certificate is not trusted: {reason}")).format(
            reason=exc.verify_message or exc.reason
        )
    if isinstance(exc, ssl.SSLError):
        return tr(N_("TLS failed ({reason}): is this the server's TLS port?")).format(
            reason=exc.reason or exc
        )
    return exc.strerror or str(exc) or tr(N_("timed out"))


async def _chat(args: argparse.Namespace, tr: Translate) -> int:
    ask = Prompter(tr)
    loop = asyncio.get_running_loop()
    try:
        tls = tls_context(args.ca_file) if args.tls or args.ca_file else None
    except OSError as exc:
        if isinstance(exc, ssl.SSLError):
            reason = tr(N_("it holds no certificate"))
        else:
            reason = exc.strerror or str(exc)
        line = tr(N_("cannot use the CA file {path}: {reason}"))
        print("tertulia: " + line.format(path=args.ca_file, reason=reason), file=sys.stderr)
        return 1
    default = DEFAULT_TLS_PORT if tls else DEFAULT_PORT
    try:
        port = args.port
        if port is None:
            port = await loop.run_in_executor(None, ask.port, default)
        try:
            client = await ChatClient.open(args.host, port, tls)
        except (OSError, TimeoutError) as exc:
            reason = _why_not(exc, tr)
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
    if not full_screen(args):
        for said in welcome.motd:
            print(f"* {said}", flush=True)
        line = tr(N_("you are {nick}, in {room}")).format(nick=welcome.nick, room=room)
        print(f"* {line}", flush=True)
        return await run_lines(client, room, tr)
    from tertulia.tui.app import ChatApp  # Textual loads only for the full-screen client

    app = ChatApp(client, (args.host, port), room, tr, tls=tls)
    code = await app.run_async()
    await app.client.close()  # the app's client: a new one after a reconnection
    return code or 0


def full_screen(args: argparse.Namespace) -> bool:
    """The Textual app, or (with --plain, or stdin or stdout not a terminal) the line mode."""
    return not args.plain and sys.stdin.isatty() and sys.stdout.isatty()


def cmd_chat(args: argparse.Namespace) -> int:
    tr = translator(args.lang or "")
    # Textual is an extra (`tertulia[chat]`): a server installs without it. Said before any
    # question or connection, since the app is the last thing to start.
    if full_screen(args) and importlib.util.find_spec("textual") is None:
        line = tr(N_("the terminal client needs Textual: pip install 'tertulia[chat]', "
                     "or pipx inject tertulia textual"))  # fmt: skip
        print(f"tertulia: {line}", file=sys.stderr)
        return 1
    try:
        return run(lambda: _chat(args, tr))
    except KeyboardInterrupt:
        return 0
