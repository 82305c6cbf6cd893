"""The administration socket: `tertulia admin` talks to the running server through a Unix
socket in the data directory, readable and writable by its owner only.

One JSON object per line each way (docs/admin.md, "The socket"): a request
`{"cmd": "who"}` or `{"cmd": "kick", "room": "#lobby", "nick": "bob", "reason": "..."}`,
with `"lang": "es"` for errors in Spanish, and one reply, `{"ok": true, "result": ...}` or
`{"ok": false, "error": "one line"}`: always one, whatever goes wrong.
Whoever can open the socket is the server's administrator: the file's permissions are the
only check, as for a database's local socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tertulia.admin_store import ban_row, when
from tertulia.core import bans
from tertulia.core.errors import N_, PasswordTooShort, TertuliaError
from tertulia.core.events import ServerNotice
from tertulia.core.names import check_nick, fold
from tertulia.core.replica import Mirror
from tertulia.i18n import LANGUAGES, Translate, translator
from tertulia.server.accounts import account_moved
from tertulia.store import Store, StoreError
from tertulia.store.passwords import MIN_PASSWORD, hash_password

if TYPE_CHECKING:
    from tertulia.server.app import Server

log = logging.getLogger(__name__)

SOCKET = "admin.sock"
LINE_LIMIT = 64 * 1024  # bytes of one request


class AdminError(TertuliaError):
    """A request the server cannot carry out: its template, rendered in the request's
    language with its values, goes back as the error's one line."""

    code = "admin"

    def __init__(self, template: str, **values: Any) -> None:
        self.template = template  # before TertuliaError's __init__ renders it
        super().__init__(**values)


def _str(request: dict[str, Any], key: str, default: str | None = None) -> str:
    value = request.get(key, default)
    if not isinstance(value, str) or (default is None and not value):
        raise AdminError(N_("{field} is missing"), field=key)
    return value


def _request(line: bytes) -> dict[str, Any]:
    """The request a line holds, or AdminError: only a line that does not decode as one
    JSON object is told so (an error in carrying it out is that error)."""
    try:
        request = json.loads(line)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past all reason
        raise AdminError(N_("a request is one JSON object on one line")) from None
    if not isinstance(request, dict):
        raise AdminError(N_("a request is a JSON object"))
    return request


def _translator(lang: object, fallback: Translate) -> Translate:
    """The request's language (`tertulia admin --lang`); the server's own for a request
    that names none, or one tertulia does not speak (socat by hand)."""
    return translator(lang) if isinstance(lang, str) and lang in LANGUAGES else fallback


