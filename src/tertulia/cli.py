"""The `tertulia` command: serve (and, as they land, chat and bench)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from tertulia import __version__, config, logs
from tertulia.core.errors import N_, TertuliaError
from tertulia.i18n import translator

log = logging.getLogger("tertulia.cli")


def _add_serve(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the chat server")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="plain/JSON-lines port (default 5000, 0: any free)")
    p.add_argument("--data-dir", help="directory for history and accounts")
    p.add_argument("--config", help="TOML configuration file")
    p.add_argument("--server-name", help="name shown to clients")
    p.add_argument("--lang", help="language of user-facing text: en or es")
    p.add_argument("--log-level", help="debug, info, warning or error (default info)")
    p.add_argument("--log-json", action="store_const", const=True, help="log JSON lines")
    p.add_argument("--max-clients", type=int, help="connections before refusing new ones")
    p.add_argument("--max-message-bytes", type=int, help="UTF-8 bytes per message (default 512)")
    p.add_argument("--nick-timeout", type=float, help="seconds allowed to send a nick")
    p.add_argument("--send-buffer-bytes", type=int, help="unsent bytes before dropping a client")
    p.set_defaults(func=cmd_serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tertulia", description="A self-hosted chat server and its clients."
    )
    parser.add_argument("--version", action="version", version=f"tertulia {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_serve(sub)
    return parser


def run(main: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run a coroutine on uvloop when it is installed, else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - depends on the platform
        return asyncio.run(main())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())


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
    return run(lambda: _serve(settings))


async def _serve(settings: config.Settings) -> int:
    from tertulia.server.app import Server

    tr = translator(settings.lang)
    _raise_fd_limit()
    server = Server(settings)
    try:
        await server.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            reason = tr(N_("address already in use"))
        else:
            reason = exc.strerror or str(exc)
        line = tr(N_("cannot listen on {host}:{port}: {reason}")).format(
            host=settings.host, port=settings.port, reason=reason
        )
        print(f"tertulia: {line}", file=sys.stderr)
        return 1
    # Untranslated on purpose: scripts and tests look for `listening` and the address.
    for address in server.addresses("plain"):
        print(f"plain door listening on {address}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await server.shutdown()
    return 0


def _raise_fd_limit() -> None:
    # Each client is a file descriptor; the usual soft limit of 1024 is below max_clients.
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    result: int = args.func(args)
    return result
