"""`tertulia admin`: administer the running server from a shell, through its socket."""

from __future__ import annotations

import argparse
import getpass
import gettext
import json
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tertulia import admin_store, config
from tertulia.admin_store import Failure
from tertulia.core.errors import N_, TertuliaError
from tertulia.i18n import Translate, language, translator
from tertulia.store import StoreError

PREFIX = "tertulia: "
SOCKET = "admin.sock"  # in the data directory (server/admin.py)
TIMEOUT = 60.0  # seconds for one answer: a backup of a big store takes its time
GAP = "  "

# Column headings of the listings, by field.
HEADINGS = {
    "nick": N_("NICK"), "account": N_("ACCOUNT"), "door": N_("DOOR"),
    "address": N_("ADDRESS"), "node": N_("NODE"), "rooms": N_("ROOMS"), "away": N_("AWAY"),
    "operator": N_("OPERATOR"), "idle": N_("IDLE S"), "room": N_("ROOM"),
    "members": N_("MEMBERS"), "topic": N_("TOPIC"), "modes": N_("MODES"), "owner": N_("OWNER"),
    "mask": N_("MASK"), "reason": N_("REASON"), "by": N_("BY"), "created": N_("SINCE"),
    "expires": N_("UNTIL"), "online": N_("ONLINE"),
}  # fmt: skip


def add_parser(sub: Any, tr: Translate) -> None:
    description = tr(
        N_(
            "Talk to the running server through the socket in its data directory "
            "(admin.sock, its owner's only): who, rooms, kick ROOM NICK [REASON], "
            "ban MASK [REASON] (--duration), unban MASK, bans, announce TEXT, reload, "
            "backup FILE, accounts, drop ACCOUNT, rename ACCOUNT NEW, reset-password "
            "ACCOUNT (the password on standard input). With no server running, "
            "accounts, drop, rename, reset-password, bans, ban, unban and backup work "
            "on its store."
        )
    )
    shell = sub.add_parser(
        "admin",
        help=tr(N_("administer the running server: users, rooms, bans, backups")),
        description=description,
        # No option of its own, not even --help: everything after `admin`, as typed, goes
        # to the admin parser (see CommandLine). NUL cannot begin a command-line argument.
        prefix_chars="\0",
        add_help=False,
    )
    shell.add_argument(
        "line", nargs=argparse.REMAINDER, action=CommandLine,
        parser=admin_parser(shell.prog, description, tr), help=argparse.SUPPRESS,
    )  # fmt: skip
    shell.set_defaults(func=cmd_admin)


def admin_parser(prog: str, description: str, tr: Translate) -> argparse.ArgumentParser:
    """The arguments of `tertulia admin`, read by CommandLine."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("command", help=tr(N_("who, rooms, kick, ban, unban, bans, announce, "
                                         "reload, backup, accounts, drop, rename or "
                                         "reset-password")))  # fmt: skip
    p.add_argument("words", nargs="*", default=[], help=tr(N_("what the command needs")))
    p.add_argument("--duration", default="", help=tr(N_("how long a ban lasts: 30m, 2h, 7d")))
    p.add_argument("--data-dir", help=tr(N_("the server's data directory")))
    p.add_argument("--config", help=tr(N_("TOML configuration file")))
    p.add_argument("--json", action="store_true", help=tr(N_("the answer as JSON, for scripts")))
    p.add_argument("--lang", help=tr(N_("language of user-facing text: en or es")))
    # Python 3.11's intermixed parsing makes the usage line by cutting seven characters,
    # "usage: ", off the one argparse writes, and the Spanish "uso: " is five: given here
    # without its prefix, it is not cut.
    p.usage = p.format_usage().removeprefix(gettext.gettext("usage: ")).rstrip()
    return p


class CommandLine(argparse.Action):
    """Reads everything after `admin` with the admin parser, options anywhere among the
    words: `ban --duration 2h MASK` as well as `ban MASK --duration 2h`.

    Python 3.11's argparse fills a nargs="*" positional with nothing when an option comes
    before its words, and then refuses those words ("unrecognized arguments").
    Intermixed parsing reads options and positionals in any order, but a subcommand's
    parser cannot be told to use it; so the subcommand takes the rest of the line as it is
    (REMAINDER, `--` kept) and hands it to a parser of its own that does.
    """

    def __init__(self, *args: Any, parser: argparse.ArgumentParser, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parser = parser

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        found = self.parser.parse_intermixed_args(list(values or ()))
        for name, value in vars(found).items():
            setattr(namespace, name, value)


def request_for(args: argparse.Namespace) -> dict[str, Any]:
    """The request a command line stands for, in the command's language; Failure when
    words are missing."""
    request = _request_for(args)
    # The server answers errors in the language this command speaks.
    request["lang"] = language(args.lang or "")
    return request


def _request_for(args: argparse.Namespace) -> dict[str, Any]:
    cmd, words = args.command, list(args.words or ())
    need = {"kick": 2, "ban": 1, "unban": 1, "announce": 1, "backup": 1, "drop": 1,
            "rename": 2, "reset-password": 1}  # fmt: skip
    if len(words) < need.get(cmd, 0):
        raise Failure(N_("{command}: missing arguments (see tertulia admin --help)"), command=cmd)
    if cmd == "kick":
        return {"cmd": cmd, "room": words[0], "nick": words[1], "reason": " ".join(words[2:])}
    if cmd == "ban":
        reason = " ".join(words[1:])
        return {"cmd": cmd, "mask": words[0], "duration": args.duration, "reason": reason}
    if cmd == "unban":
        return {"cmd": cmd, "mask": words[0]}
    if cmd == "announce":
        return {"cmd": cmd, "text": " ".join(words)}
    if cmd == "drop":
        return {"cmd": cmd, "account": words[0]}
    if cmd == "rename":
        return {"cmd": cmd, "account": words[0], "to": words[1]}
    if cmd == "reset-password":
        password = read_password(translator(args.lang or "")(N_("new password: ")))
        return {"cmd": cmd, "account": words[0], "password": password}
    if cmd == "backup":
        return {"cmd": cmd, "file": str(Path(words[0]).expanduser().resolve())}
    return {"cmd": cmd}


class NoServer(Exception):
    """Nothing listens on the socket: no server runs on this data directory."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_password(prompt: str) -> str:
    """A password from standard input, never from the command line, where every user's
    `ps` would read it: asked without echo on a terminal, else its first line (without
    the line end, a Windows one included). Failure for one that is not UTF-8 text."""
    try:
        if sys.stdin.isatty():
            password = getpass.getpass(prompt)
        else:
            password = sys.stdin.buffer.readline().rstrip(b"\r\n").decode("utf-8")
        password.encode("utf-8")  # a terminal in another encoding gives surrogates
    except UnicodeError:
        raise Failure(N_("the password is not UTF-8 text")) from None
    return password


