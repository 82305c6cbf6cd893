"""`tertulia admin` when no server is running: the commands that are about the store
(accounts, bans, backups) done on the store itself."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tertulia.config import Settings
from tertulia.core import bans
from tertulia.core.errors import N_, PasswordTooShort
from tertulia.core.hub import Hub
from tertulia.core.names import check_nick
from tertulia.store import Store, from_url
from tertulia.store.datadir import in_use
from tertulia.store.passwords import MIN_PASSWORD, hash_password
from tertulia.store.sqlite import FILE_NAME, SqliteStore
from tertulia.store.urls import redacted

# What the store alone can answer; the others (who, kick, announce...) need the server.
READS = frozenset({"accounts", "bans"})
WRITES = frozenset({"drop", "rename", "reset-password", "ban", "unban", "backup"})


class Failure(Exception):
    """The command cannot be carried out: exit 1, one translated line."""

    def __init__(self, template: str, **values: str) -> None:
        super().__init__(template)
        self.template = template
        self.values = values


def where(settings: Settings) -> str:
    """The store a stopped server would use, as an operator may be shown it."""
    return redacted(settings.store) if settings.store else str(Path(settings.data_dir) / FILE_NAME)


def _store(settings: Settings) -> Store:
    return from_url(settings.store, settings.data_dir, settings.history_sync)


def when(epoch: float) -> str:
    """A time as the listings show it, "YYYY-MM-DD HH:MM" in UTC; "" for none (a ban
    without end): the same on the socket, here and in --json."""
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(epoch)) if epoch else ""


def ban_row(entry: bans.ServerBan) -> dict[str, Any]:
    """A server ban as `ban`, `unban` and `bans` answer it."""
    return {"mask": entry.mask, "reason": entry.reason, "by": entry.by,
            "created": when(entry.created), "expires": when(entry.expires)}  # fmt: skip


def refuse(settings: Settings, cmd: str) -> None:
    """Failure if `cmd` cannot be done on the store alone."""
    if cmd not in READS | WRITES:
        raise Failure(N_("{command} needs the running server"), command=cmd)
    if not settings.history:
        # history = false (--no-history): the server reads no store, so none to work on.
        raise Failure(N_("this server keeps no history"))
    if settings.cluster and cmd in WRITES:
        # Running nodes keep accounts and bans in memory: a change made under them would
        # go unseen until each restarts.
        raise Failure(N_("{command}: in a cluster, run it where a node is running"), command=cmd)
    if in_use(settings.data_dir):
        # A server holds the directory but its socket is gone (removed by hand...): it
        # would not see a change, and might undo it; and "no server is running" would
        # be false.
        raise Failure(
            N_("a server is running on {path} but does not answer on its socket"),
            path=str(settings.data_dir),
        )


def check(settings: Settings, cmd: str) -> None:
    """Failure if `cmd` cannot be done on the store alone, or there is no store to do it
    on: said before the note that the command works on the store, not after it."""
    refuse(settings, cmd)
    _there(_store(settings))


def answer(settings: Settings, request: dict[str, Any]) -> Any:
    """Carry out `request` on the store: the same result the server's socket gives."""
    refuse(settings, request["cmd"])
    store = _store(settings)
    _there(store)
    store.open()
    try:
        return _carry_out(settings, store, request)
    finally:
        store.close()


def _there(store: Store) -> None:
    # Opening a SQLite store that is not there would make one: nothing is created to answer.
    if isinstance(store, SqliteStore) and not store.path.exists():
        raise Failure(N_("there is no store at {path}"), path=str(store.path))


def _carry_out(settings: Settings, store: Store, request: dict[str, Any]) -> Any:
    cmd = request["cmd"]
    if cmd == "accounts":
        return [
            {"account": name, "created": when(created), "online": False}
            for name, created in store.account_list()
        ]  # fmt: skip
    if cmd == "drop":
        if not store.drop_account(request["account"]):
            raise Failure(N_("there is no account {account}"), account=request["account"])
        return {"account": request["account"]}
    if cmd == "rename":
        old, new = request["account"], request["to"]
        check_nick(new, settings.nick_length)
        # The store says only that it did not rename: which of the two went wrong is asked.
        if store.secret(old) is None:
            raise Failure(N_("there is no account {account}"), account=old)
        if not store.rename_account(old, new):
            raise Failure(N_("the account {account} exists already"), account=new)
        return {"account": old, "to": new}
    if cmd == "reset-password":
        name, password = request["account"], request["password"]
        if len(password) < MIN_PASSWORD:
            raise PasswordTooShort(min=MIN_PASSWORD)
        if store.secret(name) is None:
            raise Failure(N_("there is no account {account}"), account=name)
        store.set_secret(name, hash_password(password))
        return {"account": name}
    if cmd == "bans":
        return [ban_row(entry) for entry in _bans(store).entries()]
    if cmd == "ban":
        return ban_row(_add_ban(settings, store, request))
    if cmd == "unban":
        entry = _bans(store).remove(request["mask"])  # NoSuchBan, as the server says it
        store.remove_ban(entry.mask)
        return ban_row(entry)
    target = Path(request["file"])  # backup
    started = time.monotonic()
    store.backup(str(target))
    return {"file": str(target), "bytes": target.stat().st_size,
            "seconds": round(time.monotonic() - started, 3)}  # fmt: skip


def _bans(store: Store) -> bans.ServerBans:
    found = bans.ServerBans(time.time)
    found.load(store.bans())
    return found


def _add_ban(settings: Settings, store: Store, request: dict[str, Any]) -> bans.ServerBan:
    duration, reason = request["duration"], request["reason"]
    # An explicit --duration that does not read is a mistake (BadDuration), never the start
    # of the reason as a KLINE's first word may be: a typo must not ban for ever.
    seconds = bans.parse_duration(duration) if duration else 0
    now = time.time()
    entry = bans.ServerBan(
        mask=bans.normalize(request["mask"]),
        reason=Hub(settings.limits()).clean(reason) or "-",
        by=settings.server_name,
        created=now,
        expires=now + seconds if seconds else 0.0,
    )
    store.add_ban(entry)
    return entry