class Admin:
    """The administration socket of one server."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.path = Path(server.settings.data_dir) / SOCKET
        self._listener: asyncio.AbstractServer | None = None
        self._commands: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
            "who": self.who, "rooms": self.rooms, "kick": self.kick, "ban": self.ban,
            "unban": self.unban, "bans": self.bans, "announce": self.announce,
            "reload": self.reload, "backup": self.backup, "accounts": self.accounts,
            "drop": self.drop, "rename": self.rename, "reset-password": self.reset_password,
        }  # fmt: skip

    async def start(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a socket left by a server that was killed
        # Made owner-only from the start: no moment in which others could connect.
        old = os.umask(0o077)
        try:
            self._listener = await asyncio.start_unix_server(
                self._serve, path=str(self.path), limit=LINE_LIMIT
            )
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        log.debug("admin socket", extra={"path": str(self.path)})

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            await self._listener.wait_closed()
            self._listener = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await reader.readline()
                except ValueError:  # past LINE_LIMIT: the reader dropped what it had of it
                    # Answered all the same, then closed: the rest of the line, still on
                    # its way, would otherwise be read as requests of its own.
                    writer.write(self._too_long() + b"\n")
                    await writer.drain()
                    break
                if not line:
                    break
                writer.write(await self.answer(line) + b"\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def _too_long(self) -> bytes:
        """The reply to a request over LINE_LIMIT, in the server's language: the request's
        own was in the part that was dropped."""
        err = AdminError(N_("a request is at most {size} KiB"), size=str(LINE_LIMIT // 1024))
        reply = {"ok": False, "error": err.render(self.server.translate)}
        log.info("admin", extra={"cmd": "-"})
        return json.dumps(reply, ensure_ascii=False, separators=(",", ":")).encode()

    async def answer(self, line: bytes) -> bytes:
        """The reply to one request line: there is always one, an error's in one line."""
        tr, cmd = self.server.translate, "-"
        try:
            request = _request(line)
            tr = _translator(request.get("lang"), tr)
            cmd = str(request.get("cmd"))[:40]
            command = self._commands.get(cmd)
            if command is None:
                raise AdminError(N_("unknown command {command!r}"), command=cmd)
            reply: dict[str, Any] = {"ok": True, "result": await command(request)}
        except TertuliaError as err:  # AdminError too; a value may hold a newline
            reply = {"ok": False, "error": " ".join(err.render(tr).split())}
        except StoreError as exc:  # the store's own line for operators (a path, a reason)
            reply = {"ok": False, "error": " ".join(str(exc).split())}
        except Exception:
            # A bug, or a failure nobody foresaw: the traceback to the log, and still an
            # answer, so that the shell command never waits for one in vain.
            log.exception("admin request failed", extra={"cmd": cmd})
            reply = {"ok": False, "error": tr(N_("internal error: see the server's log"))}
        log.info("admin", extra={"cmd": cmd if reply["ok"] else "-"})
        return json.dumps(reply, ensure_ascii=False, separators=(",", ":")).encode()

    # -- commands -------------------------------------------------------------------------

    async def who(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        now = time.time()
        people = []
        for session in sorted(self.server.hub.sessions.values(), key=lambda s: s.key or ""):
            mirror = isinstance(session, Mirror)
            people.append({
                "nick": session.nick, "account": session.account,
                "door": "" if mirror else str(session.door),
                "address": "" if mirror else session.address,
                "node": session.node if isinstance(session, Mirror) else "",
                "rooms": sorted(r.name for r in session.rooms.values()
                                if session.key in r.members),
                "away": session.away, "operator": "o" in session.modes,
                "idle": round(now - session.active) if session.active else None,
            })  # fmt: skip
        return people

    async def rooms(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        found = []
        for room in sorted(self.server.hub.rooms.values(), key=lambda r: r.key):
            modes, *args = room.mode_string()
            found.append({
                "room": room.name, "members": len(room.members), "topic": room.topic,
                "modes": " ".join([modes, *args]), "owner": room.owner,
            })  # fmt: skip
        return found

    async def kick(self, request: dict[str, Any]) -> dict[str, str]:
        event = self.server.hub.expel(
            _str(request, "room"), _str(request, "nick"), _str(request, "reason", "")
        )
        return {"room": event.room, "nick": event.nick}

    async def ban(self, request: dict[str, Any]) -> dict[str, Any]:
        duration = _str(request, "duration", "")
        if duration:
            # An explicit duration that does not read is a mistake (BadDuration): ban_server
            # would take it for the first word of the reason, as a KLINE's may be, and a
            # typo would ban for ever.
            bans.parse_duration(duration)
        entry = await self.server.moderation.ban_server(
            _str(request, "mask"), duration, _str(request, "reason", ""), None
        )
        return ban_row(entry)

    async def unban(self, request: dict[str, Any]) -> dict[str, Any]:
        return ban_row(await self.server.moderation.server_unban(None, _str(request, "mask")))

    async def bans(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        return [ban_row(entry) for entry in self.server.hub.bans.entries()]

    async def announce(self, request: dict[str, Any]) -> dict[str, int]:
        text = self.server.hub.clean(" ".join(_str(request, "text").split()))
        if not text:
            raise AdminError(N_("nothing to announce"))
        # The administrator's own words: a template with nothing to translate.
        self.server.hub.announce(ServerNotice("announce", "{text}", (("text", text),)))
        if self.server.cluster is not None:
            self.server.cluster.announce(text)  # every other node tells its own users
        # Everyone: this node's users, and in a cluster the others' (their mirrors here).
        return {"told": len(self.server.hub.sessions)}

    async def reload(self, request: dict[str, Any]) -> dict[str, list[str]]:
        done = self.server.reload()
        if done is None:
            raise AdminError(N_("the settings could not be read again: see the server's log"))
        result = {"changed": list(done.changed), "restart": list(done.fixed)}
        if done.failed:  # the log says why (a key of another certificate...)
            result["failed"] = list(done.failed)
        return result

    async def backup(self, request: dict[str, Any]) -> dict[str, Any]:
        target = Path(_str(request, "file"))
        if not target.is_absolute():
            raise AdminError(N_("the backup file must be an absolute path"))
        store = self.server.history.store
        if store is None:
            raise AdminError(N_("this server keeps no history"))
        started = time.monotonic()
        # In a thread: the copy takes its time while the server goes on committing.
        await self.server.history.read(store.backup, str(target))
        size = await asyncio.to_thread(lambda: target.stat().st_size)
        return {"file": str(target), "bytes": size,
                "seconds": round(time.monotonic() - started, 3)}  # fmt: skip

    # -- accounts -------------------------------------------------------------------------

    def _store(self) -> Store:
        store = self.server.history.store
        if store is None:
            raise AdminError(N_("this server keeps no history, and so no accounts"))
        return store

    def _move_rooms(self, account: str, owner: str) -> None:
        """The rooms registered to `account` go to `owner` (folded), or are given back."""
        key = fold(account)
        for room in [r for r in self.server.hub.rooms.values() if r.owner == key]:
            self.server.hub.set_owner(room.name, owner)  # other nodes of a cluster too

    def _moved(self, old: str, new: str) -> None:
        """The account `old` is `new` now, or no more (""): here, and on every other node
        of a cluster, which moves its own users logged in to it (after the rooms' facts)."""
        account_moved(self.server.hub, old, new)
        if self.server.cluster is not None:
            self.server.cluster.account_moved(old, new)

    async def accounts(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        rows = await self.server.history.read(self._store().account_list)
        online = {fold(s.account) for s in self.server.hub.sessions.values() if s.account}
        return [
            {"account": name, "created": when(created), "online": fold(name) in online}
            for name, created in rows
        ]  # fmt: skip

    async def drop(self, request: dict[str, Any]) -> dict[str, str]:
        name = _str(request, "account")
        if not await self.server.history.run(self._store().drop_account, name):
            raise AdminError(N_("there is no account {account}"), account=name)
        self._move_rooms(name, "")  # given back, as the store did
        self._moved(name, "")  # logged out: the account is no more
        log.warning("account dropped", extra={"account": name})
        return {"account": name}

    async def rename(self, request: dict[str, Any]) -> dict[str, str]:
        old, new = _str(request, "account"), _str(request, "to")
        check_nick(new, self.server.hub.limits.nick_length)
        store = self._store()
        # The store says only that it did not rename: which of the two went wrong is asked.
        if await self.server.history.read(store.secret, old) is None:
            raise AdminError(N_("there is no account {account}"), account=old)
        if not await self.server.history.run(store.rename_account, old, new):
            raise AdminError(N_("the account {account} exists already"), account=new)
        self._move_rooms(old, fold(new))
        self._moved(old, new)
        log.warning("account renamed", extra={"account": old, "to": new})
        return {"account": old, "to": new}

    async def reset_password(self, request: dict[str, Any]) -> dict[str, str]:
        name, password = _str(request, "account"), _str(request, "password")
        if len(password) < MIN_PASSWORD:
            raise PasswordTooShort(min=MIN_PASSWORD)
        store = self._store()
        if await self.server.history.read(store.secret, name) is None:
            raise AdminError(N_("there is no account {account}"), account=name)
        secret = await asyncio.to_thread(hash_password, password)  # scrypt: off the loop
        await self.server.history.run(store.set_secret, name, secret)
        log.warning("password reset", extra={"account": name})
        return {"account": name}
