"""Moderation as every door offers it: operators, kills, server bans, room bans and mutes,
and rooms registered to accounts. Doors parse their own syntax and call these; the rules
are the hub's, the keeping is the store's.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from tertulia.core import bans, masks
from tertulia.core.errors import N_, BadMode, NoPrivileges, NotMember, WrongOperPassword
from tertulia.core.events import ModeChanged, ServerNotice
from tertulia.core.names import fold
from tertulia.core.replica import Mirror
from tertulia.core.room import Room
from tertulia.store.passwords import check_password

if TYPE_CHECKING:
    from tertulia.core.session import Session
    from tertulia.server.connection import Connection
    from tertulia.server.context import DoorContext

log = logging.getLogger(__name__)

# Characters that make a ban target a mask rather than a nick.
_MASKY = re.compile(r"[!@*?]")
# IRC letters a mode string may carry, with whether adding or removing takes an argument.
_TAKES_ARG = {"o": (True, True), "v": (True, True), "k": (True, False), "l": (True, False)}
_LIST = "beI"


def room_mask(target: str) -> str:
    """What `/ban bob` bans: a nick becomes `bob!*@*`; anything with ! @ * ? is a mask."""
    return masks.normalize(target if _MASKY.search(target) else f"{target}!*@*")


def parse_modes(spec: str) -> list[tuple[bool, str, str]]:
    """`+mv-b bob *!*@x` as (adding, mode, argument) changes, IRC's way; BadMode if a mode
    lacks its argument."""
    words = spec.split()
    if not words:
        return []
    flags, args = words[0], words[1:]
    changes: list[tuple[bool, str, str]] = []
    adding = True
    for char in flags:
        if char in "+-":
            adding = char == "+"
            continue
        needs = char in _LIST or _TAKES_ARG.get(char, (False, False))[0 if adding else 1]
        if needs and not args and char not in _LIST:
            raise BadMode(mode=("+" if adding else "-") + char)
        arg = args.pop(0) if needs and args else ""
        changes.append((adding, char, arg))
    return changes


NO_LONGER_OPER = N_("you are no longer a server operator: the server's settings changed")
CONFIGURED = "config"  # the `by` of a server ban from the [bans] of the settings


class Moderation:
    """The server's moderation service, one per server, shared by every door."""

    def __init__(
        self, server: DoorContext, connections: Callable[[], Iterable[Connection]]
    ) -> None:
        self.server = server
        self.hub = server.hub
        self.connections = connections
        self.hub.on_banned = self._close

    async def load(self) -> None:
        """The server bans and registered rooms kept in the store, if there is one."""
        store = self.server.history.store
        if store is None:
            return
        self.hub.bans.load(await self.server.history.read(store.bans))
        self.hub.restore_rooms(await self.server.history.read(store.registered_rooms))

    def configure_bans(self, wanted: Iterable[tuple[str, str]]) -> None:
        """The [bans] of the settings, at start and at each reload: new ones put out whoever
        they match here, those gone from the file are lifted. They live in the file, not in
        the store, and each node of a cluster reads its own."""
        masks = {bans.normalize(mask): reason for mask, reason in wanted}
        keys = {fold(mask) for mask in masks}
        for entry in self.hub.bans.entries():
            if entry.by == CONFIGURED and fold(entry.mask) not in keys:
                self.hub.bans.remove(entry.mask)
                log.info("server ban lifted", extra={"mask": entry.mask, "by": CONFIGURED})
        now = self.hub.clock()
        kept = {fold(e.mask): e for e in self.hub.bans.entries()}
        for mask, reason in masks.items():
            old = kept.get(fold(mask))
            if old is not None and (old.by != CONFIGURED or old.reason == reason):
                continue  # in force already (one made by an operator stays theirs)
            entry = bans.ServerBan(mask, self.hub.clean(reason) or "-", CONFIGURED, now, 0.0)
            self.hub.bans.add(entry)
            # This node's own users only: the other nodes read the same file.
            out = [
                s for s in list(self.hub.sessions.values())
                if not isinstance(s, Mirror)
                and self.hub.bans.for_user(s.mask, s.account, s.address) is entry
            ]  # fmt: skip
            for session in out:
                self.hub.disconnect(session, "Banned")
                self._close(session, entry)
            anonymous = self._close_anonymous(entry) if entry.network is not None else 0
            log.warning(
                "server ban",
                extra={"mask": mask, "by": CONFIGURED, "put_out": len(out) + anonymous},
            )

    # -- server operators -----------------------------------------------------------------

    async def oper(self, session: Session, name: str, password: str) -> None:
        """Make the session the server operator `name` if the password is right; the
        [operators] table holds passwords or scrypt hashes."""
        secret = dict(self.server.settings.operators).get(name)
        if secret is None or not secret.startswith("scrypt$"):
            ok = secret is not None and hmac.compare_digest(password.encode(), secret.encode())
        else:
            # scrypt is slow on purpose: off the loop, as account logins are.
            ok = await asyncio.to_thread(check_password, password, secret)
        if session.gone:
            return
        if not ok:
            log.warning("refused: wrong operator password", extra={"peer": session.peer})
            raise WrongOperPassword()
        self.hub.oper(session, name)
        log.info("server operator", extra={"nick": session.nick, "oper": name})

    def operators_changed(
        self, old: Iterable[tuple[str, str]], new: Iterable[tuple[str, str]]
    ) -> None:
        """A reload changed [operators]: whoever opered as a name now gone, or whose
        password changed, is a server operator no more (and may OPER again if still one)."""
        before, after = dict(old), dict(new)
        for session in list(self.hub.sessions.values()):
            name = session.oper
            if isinstance(session, Mirror) or not name or after.get(name) == before.get(name):
                continue
            self.hub.deoper(session)
            self.hub.announce(ServerNotice("deopered", NO_LONGER_OPER), [session])
            # A door that shows user modes (IRC: MODE nick -o) says so in its own words.
            for conn in self.connections():
                if getattr(conn.handler, "session", None) is session:
                    modes_changed = getattr(conn.handler, "user_modes_changed", None)
                    if modes_changed is not None:
                        modes_changed("-o")
            log.warning("server operator no more", extra={"nick": session.nick, "oper": name})

    def kill(self, session: Session, nick: str, reason: str) -> Session:
        victim = self.hub.kill(session, nick, reason)
        log.info("killed", extra={"nick": victim.nick, "by": session.nick})
        victim.sink.close()
        return victim

    # -- server bans ----------------------------------------------------------------------

    async def server_ban(
        self, session: Session, mask: str, duration: str = "", reason: str = ""
    ) -> bans.ServerBan:
        """Ban `mask` from the server for `duration` (0 or empty: for ever). A duration that
        does not look like one is the start of the reason, so `/serverban bob spamming`
        reads as it is meant."""
        if "o" not in session.modes:
            raise NoPrivileges()
        return await self.ban_server(mask, duration, reason, session)

    async def ban_server(
        self, mask: str, duration: str, reason: str, session: Session | None
    ) -> bans.ServerBan:
        """A server ban by an operator's session, or by the administrator (None)."""
        if duration and not bans.looks_like_duration(duration):
            reason, duration = f"{duration} {reason}".strip(), ""
        seconds = bans.parse_duration(duration) if duration else 0
        now = self.hub.clock()
        entry = bans.ServerBan(
            mask=bans.normalize(mask),
            reason=self.hub._clean(reason) or "-",
            by=(session.nick or "") if session is not None else self.hub.limits.server_name,
            created=now,
            expires=now + seconds if seconds else 0.0,
        )
        store = self.server.history.store
        if store is not None:
            await self.server.history.run(store.add_ban, entry)
        out = self.hub.ban(session, entry)
        anonymous = 0
        if entry.network is not None:
            anonymous = self._close_anonymous(entry)
        log.warning(
            "server ban",
            extra={"mask": entry.mask, "by": entry.by, "put_out": len(out) + anonymous},
        )
        return entry

    async def server_unban(self, session: Session | None, mask: str) -> bans.ServerBan:
        entry = self.hub.unban(session, mask)
        store = self.server.history.store
        if store is not None:
            await self.server.history.run(store.remove_ban, entry.mask)
        by = session.nick if session is not None else "admin"
        log.info("server ban lifted", extra={"mask": entry.mask, "by": by})
        return entry

    def server_bans(self, session: Session) -> list[bans.ServerBan]:
        if "o" not in session.modes:
            raise NoPrivileges()
        return self.hub.bans.entries()

    # -- rooms ----------------------------------------------------------------------------

    def ban(self, session: Session, room: str, target: str, reason: str = "") -> str:
        """Ban from a room and put out whoever of its members the ban now matches: what a
        chat user means by a ban (IRC clients send +b and KICK separately)."""
        mask = room_mask(target)
        self._mode(session, room, True, "b", mask)
        found = self.hub.room(room)
        for member in list(found.members.values()):
            excepted = any(masks.matches(e, member.mask) for e in found.exceptions)
            if member is not session and masks.matches(mask, member.mask) and not excepted:
                self.hub.kick(session, found.name, member.nick or "", reason)
        return mask

    def unban(self, session: Session, room: str, target: str) -> str:
        mask = room_mask(target)
        self._mode(session, room, False, "b", mask)
        return mask

    def mute(self, session: Session, room: str, target: str, on: bool) -> str:
        mask = masks.MUTE + room_mask(target)
        self._mode(session, room, on, "b", mask)
        return mask

    def privilege(self, session: Session, room: str, nick: str, mode: str, on: bool) -> None:
        """+o or +v (and their removal) for a member."""
        found = self.hub.room(room)
        if fold(nick) not in found.members:
            raise NotMember(nick=nick, room=found.name)
        self._mode(session, room, on, mode, nick)

    def modes(self, session: Session, room: str, spec: str) -> ModeChanged | None:
        """Apply an IRC-style mode string; the first refused change is the answer."""
        event, refused = self.hub.set_modes(session, room, parse_modes(spec))
        if refused and event is None:
            raise refused[0]
        return event

    def _mode(self, session: Session, room: str, adding: bool, mode: str, arg: str) -> None:
        _, refused = self.hub.set_modes(session, room, [(adding, mode, arg)])
        if refused:
            raise refused[0]

    async def claim(self, session: Session, room: str) -> Room:
        found = self.hub.claim(session, room)
        store = self.server.history.store
        if store is not None:
            await self.server.history.run(
                store.register_room, found.name, session.account, time.time()
            )
        log.info("room registered", extra={"room": found.name, "account": session.account})
        return found

    async def unclaim(self, session: Session, room: str) -> Room:
        found = self.hub.unclaim(session, room)
        store = self.server.history.store
        if store is not None:
            await self.server.history.run(store.unregister_room, found.name)
        log.info("room unregistered", extra={"room": found.name, "by": session.nick})
        return found

    def _close(self, session: Session, entry: bans.ServerBan) -> None:
        """Tell a session a server ban put out why, as its door writes errors, and close."""
        for conn in self.connections():
            if conn is session.sink or getattr(conn.handler, "session", None) is session:
                self._farewell(conn, entry)
                return
        session.sink.close()

    def _farewell(self, conn: Connection, entry: bans.ServerBan) -> None:
        farewell = getattr(conn.handler, "farewell", None)
        conn.close(farewell(bans.ServerBanned(reason=entry.reason)) if farewell else None)

    def _close_anonymous(self, entry: bans.ServerBan) -> int:
        """Close the connections from a newly banned address that have no nick yet (the
        hub put out those that have one)."""
        closed = 0
        for conn in list(self.connections()):
            session: Session | None = getattr(conn.handler, "session", None)
            if session is not None and session.nick is not None:
                continue
            if conn.address is None or self.hub.bans.for_address(conn.address) is not entry:
                continue
            self._farewell(conn, entry)
            closed += 1
        return closed
