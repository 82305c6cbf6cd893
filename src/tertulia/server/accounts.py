"""Registered nicks: scrypt hashes, logins slowed after failures, squatters renamed.

A registered nick belongs to whoever knows its password. Anyone else may take it for a
short grace period, during which they are asked to log in; then they are renamed. A wrong
password locks the nick and the address out for a time that doubles with each failure.
Passwords are hashed with scrypt (the standard library's; memory-hard, like argon2id) in a
worker thread, and are never logged or stored.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import TYPE_CHECKING

from tertulia.core.bans import ServerBanned
from tertulia.core.errors import (
    N_,
    AccountExists,
    BadLogin,
    NickInUse,
    NoAccounts,
    NotLoggedIn,
    PasswordTooShort,
    SessionGone,
    TooManyFailures,
    TooManyRegistrations,
    WrongPassword,
)
from tertulia.core.events import ServerNotice
from tertulia.core.limits import TokenBucket
from tertulia.core.names import fold
from tertulia.core.replica import Mirror
from tertulia.core.session import Session
from tertulia.store.passwords import MIN_PASSWORD, check_password, hash_password

if TYPE_CHECKING:
    from tertulia.core.hub import Hub
    from tertulia.server.context import DoorContext
    from tertulia.store import Store

log = logging.getLogger(__name__)

LOCK_FIRST = 1.0  # seconds a nick and an address are locked after a first failure
LOCK_MAX = 300.0
LOCKOUT_ENTRIES = 10_000  # past this many, expired locks are dropped
PROVEN_PER_ACCOUNT = 16  # addresses remembered as an account owner's
HASHES_AT_ONCE = 2  # scrypt runs at a time (16 MiB and ~50 ms each); the rest wait


class Lockout:
    """Failed logins per nick and per address: each failure doubles the wait.

    One attempt at a time per nick and per address, too: otherwise a burst of guesses sent
    at once would all be checked before the first failure locked anything.
    """

    __slots__ = ("_busy", "_clock", "_failures")

    def __init__(self) -> None:
        self._clock = time.monotonic
        self._failures: dict[str, tuple[int, float]] = {}
        self._busy: set[str] = set()

    def wait(self, keys: list[str]) -> float:
        now = self._clock()
        if any(key in self._busy for key in keys):
            return LOCK_FIRST
        return max((until - now for _, until in map(self._get, keys)), default=0.0)

    def begin(self, keys: list[str]) -> None:
        self._busy.update(keys)

    def end(self, keys: list[str]) -> None:
        self._busy.difference_update(keys)

    def failed(self, keys: list[str]) -> None:
        now = self._clock()
        if len(self._failures) > LOCKOUT_ENTRIES:
            # Forget the locks that have run out, so that the table cannot grow for ever.
            self._failures = {k: v for k, v in self._failures.items() if v[1] > now}
        for key in keys:
            count, _ = self._get(key)
            self._failures[key] = (count + 1, now + min(LOCK_FIRST * 2**count, LOCK_MAX))

    def succeeded(self, keys: list[str]) -> None:
        for key in keys:
            self._failures.pop(key, None)

    def _get(self, key: str) -> tuple[int, float]:
        return self._failures.get(key, (0, 0.0))


def peer_address(peer: str) -> str:
    return peer.rsplit(":", 1)[0]


def account_moved(hub: Hub, old: str, new: str) -> list[Session]:
    """The administrator renamed the account `old` to `new`, or dropped it (`new` ""), on
    this node or on another of its cluster: the registered nicks follow, and this node's
    own sessions logged in to it are logged in to `new` (or out) and told; those of other
    nodes are mirrors here, which their own nodes move. Returns the sessions moved.

    The rooms registered to the account are not this function's: hub.set_owner moves them
    where the command ran, and the cluster's `owner` facts everywhere else."""
    hub.accounts.discard(fold(old))
    if new:
        hub.accounts.add(fold(new))
    key = fold(old)
    moved = [
        s for s in hub.sessions.values()
        if s.account and fold(s.account) == key and not isinstance(s, Mirror)
    ]  # fmt: skip
    for session in moved:
        if new:
            notice = ServerNotice(
                "account_renamed",
                N_("the administrator renamed your account {account} to {to}"),
                (("account", session.account), ("to", new)),
            )
        else:
            notice = ServerNotice(
                "account_dropped",
                N_("the administrator dropped your account {account}: you are logged out"),
                (("account", session.account),),
            )
        try:
            hub.login(session, new)
        except ServerBanned:
            continue  # the new name is banned from the server: the session was put out
        hub.announce(notice, [session])
        log.info("account moved", extra={"nick": session.nick, "account": new})
    # Whoever holds either nick here takes it again: a squatter waiting to be renamed off
    # the old one is left alone, and one on the new one is asked to log in to it.
    if hub.on_nick is not None:
        for nick in (old, new):
            holder = hub.sessions.get(fold(nick)) if nick else None
            if holder is None or isinstance(holder, Mirror) or holder.gone:
                continue
            if not (holder.account and fold(holder.account) == fold(nick)):
                hub.on_nick(holder)
    return moved