def ask(path: Path, request: dict[str, Any]) -> Any:
    """Send one request on the admin socket; its result, or Failure with the server's line.
    NoServer when there is no socket, or one left behind by a server that was killed."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(TIMEOUT)
            sock.connect(str(path))
            sock.sendall(json.dumps(request).encode() + b"\n")
            answer = sock.makefile("rb").readline()
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise NoServer(exc.strerror or str(exc)) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise Failure(
            N_("no server answers at {path}: {reason}"), path=str(path), reason=reason
        ) from None
    if not answer:
        raise Failure(N_("the server at {path} closed without answering"), path=str(path))
    try:
        reply = json.loads(answer)
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        raise Failure(
            N_("not an answer from the server at {path}: {line}"), path=str(path),
            line=" ".join(answer[:60].decode(errors="replace").split()),
        )  # fmt: skip
    if not reply.get("ok"):
        # Already in the language the request asked for.
        raise Failure("{error}", error=" ".join(str(reply.get("error")).split()))
    return reply.get("result")


def table(rows: list[dict[str, Any]], tr: Translate) -> str:
    """Rows as aligned columns under translated headings."""
    if not rows:
        return tr(N_("(none)"))
    keys = list(rows[0])

    def cell(value: Any) -> str:
        if isinstance(value, bool):
            return "*" if value else ""
        if isinstance(value, list):
            return ",".join(map(str, value))
        return "" if value is None else str(value)

    cells = [[tr(HEADINGS.get(k, k.upper())) for k in keys]]
    cells += [[cell(row.get(k)) for k in keys] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(keys))]
    return "\n".join(
        GAP.join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )


def show(result: Any, tr: Translate) -> str:
    if isinstance(result, list):
        return table(result, tr)
    if isinstance(result, dict):
        return "\n".join(f"{key}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                         for key, v in result.items())  # fmt: skip
    return str(result)


def cmd_admin(args: argparse.Namespace) -> int:
    tr = translator(args.lang or "")
    try:
        flags = {"data_dir": args.data_dir} if args.data_dir else {}
        settings = config.load(flags, config_file=args.config)
    except TertuliaError as err:
        print(PREFIX + err.render(tr), file=sys.stderr)
        return 2
    path = Path(settings.data_dir) / SOCKET
    try:
        request = request_for(args)
        try:
            result = ask(path, request)
        except NoServer as gone:
            if request["cmd"] not in admin_store.READS | admin_store.WRITES:
                raise Failure(
                    N_("no server answers at {path}: {reason}"), path=str(path),
                    reason=gone.reason,
                ) from None  # fmt: skip
            admin_store.check(settings, request["cmd"])  # before the note, not after it
            # A stopped server's accounts, bans and backups are in its store: work there.
            note = tr(N_("no server is running: working on the store {store}"))
            print(PREFIX + note.format(store=admin_store.where(settings)), file=sys.stderr)
            result = admin_store.answer(settings, request)
    except Failure as failure:
        print(PREFIX + tr(failure.template).format(**failure.values), file=sys.stderr)
        return 1
    except (TertuliaError, StoreError) as err:
        line = err.render(tr) if isinstance(err, TertuliaError) else " ".join(str(err).split())
        print(PREFIX + line, file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False) if args.json else show(result, tr))
    return 0
