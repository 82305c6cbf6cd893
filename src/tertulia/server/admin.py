"""The administration socket: `tertulia admin` talks to the running server through a Unix
socket in the data directory, readable and writable by its owner only.

One JSON object per line each way (docs/operations.md, "Administration"): a request
`{"cmd": "who"}` or `{"cmd": "kick", "room": "#lobby", "nick": "bob", "reason": "..."}`,
and one reply, `{"ok": true, "result": ...}` or `{"ok": false, "error": "one line"}`.
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

from tertulia.core.errors import PasswordTooShort, TertuliaError
from tertulia.core.events import ServerNotice
from tertulia.core.names import check_nick, fold
from tertulia.core.replica import Mirror
from tertulia.core.session import Session
from tertulia.store import Store, StoreError
from tertulia.store.passwords import MIN_PASSWORD, hash_password

if TYPE_CHECKING:
    from tertulia.server.app import Server

log = logging.getLogger(__name__)

SOCKET = "admin.sock"
LINE_LIMIT = 64 * 1024  # bytes of one request


class AdminError(Exception):
    """A request the server cannot carry out: its one line goes back as the error."""


def _str(request: dict[str, Any], key: str, default: str | None = None) -> str:
    value = request.get(key, default)
    if not isinstance(value, str) or (default is None and not value):
        raise AdminError(f"{key} is missing")
    return value


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
            while line := await reader.readline():
                writer.write(await self.answer(line) + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()

    async def answer(self, line: bytes) -> bytes:
        """The reply to one request line."""
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise AdminError("a request is a JSON object")
            command = self._commands.get(str(request.get("cmd")))
            if command is None:
                raise AdminError(f"unknown command {str(request.get('cmd'))[:40]!r}")
            result = await command(request)
            reply: dict[str, Any] = {"ok": True, "result": result}
        except (AdminError, StoreError) as exc:
            reply = {"ok": False, "error": " ".join(str(exc).split())}
        except TertuliaError as err:
            reply = {"ok": False, "error": err.render(self.server.translate)}
        except ValueError:
            reply = {"ok": False, "error": "a request is one JSON object on one line"}
        log.info("admin", extra={"cmd": str(request.get("cmd")) if reply["ok"] else "-"})
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
        entry = await self.server.moderation.ban_server(
            _str(request, "mask"), _str(request, "duration", ""), _str(request, "reason", ""),
            None,
        )  # fmt: skip
        return _ban(entry)

    async def unban(self, request: dict[str, Any]) -> dict[str, Any]:
        return _ban(await self.server.moderation.server_unban(None, _str(request, "mask")))

    async def bans(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        return [_ban(entry) for entry in self.server.hub.bans.entries()]

    async def announce(self, request: dict[str, Any]) -> dict[str, int]:
        text = self.server.hub.clean(" ".join(_str(request, "text").split()))
        if not text:
            raise AdminError("nothing to announce")
        # The administrator's own words: a template with nothing to translate.
        self.server.hub.announce(ServerNotice("announce", "{text}", (("text", text),)))
        if self.server.cluster is not None:
            self.server.cluster.announce(text)  # every other node tells its own users
        # Everyone: this node's users, and in a cluster the others' (their mirrors here).
        return {"told": len(self.server.hub.sessions)}

    async def reload(self, request: dict[str, Any]) -> dict[str, list[str]]:
        done = self.server.reload()
        if done is None:
            raise AdminError("the settings could not be read again: see the server's log")
        return {"changed": list(done.changed), "restart": list(done.fixed)}

    async def backup(self, request: dict[str, Any]) -> dict[str, Any]:
        target = Path(_str(request, "file"))
        if not target.is_absolute():
            raise AdminError("the backup file must be an absolute path")
        store = self.server.history.store
        if store is None:
            raise AdminError("this server keeps no history")
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
            raise AdminError("this server keeps no history, and so no accounts")
        return store

    def _logged_in(self, account: str) -> list[Session]:
        key = fold(account)
        return [
            s for s in self.server.hub.sessions.values()
            if s.account and fold(s.account) == key and not isinstance(s, Mirror)
        ]  # fmt: skip

    def _move_rooms(self, account: str, owner: str) -> None:
        """The rooms registered to `account` go to `owner` (folded), or are given back."""
        key = fold(account)
        for room in [r for r in self.server.hub.rooms.values() if r.owner == key]:
            self.server.hub.set_owner(room.name, owner)  # other nodes of a cluster too

    async def accounts(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        rows = await self.server.history.read(self._store().account_list)
        online = {fold(s.account) for s in self.server.hub.sessions.values() if s.account}
        return [
            {"account": name, "created": time.strftime("%Y-%m-%d %H:%M", time.gmtime(when)),
             "online": fold(name) in online}
            for name, when in rows
        ]  # fmt: skip

    async def drop(self, request: dict[str, Any]) -> dict[str, str]:
        name = _str(request, "account")
        if not await self.server.history.run(self._store().drop_account, name):
            raise AdminError(f"there is no account {name}")
        self.server.hub.accounts.discard(fold(name))
        self._move_rooms(name, "")  # given back, as the store did
        for session in self._logged_in(name):
            self.server.hub.login(session, "")  # logged out: the account is no more
        log.warning("account dropped", extra={"account": name})
        return {"account": name}

    async def rename(self, request: dict[str, Any]) -> dict[str, str]:
        old, new = _str(request, "account"), _str(request, "to")
        check_nick(new, self.server.hub.limits.nick_length)
        if not await self.server.history.run(self._store().rename_account, old, new):
            raise AdminError(f"there is no account {old}, or {new} is taken")
        self.server.hub.accounts.discard(fold(old))
        self.server.hub.accounts.add(fold(new))
        self._move_rooms(old, fold(new))
        for session in self._logged_in(old):
            self.server.hub.login(session, new)
        log.warning("account renamed", extra={"account": old, "to": new})
        return {"account": old, "to": new}

    async def reset_password(self, request: dict[str, Any]) -> dict[str, str]:
        name, password = _str(request, "account"), _str(request, "password")
        if len(password) < MIN_PASSWORD:
            raise PasswordTooShort(min=MIN_PASSWORD)
        store = self._store()
        if await self.server.history.read(store.secret, name) is None:
            raise AdminError(f"there is no account {name}")
        secret = await asyncio.to_thread(hash_password, password)  # scrypt: off the loop
        await self.server.history.run(store.set_secret, name, secret)
        log.warning("password reset", extra={"account": name})
        return {"account": name}


def _ban(entry: Any) -> dict[str, Any]:
    return {"mask": entry.mask, "reason": entry.reason, "by": entry.by,
            "created": entry.created, "expires": entry.expires}  # fmt: skip