class Accounts:
    """Registration, login and the protection of registered nicks, for every door."""

    def __init__(self, server: DoorContext) -> None:
        self.server = server
        self.hub = server.hub
        self.lockout = Lockout()
        # Addresses that proved they know an account's password, most recent accounts last.
        self._proven: dict[str, set[str]] = {}
        self._registrations: dict[str, TokenBucket] = {}  # by address, least recent first
        self._grace: dict[Session, asyncio.TimerHandle] = {}
        self._decoy_secret = ""
        self._hashing = asyncio.Semaphore(HASHES_AT_ONCE)

    def _check(self, password: str, secret: str | None) -> bool:
        """In a worker thread: scrypt is slow on purpose."""
        if secret is None:
            if not self._decoy_secret:
                self._decoy_secret = hash_password(secrets.token_hex(8))
            secret = self._decoy_secret
        return check_password(password, secret)

    def require(self) -> None:
        """NoAccounts now, on a server without a store, rather than after a slow hash."""
        _ = self.store

    @property
    def store(self) -> Store:
        store = self.server.history.store
        if store is None:
            raise NoAccounts()
        return store

    async def load(self) -> None:
        if self.server.history.store is not None:
            self.hub.accounts = await self.server.history.run(self.store.accounts)

    # -- what users do --------------------------------------------------------------------

    async def register(self, session: Session, password: str) -> str:
        """Register the session's current nick with `password`; it is then logged in."""
        nick = session.nick
        if nick is None:
            raise NotLoggedIn()
        store = self.store
        if len(password) < MIN_PASSWORD:
            raise PasswordTooShort(min=MIN_PASSWORD)
        if self.hub.protected(nick):
            raise AccountExists(nick=nick)
        # Before any hashing: registrations per address per hour, so nicks cannot be
        # claimed in bulk nor hashing queued without end (loopback and exempt ranges aside).
        address = peer_address(session.peer)
        if not self.server.address_limits.exempt(address):
            bucket = self._registrations.pop(address, None) or TokenBucket(
                self.server.settings.registrations_per_hour / 3600,
                float(self.server.settings.registrations_per_hour),
                time.monotonic,
            )
            self._registrations[address] = bucket
            while len(self._registrations) > LOCKOUT_ENTRIES:
                del self._registrations[next(iter(self._registrations))]
            if not bucket.try_take():
                raise TooManyRegistrations()
        async with self._hashing:
            secret = await asyncio.to_thread(hash_password, password)
        added = await self.server.history.run(store.add_account, nick, secret, time.time())
        if not added:
            raise AccountExists(nick=nick)
        self.hub.accounts.add(fold(nick))
        self._prove(nick, peer_address(session.peer))
        log.info("account registered", extra={"nick": nick, "peer": session.peer})
        if not session.gone and session.nick is not None and fold(session.nick) == fold(nick):
            session.account = nick
            self.arrived(session)
            self._logged_in(session, nick)
        return nick

    async def authenticate(self, name: str, password: str, peer: str) -> str:
        """The account's name if `password` is right; BadLogin or TooManyFailures if not."""
        store = self.store
        address = peer_address(peer)
        # Failures count per address and per address and nick. The nick's own count (a
        # guesser spread over many addresses) does not hold back an address the owner has
        # proven, so a guesser elsewhere never locks the owner out.
        keys = ["addr:" + address, f"pair:{address}|{fold(name)}"]
        if address not in self._proven.get(fold(name), ()):
            keys.append("nick:" + fold(name))
        wait = self.lockout.wait(keys)
        if wait > 0:
            raise TooManyFailures(seconds=f"{wait:.0f}" if wait >= 1 else "1")
        self.lockout.begin(keys)
        try:
            secret = await self.server.history.read(store.secret, name)
            # Without an account, check against a made-up hash: the answer takes as long
            # (one scrypt either way) and says as little.
            async with self._hashing:
                ok = await asyncio.to_thread(self._check, password, secret)
        finally:
            self.lockout.end(keys)
        if not ok or secret is None:
            self.lockout.failed(keys)
            log.info("login failed", extra={"nick": name, "peer": peer})
            raise BadLogin()
        self.lockout.succeeded(keys)
        self._prove(name, address)
        return name

    def _prove(self, name: str, address: str) -> None:
        """`address` knew `name`'s password: the owner's, from now on."""
        key = fold(name)
        addresses = self._proven.pop(key, None) or set()
        if len(addresses) >= PROVEN_PER_ACCOUNT:
            addresses.pop()
        addresses.add(address)
        self._proven[key] = addresses
        while len(self._proven) > LOCKOUT_ENTRIES:
            del self._proven[next(iter(self._proven))]

    async def login(self, session: Session, name: str, password: str) -> str:
        """Log the session in to `name` and give it that nick, renaming whoever squats it."""
        account = await self.authenticate(name, password, session.peer)
        if session.gone:
            raise SessionGone()  # it left while the password was checked
        squatter = self.hub.sessions.get(fold(account))
        if squatter is not None and squatter is not session:
            self.rename(squatter)
        # The account first, so that taking the nick finds its owner (see arrived).
        session.account = account
        if session.nick is None:
            self.hub.register(session, account)
        elif fold(session.nick) != fold(account):
            self.hub.change_nick(session, account)
        else:
            self.arrived(session)
        self._logged_in(session, account)
        return account

    async def change_password(self, session: Session, old: str, new: str) -> None:
        if not session.account:
            raise NotLoggedIn()
        if len(new) < MIN_PASSWORD:
            raise PasswordTooShort(min=MIN_PASSWORD)
        try:
            await self.authenticate(session.account, old, session.peer)
        except BadLogin:
            raise WrongPassword() from None
        async with self._hashing:
            secret = await asyncio.to_thread(hash_password, new)
        await self.server.history.run(self.store.set_secret, session.account, secret)
        log.info("password changed", extra={"nick": session.account, "peer": session.peer})

    def adopt(self, session: Session, account: str) -> None:
        """An account proven before the session had a nick (IRC's SASL or PASS)."""
        session.account = account

    # -- nick protection ------------------------------------------------------------------

    def arrived(self, session: Session) -> None:
        """The hub's on_nick: a session took a nick; a registered one must be logged in to."""
        timer = self._grace.pop(session, None)
        if timer is not None:
            timer.cancel()
        nick = session.nick
        if nick is None or not self.hub.protected(nick):
            return
        if session.account and fold(session.account) == fold(nick):
            self._deliver_offline(session)
            return
        grace = self.server.settings.nick_grace
        self._notice(
            session,
            "nick_registered",
            N_("{nick} is registered: log in within {seconds} s or you will be renamed"),
            nick=nick,
            seconds=f"{grace:g}",
        )
        self._grace[session] = self.server.loop.call_later(grace, self._expire, session, nick)

    def forget(self, session: Session) -> None:
        timer = self._grace.pop(session, None)
        if timer is not None:
            timer.cancel()

    def rename(self, session: Session) -> None:
        """Give a squatter a guest nick; it keeps its connection and rooms."""
        old = session.nick
        for _ in range(20):
            guest = f"Guest{secrets.randbelow(100000):05d}"
            try:
                self.hub.change_nick(session, guest, forced=True)
            except NickInUse:
                continue
            break
        log.info("squatter renamed", extra={"nick": old, "new": session.nick})
        self._notice(
            session,
            "renamed",
            N_("{old} is registered to someone else: you are now {nick}"),
            old=old or "",
            nick=session.nick or "",
        )

    def _expire(self, session: Session, nick: str) -> None:
        self._grace.pop(session, None)
        still_here = self.hub.sessions.get(fold(nick)) is session
        if still_here and fold(session.account) != fold(nick):
            self.rename(session)

    def _logged_in(self, session: Session, account: str) -> None:
        """Tell the session's neighbours (IRC's account-notify); arrived() did the rest."""
        self.hub.login(session, account)
        log.info("logged in", extra={"nick": account, "peer": session.peer})

    def _deliver_offline(self, session: Session) -> None:
        account = session.account
        if not account or self.server.history.store is None:
            return

        async def hand_over() -> None:
            kept = await self.server.history.read(self.store.offline, account)
            if not kept or session.gone:
                return
            self._notice(
                session,
                "offline_messages",
                N_("{count} messages arrived while you were away:"),
                count=str(len(kept)),
            )
            for message in kept:
                data = session.encoder.encode(message)
                if data is not None:
                    session.sink.deliver(data)
            # Forgotten once handed to a live session; if it left meanwhile, kept for next time.
            await self.server.history.run(self.store.handed_over, account, [m.id for m in kept])

        self.server.spawn(hand_over())

    def _notice(self, session: Session, code: str, template: str, **args: str) -> None:
        notice = ServerNotice(code, template, tuple(args.items()))
        self.hub.announce(notice, [session])
