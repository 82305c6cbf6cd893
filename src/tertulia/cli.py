"""The `tertulia` command: serve, chat, bench, store copy and cluster status."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from tertulia import (
    admin_command,
    admin_store,
    cluster_command,
    config,
    logs,
    store_command,
    version,
)
from tertulia.bench import command as bench_command
from tertulia.chat import command as chat_command
from tertulia.core.errors import N_, TertuliaError
from tertulia.i18n import Translate, speak_to_argparse, translator
from tertulia.runtime import raise_fd_limit, run
from tertulia.store import passwords

log = logging.getLogger("tertulia.cli")


def _add_serve(sub: Any, tr: Translate) -> None:
    p = sub.add_parser(
        "serve",
        help=tr(N_("run the chat server")),
        description=tr(
            N_(
                "Run the chat server: plain and JSON lines on port 5000, IRC on 6667, the web "
                "page and its WebSocket on 8080, history and accounts in one SQLite file. "
                "Each ready door prints one line with 'listening' and its address. Every "
                "option can also come from a TOML file (--config) or a TERTULIA_* variable."
            )
        ),
    )
    p.add_argument("--host", help=tr(N_("address to listen on (default 127.0.0.1)")))
    p.add_argument(
        "--port", type=int, help=tr(N_("plain/JSON-lines port (default 5000, 0: any free)"))
    )
    p.add_argument("--irc-port", type=int, help=tr(N_("IRC port (default 6667, 0: any free)")))
    p.add_argument("--tls-cert", help=tr(N_("TLS certificate chain (PEM): opens the TLS doors")))
    p.add_argument("--tls-key", help=tr(N_("TLS private key (PEM)")))
    p.add_argument("--plain-tls-port", type=int, help=tr(N_("plain door over TLS (default 5443)")))
    p.add_argument("--irc-tls-port", type=int, help=tr(N_("IRC door over TLS (default 6697)")))
    p.add_argument("--web-tls-port", type=int, help=tr(N_("HTTPS and WSS (default 8443)")))
    p.add_argument(
        "--no-irc", dest="irc", action="store_const", const=False, help=tr(N_("no IRC door"))
    )
    p.add_argument(
        "--web-port", type=int, help=tr(N_("web port: browser, /ws (default 8080, 0: any free)"))
    )
    p.add_argument(
        "--no-web", dest="web", action="store_const", const=False, help=tr(N_("no web door"))
    )
    p.add_argument(
        "--web-origin",
        dest="web_origins",
        action="append",
        help=tr(N_("an origin allowed on /ws besides the page's own (repeatable)")),
    )
    p.add_argument(
        "--password", help=tr(N_("server password (IRC PASS; the other doors do not ask yet)"))
    )
    p.add_argument("--data-dir", help=tr(N_("directory for history and accounts")))
    p.add_argument(
        "--no-history",
        dest="history",
        action="store_const",
        const=False,
        help=tr(N_("keep no history (nothing is written to the data directory)")),
    )
    p.add_argument(
        "--store",
        help=tr(N_("history and accounts: sqlite:///FILE or postgresql://USER@HOST/DB")),
    )
    p.add_argument(
        "--cluster",
        help=tr(N_("redis://HOST:PORT/DB: one chat across every node on this Redis")),
    )
    p.add_argument("--node", help=tr(N_("this node's name in the cluster")))
    p.add_argument(
        "--history-replay", type=int, help=tr(N_("messages shown on joining a room (default 50)"))
    )
    p.add_argument("--config", help=tr(N_("TOML configuration file")))
    p.add_argument("--server-name", help=tr(N_("name shown to clients")))
    p.add_argument("--lang", help=tr(N_("language of user-facing text: en or es")))
    p.add_argument("--log-level", help=tr(N_("debug, info, warning or error (default info)")))
    p.add_argument("--log-json", action="store_const", const=True, help=tr(N_("log JSON lines")))
    p.add_argument("--max-clients", type=int, help=tr(N_("connections before refusing new ones")))
    p.add_argument(
        "--max-message-bytes", type=int, help=tr(N_("UTF-8 bytes per message (default 512)"))
    )
    p.add_argument("--nick-timeout", type=float, help=tr(N_("seconds allowed to send a nick")))
    p.add_argument(
        "--send-buffer-bytes", type=int, help=tr(N_("unsent bytes before dropping a client"))
    )
    p.set_defaults(func=cmd_serve)


def _lang_from(argv: Sequence[str]) -> str:
    # The parser's own help must already be in the user's language, before parsing.
    for i, arg in enumerate(argv):
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
    return os.environ.get("TERTULIA_LANG", "")


def build_parser(tr: Translate | None = None) -> argparse.ArgumentParser:
    tr = tr or translator()
    parser = argparse.ArgumentParser(
        prog="tertulia", description=tr(N_("A self-hosted chat server and its clients."))
    )
    parser.add_argument(
        "--version",
        action=version.ShowVersion,
        help=tr(N_("show the version and exit")),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_serve(sub, tr)
    chat_command.add_parser(sub, tr)
    bench_command.add_parser(sub, tr)
    store_command.add_parser(sub, tr)
    admin_command.add_parser(sub, tr)
    _add_check_config(sub, tr)
    _add_hash_password(sub, tr)
    cluster_command.add_parser(sub, tr)
    return parser


def cmd_serve(args: argparse.Namespace) -> int:
    flags = {
        name: getattr(args, name) for name in config.FIELDS if getattr(args, name, None) is not None
    }
    try:
        settings = config.load(flags, config_file=args.config)
    except TertuliaError as err:
        tr = translator(args.lang or "")
        print(f"tertulia: {err.render(tr)}", file=sys.stderr)
        return 2
    logs.setup(settings.log_level, settings.log_json)
    # A reload reads the same sources again: the file, the environment, these flags.
    return run(lambda: _serve(settings, lambda: config.load(flags, config_file=args.config)))


async def _serve(
    settings: config.Settings, reread: Callable[[], config.Settings] | None = None
) -> int:
    from tertulia.server import notify
    from tertulia.server.app import Server

    tr = translator(settings.lang)
    raise_fd_limit()
    server = Server(settings)
    server.reread = reread
    loop = asyncio.get_running_loop()
    # A SIGHUP while starting (a cluster node waits for its name's lease) would end the
    # process by default: it is kept for when the server is up.
    early: list[int] = []
    loop.add_signal_handler(signal.SIGHUP, early.append, signal.SIGHUP)
    try:
        await server.start()
    except OSError as exc:
        port = getattr(exc, "port", settings.port)
        if exc.errno == errno.EADDRINUSE:
            reason = tr(N_("address already in use"))
        else:
            reason = exc.strerror or str(exc)
        line = tr(N_("cannot listen on {host}:{port}: {reason}")).format(
            host=settings.host, port=port, reason=reason
        )
        print(f"tertulia: {line}", file=sys.stderr)
        return 1
    except TertuliaError as err:
        print(f"tertulia: {err.render(tr)}", file=sys.stderr)
        return 1
    doors = []
    for name in ("plain", "irc", "web", "plain-tls", "irc-tls", "web-tls"):
        for address in server.addresses(name):
            print(listening_line(name, address), flush=True)
            doors.append((name, address))

    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # systemd (Type=notify): ready once every door listens and the signals are handled, so
    # that a stop right after it is a clean one; then watchdog pings from this loop.
    notifier = notify.Notifier.from_environ()
    status = notify.status_line(doors)

    def reload() -> None:
        # SIGHUP reads the settings and the TLS certificate and key again (and never ends
        # the server, as it would by default); systemd sees the reload begin and end.
        notifier.reloading()
        server.reload()
        notifier.reloaded(status)

    loop.add_signal_handler(signal.SIGHUP, reload)
    notifier.ready(status)
    if early:
        reload()
    await stop.wait()
    log.info("shutting down")
    notifier.stopping()
    await server.shutdown()
    notifier.close()
    return 0


def _add_check_config(sub: Any, tr: Translate) -> None:
    p = sub.add_parser(
        "check-config",
        help=tr(N_("check a configuration file without starting the server")),
        description=tr(N_("Check a TOML configuration file: exit 0 if it is good, else say "
                          "which line is wrong and exit 1.")),
    )  # fmt: skip
    p.add_argument("file", help=tr(N_("TOML configuration file")))
    p.add_argument("--lang", help=tr(N_("language of user-facing text: en or es")))
    p.set_defaults(func=cmd_check_config)


def cmd_check_config(args: argparse.Namespace) -> int:
    tr = translator(args.lang or "")
    found = config.check_file(args.file)
    if found is None:
        print(tr(N_("{file}: good")).format(file=args.file))
        return 0
    line, err = found
    where = f"{args.file}:{line}" if line else args.file
    print(f"{where}: {err.render(tr)}", file=sys.stderr)
    return 1


def _add_hash_password(sub: Any, tr: Translate) -> None:
    p = sub.add_parser(
        "hash-password",
        help=tr(N_("print the scrypt hash of a password, for [operators]")),
        description=tr(N_("Read a password on standard input (asked without echo on a "
                          "terminal) and print its scrypt hash: an [operators] entry may hold "
                          "it instead of the password itself.")),
    )  # fmt: skip
    p.add_argument("--lang", help=tr(N_("language of user-facing text: en or es")))
    p.set_defaults(func=cmd_hash_password)


def cmd_hash_password(args: argparse.Namespace) -> int:
    tr = translator(args.lang or "")
    try:
        password = admin_command.read_password(tr(N_("password: ")))
    except admin_store.Failure as failure:
        print("tertulia: " + tr(failure.template).format(**failure.values), file=sys.stderr)
        return 1
    if not password:
        print("tertulia: " + tr(N_("no password given")), file=sys.stderr)
        return 1
    print(passwords.hash_password(password))
    return 0


def listening_line(name: str, address: str) -> str:
    """The one line that says a door is ready: `listening` and its address, the web door's
    as a URL a terminal makes clickable. Untranslated on purpose: scripts and tests look for
    `listening` and read the address from it."""
    door, _, tls = name.partition("-")
    if door != "web":
        return f"{door} door listening on {address}{' with tls' if tls else ''}"
    host, _, port = address.rpartition(":")
    host = f"[{host}]" if ":" in host else host
    return f"web door listening on {'https' if tls else 'http'}://{host}:{port}/"


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    lang = _lang_from(argv)
    speak_to_argparse(lang)
    parser = build_parser(translator(lang))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    result: int = args.func(args)
    return result
