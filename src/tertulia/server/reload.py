"""Settings read again while serving (SIGHUP, `tertulia admin reload`): what can change
takes effect at once, for the connections already open too; what cannot is named."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

from tertulia import logs
from tertulia.config import Settings
from tertulia.core.limits import TokenBucket

if TYPE_CHECKING:
    from tertulia.server.app import Server

# Settings a running server takes from a reload. The others (addresses, ports, the store,
# the cluster, the language...) are bound to listeners, files and connections made at
# start: changing them needs a restart, and a reload says which ones did not apply.
LIVE = frozenset({
    # limits of the chat, checked on every message, nick, topic and join
    "max_message_bytes", "max_line_bytes", "nick_length", "room_length", "topic_length",
    "max_rooms",
    # limits per address and flood control, for open connections too
    "max_clients", "max_per_address", "max_per_network", "connect_rate", "connect_burst",
    "flood_rate", "flood_burst", "flood_delay_max", "limit_exempt",
    # who may do what, and what the server says of itself
    "operators", "bans", "password", "server_info", "motd", "motd_file", "registrations_per_hour",
    "nick_grace", "nick_timeout", "anonymous_listeners", "web_origins", "web_hosts", "sts_duration",
    # history pages and searches
    "history_page", "search_results", "history_keep_days", "history_keep_messages",
    # TLS (the files are read again in any case: a renewed certificate keeps its path)
    "tls_cert", "tls_key",
    # operators' logs
    "log_level", "log_json",
    # connections' output
    "send_buffer_bytes", "shutdown_grace",
})  # fmt: skip
NAMES = tuple(f.name for f in fields(Settings))
TLS = frozenset({"tls_cert", "tls_key"})


@dataclass(frozen=True, slots=True)
class Reloaded:
    changed: tuple[str, ...]  # settings that took effect
    fixed: tuple[str, ...]  # settings that differ but change only at a restart
    failed: tuple[str, ...] = ()  # settings that could not be used (the log says why)


def apply(server: Server, new: Settings) -> Reloaded:
    """Take the live settings of `new`; the server keeps the others as they are."""
    old = server.settings
    differ = [n for n in NAMES if getattr(old, n) != getattr(new, n)]
    takes = LIVE
    if not server.serving_tls or not (new.tls_cert and new.tls_key):
        # TLS doors are made at start: certificates given to a server without them, or
        # taken away from one with them, wait for a restart (and stay as they were).
        takes = LIVE - TLS
    live = tuple(n for n in differ if n in takes)
    fixed = tuple(n for n in differ if n not in takes)
    s = server.settings = replace(old, **{n: getattr(new, n) for n in live})
    hub = server.hub
    hub.limits = replace(
        hub.limits, max_message_bytes=s.max_message_bytes, nick_length=s.nick_length,
        room_length=s.room_length, topic_length=s.topic_length, rooms_per_session=s.max_rooms,
    )  # fmt: skip
    server.address_limits.set_rules(s.address_rules())
    for conn in server.connections:
        # Live with max_message_bytes: otherwise a reload could raise one past the other.
        conn.line_limit_changed(s.max_line_bytes)
        if conn.address is None:
            continue
        if server.address_limits.exempt(conn.address):
            conn.bucket = None  # limit_exempt now covers it
        elif conn.bucket is None:
            conn.bucket = TokenBucket(s.flood_rate, float(s.flood_burst), server.loop.time)
        else:
            conn.bucket.rate, conn.bucket.burst = s.flood_rate, float(s.flood_burst)
    if "operators" in live:
        server.moderation.operators_changed(old.operators, s.operators)
    server.read_motd()  # the same file may say something new
    # Every time, not only when [bans] changed: an entry lifted by hand comes back.
    server.moderation.configure_bans(s.bans)
    if "history_keep_days" in live or "history_keep_messages" in live:
        server.keep_pruning()
    if "log_level" in live or "log_json" in live:
        logs.setup(s.log_level, s.log_json)
    return Reloaded(live, fixed)
