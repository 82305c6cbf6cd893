"""The Server: owns the hub, the listeners, every connection and the shutdown path."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import ssl
import time
from collections.abc import Callable, Collection, Coroutine, Iterable
from typing import Any

from tertulia.bus import BusDown
from tertulia.bus import from_url as bus_from_url
from tertulia.config import Settings
from tertulia.core.bans import ServerBanned
from tertulia.core.errors import (
    N_,
    NickTimeout,
    ServerFull,
    TertuliaError,
    TlsUnusable,
    TooManyConnections,
)
from tertulia.core.events import ServerNotice
from tertulia.core.hub import Hub
from tertulia.core.limits import AddressLimits, TokenBucket
from tertulia.core.session import Door, Encoder, Session
from tertulia.i18n import translator
from tertulia.protocols import plain
from tertulia.protocols.irc.render import ENCODING_CAPABILITIES, IrcEncoder
from tertulia.protocols.jsonlines import JsonEncoder
from tertulia.protocols.plain import PlainEncoder
from tertulia.protocols.websocket import FramedEncoder, WebEncoder
from tertulia.server import motd, reload
from tertulia.server.accounts import Accounts
from tertulia.server.admin import Admin
from tertulia.server.cluster import Cluster, ClusterUnavailable
from tertulia.server.connection import Connection, WriteFlusher
from tertulia.server.context import Frame
from tertulia.server.history import History
from tertulia.server.irc import IrcHandler
from tertulia.server.irc.monitor import Monitor
from tertulia.server.json_door import JsonHandler
from tertulia.server.liveness import Liveness
from tertulia.server.metrics import Stats
from tertulia.server.moderation import Moderation
from tertulia.server.plain_door import PlainHandler
from tertulia.server.reload import Reloaded
from tertulia.server.web_door import WebConnection, WebHandler, load_assets
from tertulia.store import HistoryUnavailable, StoreError, from_url
from tertulia.store.datadir import DataDirBusy, DataDirLock
from tertulia.store.urls import redacted, scrubbed
from tertulia.tls import server_context

PRUNE_EVERY = 3600.0  # seconds between two retention passes
TLS_HANDSHAKE_SECONDS = 10.0  # to finish a TLS handshake after connecting


log = logging.getLogger(__name__)


class Server:
    """One chat server. Tests build one on port 0 and tear it down; nothing is global."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.name = self.settings.server_name
        self.translate = translator(self.settings.lang)
        self.hub = Hub(self.settings.limits())
        self.plain_encoder = PlainEncoder(self.translate, self.hub.find)
        self.json_encoder = JsonEncoder(self.translate)
        self.web_encoder = WebEncoder(self.json_encoder)
        self.stats = Stats(self.hub)
        self.accounts = Accounts(self)
        self.moderation = Moderation(self, lambda: self.connections)
        self.hub.on_nick = self.accounts.arrived
        self.hub.on_encode_failure = self._encode_failed
        self.assets = load_assets() if self.settings.web else {}
        # One IRC encoder per combination of the capabilities that change the bytes, made
        # once and shared, so the hub still encodes each event once per variant.
        self._irc_encoders: dict[tuple[frozenset[str], Frame | None], Encoder] = {}
        self.irc_encoder = self.irc_encoder_for(set())
        self.irc_monitor = Monitor()
        # Connections per address and network, and their rate (core.limits).
        self.address_limits = AddressLimits(self.settings.address_rules(), time.monotonic)
        # MARKREAD markers of logged-in IRC users: account -> target -> time (in memory).
        self.irc_read_markers: dict[str, dict[str, str]] = {}
        self.hub.presence.append(self.irc_monitor.changed)
        self.hub.followers.append(self.irc_monitor.followers)
        self.connections: set[Connection] = set()
        # By name: "plain", "irc", "web", and "plain-tls", "irc-tls", "web-tls" with TLS.
        self._listeners: dict[str, asyncio.Server] = {}
        self._nick_timers: dict[object, asyncio.TimerHandle] = {}
        # WebSockets that have gone quiet are pinged by one sweep for all of them.
        self.liveness = Liveness(self.settings.ping_interval)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._flusher: WriteFlusher | None = None
        self._history: History | None = None
        self.cluster: Cluster | None = None  # this node's part of a cluster, with --cluster
        self.admin = Admin(self)  # the administration socket in the data directory
        self._data_lock = DataDirLock(self.settings.data_dir)  # one server per directory
        self._pruning = False  # the retention task runs (keep_pruning)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._all_closed = asyncio.Event()
        # What a new TLS connection gets; SIGHUP swaps it for one read again from the files.
        self._tls: ssl.SSLContext | None = None
        # How to read the settings again for a reload (the CLI's file, environment and
        # flags); None: a reload only reads the TLS files again.
        self.reread: Callable[[], Settings] | None = None
        self.motd: tuple[str, ...] = ()  # the message of the day, as lines; read_motd
        self.read_motd()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None, "server not started"
        return self._loop

    @property
    def flusher(self) -> WriteFlusher:
        assert self._flusher is not None, "server not started"
        return self._flusher

    @property
    def history(self) -> History:
        assert self._history is not None, "server not started"
        return self._history

    def irc_encoder_for(self, caps: Collection[str], frame: Frame | None = None) -> Encoder:
        """The shared encoder for a set of IRC capabilities (and, over WebSocket, a framing),
        so that the hub still encodes each event once per variant and hands every client
        of a variant the same bytes."""
        key = (frozenset(c for c in ENCODING_CAPABILITIES if c in caps), frame)
        encoder = self._irc_encoders.get(key)
        if encoder is None:
            lines = IrcEncoder(
                self.name, self.translate, key[0], self.hub.clock, self.hub.user_of, self.hub.is_bot
            )
            encoder = lines if frame is None else FramedEncoder(lines, frame)
            self._irc_encoders[key] = encoder
        return encoder

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the listeners, open the history, then accept.

        Raises OSError (address in use...) or HistoryUnavailable before accepting anyone.
        """
        self._loop = asyncio.get_running_loop()
        self._flusher = WriteFlusher(self._loop)
        s = self.settings
        self.stats.start(self._loop)
        doors = [(Door.PLAIN, s.port)]
        doors += [(Door.IRC, s.irc_port)] if s.irc else []
        doors += [(Door.WEB, s.web_port)] if s.web else []
        tls = self._tls = server_context(s.tls_cert, s.tls_key) if s.tls_cert else None
        if tls is not None:
            # Called on every handshake, with SNI or without: it hands the connection the
            # newest context, so a reload needs no new listener and open connections keep
            # the context they began with.
            tls.sni_callback = self._newest_tls
        secure = (
            [(Door.PLAIN, s.plain_tls_port)]
            + ([(Door.IRC, s.irc_tls_port)] if s.irc else [])
            + ([(Door.WEB, s.web_tls_port)] if s.web else [])
        )
        listeners: list[tuple[str, Door, int, ssl.SSLContext | None]] = [
            (str(d), d, p, None) for d, p in doors
        ]
        listeners += [(f"{d}-tls", d, p, tls) for d, p in secure] if tls is not None else []
        try:
            for name, door, port, context in listeners:
                self._listeners[name] = await self._loop.create_server(
                    lambda door=door: self._connection(door),
                    s.host, port, reuse_address=True, backlog=1024, start_serving=False,
                    ssl=context, ssl_handshake_timeout=TLS_HANDSHAKE_SECONDS if context else None,
                )  # fmt: skip
            if s.history:  # without history nothing is written to the data directory
                self._data_lock.acquire()
            await self._open_history()
        except (OSError, HistoryUnavailable, ClusterUnavailable, DataDirBusy) as exc:
            if isinstance(exc, OSError):
                exc.port = port  # type: ignore[attr-defined]  # which door failed, for the CLI
            for listener in self._listeners.values():
                listener.close()
            self._listeners.clear()
            self._data_lock.release()
            raise
        try:
            # Without history nothing is written to the data directory, the socket neither.
            if s.history:
                await self.admin.start()
        except OSError as exc:
            # The chat serves without it; `tertulia admin` says it cannot connect.
            log.warning("no admin socket", extra={"path": str(self.admin.path), "reason": exc})
        for listener in self._listeners.values():
            await listener.start_serving()
        for name in self._listeners:
            for address in self.addresses(name):
                # The CLI prints each door's line on stdout; the log keeps it out of sight.
                log.debug("listening", extra={"door": name, "address": address})
        self.keep_pruning(PRUNE_EVERY)  # the store was pruned as it opened

    def keep_pruning(self, first: float = 0.0) -> None:
        """Start the retention passes if the settings ask for them: at start, and when a
        reload turns retention on (then the first pass runs at once). Once started they
        run until shutdown, each pass reading the settings of the moment."""
        s = self.settings
        if s.history and (s.history_keep_days or s.history_keep_messages) and not self._pruning:
            self._pruning = True
            self.spawn(self._prune_forever(first))

    def _newest_tls(
        self, conn: ssl.SSLObject | ssl.SSLSocket, _name: str | None, context: ssl.SSLContext
    ) -> None:
        if self._tls is not None and self._tls is not context:
            conn.context = self._tls

    def sts_policy(self, secure: bool) -> str:
        """The value of IRCv3 `sts` for an IRC client, or "" with the setting `sts` off:
        on a clear connection the upgrade policy (the IRC TLS port to move to), on a TLS
        one the persistence policy (how many seconds to keep to TLS)."""
        tls = self.addresses("irc-tls")
        if not (self.settings.sts and tls):
            return ""
        if secure:
            return f"duration={self.settings.sts_duration}"
        return "port=" + tls[0].rsplit(":", 1)[1]

    def reload(self) -> Reloaded | None:
        """Read the settings again (SIGHUP): limits, operators, TLS, the log level... take
        effect without dropping anyone; a setting that changes only at a restart is named
        in one log line; settings that do not load leave everything as it was."""
        if self.reread is None:
            self.reload_tls()
            return None
        try:
            new = self.reread()
        except TertuliaError as err:
            log.error("reload failed: keeping the settings", extra={"reason": err.render()})
            return None
        tls = ("tls_cert", "tls_key")
        done = reload.apply(self, new)
        if self.serving_tls and not self.reload_tls():
            # The old certificate goes on being served: the new files did not take.
            done = reload.Reloaded(
                tuple(n for n in done.changed if n not in tls), done.fixed, failed=tls
            )
        log.info("settings reloaded", extra={"changed": ",".join(done.changed) or "-"})
        if done.fixed:
            log.warning(
                "reload: these settings change only at a restart",
                extra={"settings": ",".join(done.fixed)},
            )
        return done

    @property
    def serving_tls(self) -> bool:
        """Whether TLS doors listen (made at start: a reload does not add or remove them)."""
        return self._tls is not None

    def read_motd(self) -> None:
        """Read the message of the day again (at start and at each reload): a file that
        cannot be read leaves the one shown until now, with one line in the log."""
        try:
            self.motd = motd.read(self.settings, self.hub.clean)
        except OSError as exc:
            log.error(
                "motd_file cannot be read: keeping the message of the day",
                extra={"path": self.settings.motd_file, "reason": exc.strerror or str(exc)},
            )

    def reload_tls(self) -> bool:
        """Read tls_cert and tls_key again (SIGHUP): new connections get the new certificate,
        open ones keep theirs. Files that cannot be used leave the old certificate in place,
        with one error line in the log. Whether the new one was taken."""
        s = self.settings
        if self._tls is None:
            log.info("reload: no TLS certificate to read again")
            return False
        try:
            context = server_context(s.tls_cert, s.tls_key)
        except TlsUnusable as err:
            log.error(
                "tls reload failed: keeping the previous certificate",
                extra={"cert": s.tls_cert, "reason": err.args_map["reason"]},
            )
            return False
        self._tls = context
        log.info("tls reloaded", extra={"cert": s.tls_cert})
        return True

    async def _open_history(self) -> None:
        s = self.settings
        try:
            store = from_url(s.store, s.data_dir, s.history_sync) if s.history else None
        except StoreError as exc:
            reason = scrubbed(str(exc), s.store)
            raise HistoryUnavailable(path=redacted(s.store), reason=reason) from exc
        # A commit that waits (for an fsync, for the network) gets a thread of its own.
        on_loop = store is None or store.commits_on_loop
        self._history = history = History(store, self.loop, self.stats, on_loop)
        history.flush = self.flusher.flush_now
        if store is not None:
            try:
                await history.run(store.open)
                await self._prune()  # before the rooms' last messages are loaded
                last = await history.run(store.last_id)
                recent = await history.run(store.recent, s.history_replay)
                shown = [m.id for ring in recent.values() for m in ring]
                reacted = await history.run(store.reactions, shown)
            except (OSError, sqlite3.Error, StoreError) as exc:
                await history.close()
                reason = scrubbed(str(exc), s.store)  # libpq may quote what it could not parse
                raise HistoryUnavailable(path=store.where, reason=reason) from exc
            self.hub.restore(last, recent)
            self.hub.reactions.update(reacted)
            self.hub.on_reaction = history.keep_reaction
            history.start_housekeeping()
            await self.accounts.load()
            await self.moderation.load()
            log.info("history open", extra={"path": store.where, "last_id": last})
        self.moderation.configure_bans(s.bans)
        self.hub.gate = history
        if s.cluster:
            await self._join_cluster(last if store is not None else 0)

    async def _join_cluster(self, last_id: int) -> None:
        s = self.settings
        try:
            bus = bus_from_url(s.cluster)
        except BusDown as exc:
            raise ClusterUnavailable(where=redacted(s.cluster), reason=str(exc)) from None
        cluster = Cluster(
            bus, self.hub, self.history, self.stats, s.node, s.cluster_lease,
            lambda: [a for name in self._listeners for a in self.addresses(name)],
        )  # fmt: skip
        try:
            await cluster.start(last_id)
        except ClusterUnavailable:
            await self.history.close()
            raise
        if self.history.store is None or self.history.store.where.endswith(".db"):
            log.warning(
                "cluster: history is not shared (use --store postgresql://...)",
                extra={"node": cluster.node},
            )
        self.cluster = cluster
        self.stats.node = cluster.node
        self.stats.cluster = cluster.figures
        self.hub.gate = cluster.gate

    async def _prune_forever(self, first: float = PRUNE_EVERY) -> None:
        wait = first
        while True:
            await asyncio.sleep(wait)
            wait = PRUNE_EVERY
            try:
                await self._prune()
            except Exception:  # the store's own errors (a lost PostgreSQL...): try again later
                log.exception("history pruning failed")

    async def _prune(self) -> None:
        """Retention: drop what is older than history_keep_days or past the newest
        history_keep_messages of each room."""
        s = self.settings
        if self.history.store is None or not (s.history_keep_days or s.history_keep_messages):
            return
        cutoff = time.time() - s.history_keep_days * 86400 if s.history_keep_days else None
        # In a thread and connection of its own, in short batches: never in a commit's way.
        deleted = await self.history.prune(cutoff, s.history_keep_messages or None)
        if deleted:
            log.info("history pruned", extra={"deleted": deleted})

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """A task the server owns: cancelled at shutdown, its failure logged, never lost."""
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def spawn_for(
        self,
        conn: Connection,
        work: Coroutine[Any, Any, None],
        on_error: Callable[[TertuliaError], None],
    ) -> None:
        """Slow work for one client (a hash, the store), off its line: a user error it
        raises goes to that client, if it is still there."""

        async def guarded() -> None:
            try:
                await work
            except TertuliaError as err:
                if not conn.closing:
                    on_error(err)

        self.spawn(guarded())

    def _encode_failed(self, event: object, exc: Exception) -> None:
        log.error("an event could not be encoded", exc_info=exc, extra={"event": repr(event)})

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task failed", exc_info=task.exception())

    def addresses(self, door: str = "plain") -> list[str]:
        """Where a door listens, as host:port (the actual port when started on port 0)."""
        listener = self._listeners.get(str(door))
        if listener is None:
            return []
        return [f"{host}:{port}" for host, port, *_ in (s.getsockname() for s in listener.sockets)]

    @property
    def port(self) -> int:
        """The plain door's actual port (useful when started on port 0)."""
        port: int = self._listeners["plain"].sockets[0].getsockname()[1]
        return port

    async def shutdown(self) -> None:
        """Tell every client, let them drain for a moment, then close everything."""
        await self.admin.close()
        for listener in self._listeners.values():
            listener.close()
        for task in list(self._tasks):
            task.cancel()
        if self._history is not None:
            # What was accepted is stored and delivered before anyone is told goodbye.
            try:
                async with asyncio.timeout(self.settings.shutdown_grace):
                    await self._history.drain()
            except TimeoutError:
                log.error("history did not drain in time")
        if self.cluster is not None:
            await self.cluster.stop()
        notice = ServerNotice("shutdown", N_("the server is shutting down, goodbye"))
        self.hub.announce(notice, self._sessions())
        for conn in list(self.connections):
            conn.close()
        if self.connections:
            try:
                async with asyncio.timeout(self.settings.shutdown_grace + 0.5):
                    await self._all_closed.wait()
            except TimeoutError:
                for conn in list(self.connections):
                    conn.abort("shutdown")
        self.liveness.stop()
        for listener in self._listeners.values():
            await listener.wait_closed()
        if self._history is not None:
            await self._history.close()
        self._data_lock.release()
        log.info("stopped")

    # -- connections ----------------------------------------------------------------------

    def _connection(self, door: Door) -> Connection:
        return WebConnection(self) if door is Door.WEB else Connection(self, door)

    def accept(self, conn: Connection) -> None:
        if len(self.connections) >= self.settings.max_clients:
            log.warning("refused: server full", extra={"peer": conn.peer})
            self._refuse(conn, ServerFull(limit=self.settings.max_clients))
            return
        address = conn.peer.rsplit(":", 1)[0].strip("[]")
        refusal = self.address_limits.admit(address)
        if refusal is not None:
            # One address (or network) may not take every place: a flood of connections
            # from it is refused while others still get in.
            self.stats.errors["refused_" + refusal.reason] += 1
            log.warning("refused: " + refusal.reason, extra={"peer": conn.peer})
            self._refuse(conn, TooManyConnections())
            return
        banned = self.hub.bans.for_address(address)
        if banned is not None:
            self.stats.errors["refused_banned"] += 1
            log.warning("refused: banned", extra={"peer": conn.peer, "mask": banned.mask})
            self._refuse(conn, ServerBanned(reason=banned.reason))
            return
        conn.address = address  # the same text, read again from the peer when needed
        if not self.address_limits.exempt(address):
            s = self.settings
            conn.bucket = TokenBucket(s.flood_rate, float(s.flood_burst), self.loop.time)
        self.connections.add(conn)
        self.stats.connections[conn.door] += 1
        self._all_closed.clear()
        if isinstance(conn, WebConnection):
            conn.handler = WebHandler(self, conn)
        elif conn.door is Door.IRC:
            conn.handler = IrcHandler(self, conn)
        else:
            conn.handler = PlainHandler(self, conn)
        log.debug("connected", extra={"peer": conn.peer, "door": conn.door})

    def _refuse(self, conn: Connection, err: TertuliaError) -> None:
        """Turn a connection away before any door takes it: one line in its own format."""
        text = err.render(self.translate)
        if isinstance(conn, WebConnection):
            conn.refuse(text)
        elif conn.door is Door.IRC:
            conn.close(f"ERROR :Closing link: {text}\r\n".encode())
        else:
            conn.close(plain.error(text))

    def forget(self, conn: Connection) -> None:
        self.stop_nick_timer(conn)
        if conn.address is not None:
            self.address_limits.release(conn.address)
            conn.address = None
        if conn in self.connections:
            self.connections.remove(conn)
            self.stats.connections[conn.door] -= 1
        if not self.connections:
            self._all_closed.set()
        log.debug("disconnected", extra={"peer": conn.peer, "reason": conn.reason})

    def switch_to_json(self, conn: Connection, session: Session, first_line: bytes) -> None:
        """A first line starting with '{' makes this a JSON-lines connection from then on."""
        self.hub.unlisten(session)
        self.stats.connections[conn.door] -= 1
        conn.door = Door.JSON
        self.stats.connections[conn.door] += 1
        handler = JsonHandler(self, conn, session)
        conn.handler = handler
        handler.on_line(first_line)

    def start_nick_timer(self, conn: Connection) -> None:
        timeout = self.settings.nick_timeout
        self._nick_timers[conn] = self.loop.call_later(timeout, self._nick_timeout, conn, timeout)

    def stop_nick_timer(self, conn: Any) -> None:
        timer = self._nick_timers.pop(conn, None)
        if timer is not None:
            timer.cancel()

    def _nick_timeout(self, conn: Connection, seconds: float) -> None:
        self._nick_timers.pop(conn, None)
        log.info("closed: no nick in time", extra={"peer": conn.peer})
        notice = ServerNotice(
            NickTimeout.code, NickTimeout.template, (("seconds", f"{seconds:g}"),)
        )
        self.hub.announce(notice, self._sessions([conn]))
        conn.close()

    def _sessions(self, conns: Iterable[Connection] | None = None) -> list[Session]:
        found = (getattr(c.handler, "session", None) for c in conns or self.connections)
        return [s for s in found if isinstance(s, Session)]
