"""One Settings object: defaults, then a TOML file, then TERTULIA_* variables, then flags."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from tertulia.bus import BusDown
from tertulia.bus import from_url as bus_from_url
from tertulia.core.bans import normalize as ban_mask
from tertulia.core.errors import N_, TertuliaError, TlsUnusable
from tertulia.core.hub import Limits
from tertulia.core.limits import AddressRules, check_cidrs
from tertulia.i18n import language
from tertulia.store import StoreError, from_url, passwords
from tertulia.tls import server_context

ENV_PREFIX = "TERTULIA_"


class ConfigError(TertuliaError):
    code = "config"
    template = N_("configuration: {reason}")


def _default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return os.path.join(base, "tertulia")


@dataclass(frozen=True, slots=True)
class Settings:
    """Every default and limit of the server; docs/operations.md has the table."""

    host: str = field(default="127.0.0.1", metadata={"help": "address the doors listen on"})
    port: int = field(default=5000, metadata={"help": "plain/JSON-lines door port (0: any)"})
    password: str = field(
        default="",
        repr=False,  # never printed with the rest of the settings
        metadata={"help": "server password IRC clients must send with PASS"},
    )
    irc: bool = field(default=True, metadata={"help": "open the IRC door"})
    irc_port: int = field(default=6667, metadata={"help": "IRC door port (0: any)"})
    web: bool = field(default=True, metadata={"help": "open the web door"})
    web_port: int = field(default=8080, metadata={"help": "web door port: browser, /ws (0: any)"})
    tls_cert: str = field(
        default="", metadata={"help": "TLS certificate chain (PEM): opens the TLS doors"}
    )
    tls_key: str = field(default="", repr=False, metadata={"help": "TLS private key (PEM)"})
    plain_tls_port: int = field(
        default=5443, metadata={"help": "plain/JSON-lines door over TLS (0: any)"}
    )
    irc_tls_port: int = field(default=6697, metadata={"help": "IRC door over TLS (0: any)"})
    web_tls_port: int = field(default=8443, metadata={"help": "HTTPS and WSS (0: any)"})
    sts: bool = field(
        default=False,
        metadata={
            "help": "IRCv3 STS: IRC clients that know it move to the IRC TLS port and keep to "
            "it (only with a certificate they trust)"
        },
    )
    sts_duration: int = field(
        default=0,
        metadata={"help": "seconds STS clients keep to TLS after seeing it there (0: this time)"},
    )
    web_origins: tuple[str, ...] = field(
        default=(),
        metadata={"help": "origins allowed on /ws, comma-separated (empty: same origin only)"},
    )
    web_hosts: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "names the web door answers to besides IP addresses and localhost "
            "(comma-separated; a page from any other name is refused, against DNS rebinding)"
        },
    )
    data_dir: str = field(default_factory=_default_data_dir, metadata={"help": "data directory"})
    history: bool = field(
        default=True, metadata={"help": "keep messages in data_dir/tertulia.db (SQLite)"}
    )
    store: str = field(
        default="",
        metadata={
            "help": "where history and accounts live: sqlite:///file or "
            "postgresql://user:password@host:port/db (empty: SQLite in data_dir)"
        },
    )
    cluster: str = field(
        default="",
        metadata={
            "help": "redis://HOST:PORT/DB: one chat with every node on the same Redis and "
            "PostgreSQL store (empty: this process alone)"
        },
    )
    node: str = field(
        default="",
        metadata={"help": "this node's name in a cluster (empty: host name and process id)"},
    )
    cluster_lease: float = field(
        default=15.0,
        metadata={"help": "seconds a dead node's nicks and memberships are kept in a cluster"},
    )
    history_replay: int = field(
        default=50, metadata={"help": "messages shown to whoever joins a room"}
    )
    history_page: int = field(
        default=200,
        metadata={"help": "most messages one history page holds (/history, JSON, CHATHISTORY)"},
    )
    search_results: int = field(
        default=50, metadata={"help": "most messages one search answers with"}
    )
    history_sync: str = field(
        default="normal",
        metadata={"help": "normal: survives a killed process; full: a power cut too (slower)"},
    )
    history_keep_days: float = field(
        default=0.0, metadata={"help": "days messages are kept (0: for ever)"}
    )
    registrations_per_hour: int = field(
        default=5, metadata={"help": "accounts one address may register in an hour"}
    )
    nick_grace: float = field(
        default=30.0, metadata={"help": "seconds to log in to a registered nick before a rename"}
    )
    history_keep_messages: int = field(
        default=0, metadata={"help": "messages kept per room (0: all)"}
    )
    server_name: str = field(default="tertulia", metadata={"help": "name shown to clients"})
    server_info: str = field(
        default="a tertulia chat server",
        metadata={"help": "one line about the server (IRC LINKS and WHOIS)"},
    )
    motd: str = field(
        default="", metadata={"help": "message of the day, shown to each user on arrival"}
    )
    motd_file: str = field(
        default="",
        metadata={"help": "a file holding the message of the day (wins over motd; read again "
                  "at each reload)"},
    )  # fmt: skip
    lang: str = field(default="", metadata={"help": "language of user text (en, es)"})
    log_level: str = field(default="info", metadata={"help": "debug, info, warning, error"})
    log_json: bool = field(default=False, metadata={"help": "log one JSON object per line"})
    max_clients: int = field(default=4096, metadata={"help": "connections before refusing"})
    max_per_address: int = field(
        default=32, metadata={"help": "connections at once from one address"}
    )
    max_per_network: int = field(
        default=128, metadata={"help": "connections at once from one /24 (IPv4) or /64 (IPv6)"}
    )
    connect_rate: float = field(
        default=1.0, metadata={"help": "new connections a second from one address, on average"}
    )
    connect_burst: int = field(
        default=20, metadata={"help": "new connections from one address at once"}
    )
    flood_rate: float = field(
        default=10.0, metadata={"help": "lines a second one client may send, on average"}
    )
    flood_burst: int = field(default=40, metadata={"help": "lines one client may send at once"})
    flood_delay_max: float = field(
        default=10.0,
        metadata={"help": "seconds a flooding client's lines may wait before it is let go"},
    )
    limit_exempt: tuple[str, ...] = field(
        default=("127.0.0.1/32", "::1/128"),
        metadata={"help": "CIDR ranges the per-address limits spare (comma-separated)"},
    )
    max_message_bytes: int = field(default=512, metadata={"help": "UTF-8 bytes per message"})
    max_line_bytes: int = field(default=2048, metadata={"help": "bytes per line on the wire"})
    nick_length: int = field(default=30, metadata={"help": "characters per nick"})
    room_length: int = field(default=50, metadata={"help": "characters per room name"})
    topic_length: int = field(default=390, metadata={"help": "characters per topic"})
    max_rooms: int = field(default=100, metadata={"help": "rooms one client may be in at once"})
    default_room: str = field(default="#lobby", metadata={"help": "room everyone joins"})
    persistent_rooms: tuple[str, ...] = field(
        default=("#lobby",), metadata={"help": "rooms kept when empty (comma-separated)"}
    )
    anonymous_listeners: bool = field(
        default=True,
        metadata={
            "help": "plain connections hear #lobby before they give a nick, as the "
            "original client needs (false: only once they have one)"
        },
    )
    nick_timeout: float = field(
        default=300.0, metadata={"help": "seconds a connection may stay without a nick"}
    )
    idle_flush: float = field(
        default=0.1, metadata={"help": "seconds before unterminated bytes count as a line"}
    )
    send_buffer_bytes: int = field(
        default=1024 * 1024, metadata={"help": "unsent bytes per client before it is dropped"}
    )
    ping_interval: float = field(
        default=120.0,
        metadata={"help": "seconds of IRC silence before a PING; as many again to answer"},
    )
    shutdown_grace: float = field(
        default=3.0, metadata={"help": "seconds to let clients drain at shutdown"}
    )
    operators: tuple[tuple[str, str], ...] = field(
        default=(),
        repr=False,  # passwords, or their hashes
        metadata={
            "help": "server operators: an [operators] table of name = password (or an "
            "scrypt hash from `tertulia hash-password`); name=password,... in the environment"
        },
    )

    bans: tuple[tuple[str, str], ...] = field(
        default=(),
        metadata={
            "help": "server bans kept in the configuration: a [bans] table of mask = reason "
            "(nick!user@host, an address or network, or $a:account); mask=reason,... in "
            "the environment"
        },
    )

    def address_rules(self) -> AddressRules:
        return AddressRules(
            self.max_per_address,
            self.max_per_network,
            self.connect_rate,
            float(self.connect_burst),
            self.limit_exempt,
        )

    def limits(self) -> Limits:
        return Limits(
            max_message_bytes=self.max_message_bytes,
            nick_length=self.nick_length,
            room_length=self.room_length,
            topic_length=self.topic_length,
            default_room=self.default_room,
            persistent_rooms=tuple(dict.fromkeys((self.default_room, *self.persistent_rooms))),
            replay=self.history_replay if self.history else 0,
            rooms_per_session=self.max_rooms,
            server_name=self.server_name,
        )


FIELDS = {f.name: f for f in fields(Settings)}
FILES = ("tls_cert", "tls_key", "motd_file")  # read by the server, named in the settings
# Settings whose values an error must not show: passwords, and URLs that may hold one.
SECRET = frozenset({"operators", "password", "store", "cluster"})
MOTD_LIMIT = 64 * 1024  # bytes of a motd_file: a greeting, not a document


def _coerce(name: str, value: Any, source: str) -> Any:
    """Turn a value from TOML, the environment or a flag into the field's type."""
    kind = FIELDS[name].type
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(value)
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if kind == "tuple[tuple[str, str], ...]":
            return _pairs(value)
        if kind.startswith("tuple"):
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return tuple(value)
            raise ValueError(value)
        if not isinstance(value, str):
            raise ValueError(value)
        return value
    except ValueError:
        if name in SECRET:  # a password in a bad value would end up in a log or a terminal
            raise ConfigError(
                reason=N_("{source}: bad value for {name}"), source=source, name=name
            ) from None
        raise ConfigError(
            reason=N_("{source}: bad value {value!r} for {name}"),
            source=source,
            value=value,
            name=name,
        ) from None


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    """A TOML table of name to string, or `name=value,name=value` from the environment."""
    if isinstance(value, str):
        value = dict(item.strip().partition("=")[::2] for item in value.split(",") if item.strip())
    if not isinstance(value, dict):
        raise ValueError(value)
    pairs = tuple((str(k), v) for k, v in value.items())
    if not all(isinstance(v, str) and k and v for k, v in pairs):
        raise ValueError(value)
    return pairs


def load_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
        # Some editors open a UTF-8 file with a byte order mark, which TOML does not allow.
        data = tomllib.loads(raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8"))
    except OSError as exc:
        raise ConfigError(
            reason=N_("cannot read {path}: {error}"), path=str(path), error=exc.strerror
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            reason=N_("{path} is not valid TOML: {error}"), path=str(path), error=str(exc)
        ) from None
    except UnicodeDecodeError as exc:
        # TOML is UTF-8; an editor set to Latin-1 writes ñ as one byte that is not.
        raise ConfigError(
            reason=N_("{path} is not UTF-8 text (line {line}): save it as UTF-8"),
            path=str(path),
            line=raw[: exc.start].count(b"\n") + 1,
        ) from None
    # Top-level keys, a [server] table, or both; tables of their own, such as [operators],
    # sit beside [server] or inside it.
    server = data.get("server", {})
    if not isinstance(server, dict):
        raise ConfigError(
            reason=N_("{path}: server must be a table"), path=str(path), name="server"
        )
    table: dict[str, Any] = {}
    for key, value in [*((k, v) for k, v in data.items() if k != "server"), *server.items()]:
        # max-clients and max_clients are one setting: written both ways, it is set twice.
        name = key.replace("-", "_") if key.replace("-", "_") in FIELDS else key
        if name in table:
            raise ConfigError(reason=N_("{path}: {name} is set twice"), path=str(path), name=key)
        table[name] = value
    for title in ("operators", "bans"):
        entries = table.get(title)
        for key in entries if isinstance(entries, dict) else ():
            if key.replace("-", "_") in FIELDS:
                # TOML puts every key after a [table] header in that table: a setting
                # written below [operators] would silently make an operator of that name.
                raise ConfigError(
                    reason=N_("{path}: {name} is under [{table}]; settings go above the table"),
                    path=str(path),
                    name=key,
                    table=title,
                )
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in FIELDS:
            raise ConfigError(
                reason=N_("{path}: unknown setting {name!r}"), path=str(path), name=key
            )
        out[name] = _coerce(name, value, str(path))
    # A relative file in a configuration file is beside it, wherever the server starts
    # (systemd starts it in /).
    for name in FILES:
        if out.get(name) and not Path(out[name]).is_absolute():
            out[name] = str(path.absolute().parent / out[name])
    return out


def from_env(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in FIELDS:
        var = ENV_PREFIX + name.upper()
        if var in env:
            out[name] = _coerce(name, env[var], var)
    return out


def load(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_file: str | None = None,
) -> Settings:
    """Settings from every source; flags win, then the environment, then the file."""
    env = os.environ if env is None else env
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    path = config_file or env.get(ENV_PREFIX + "CONFIG")
    values: dict[str, Any] = {}
    if path:
        values.update(load_file(Path(path)))
    values.update(from_env(env))
    values.update({k: _coerce(k, v, "--" + k.replace("_", "-")) for k, v in flags.items()})
    settings = replace(Settings(), **values)
    _validate(settings)
    return settings


def check_file(path: str) -> tuple[int, ConfigError] | None:
    """Whether a configuration file holds good settings on its own (`tertulia check-config`):
    None if so, else the line at fault (0 when no one line is) and why."""
    try:
        settings = load(env={}, config_file=path)
        # What the server finds only when it opens them: a check before a start or a
        # reload should find it first. (Loading settings does not open files or stores,
        # so that a renewed certificate that does not load fails alone at a reload.)
        if settings.tls_cert:
            _check_tls(settings.tls_cert, settings.tls_key)
        _check_urls(settings)
    except ConfigError as err:
        return _line_of(path, err), err
    return None


def _line_of(path: str, err: ConfigError) -> int:
    """The line an error is about: TOML's own position, or the line that sets the
    setting it names; 0 when none does (two settings that do not go together...)."""
    if isinstance(err.args_map.get("line"), int):
        return int(err.args_map["line"])
    found = re.search(r"at line (\d+)", str(err.args_map.get("error", "")))
    if found:
        return int(found.group(1))
    names = [str(err.args_map[k]) for k in ("name",) if k in err.args_map]
    names += re.findall(r"[a-z_]+", str(err.args_map.get("reason", "")).split(":")[0])
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return 0
    for name in names:
        spelled = re.escape(name).replace("_", "[_-]")
        # `name = ...`, or a table of that name: `[operators]`, `[server.operators]`.
        key = re.compile(rf"^\s*(?:[\"']?{spelled}[\"']?\s*=|\[(?:server\.)?{spelled}\])")
        for number, line in enumerate(lines, 1):
            if key.match(line):
                return number
    return 0


def _validate(s: Settings) -> None:
    if bool(s.tls_cert) != bool(s.tls_key):
        raise ConfigError(reason=N_("tls_cert and tls_key go together"))
    for name, secret in s.operators:
        if secret.startswith("scrypt$") and not passwords.well_formed(secret):
            raise ConfigError(
                reason=N_("operators: the hash of {operator} is not one `tertulia hash-password` "
                          "makes"),
                operator=name, name="operators",
            )  # fmt: skip
    if s.lang and language(s.lang) != s.lang.split(".")[0].split("_")[0].split("-")[0].lower():
        raise ConfigError(
            reason=N_("lang: {lang!r} is not a language tertulia speaks (en, es)"), lang=s.lang
        )
    if s.sts and not (s.tls_cert and s.irc):
        raise ConfigError(reason=N_("sts needs the IRC door and tls_cert and tls_key"))
    if s.sts_duration < 0:
        raise ConfigError(reason=N_("sts_duration must not be negative"))
    for name in ("port", "irc_port", "web_port", "plain_tls_port", "irc_tls_port", "web_tls_port"):
        if not 0 <= getattr(s, name) <= 65535:
            raise ConfigError(reason=N_("the port must be between 0 and 65535"), name=name)
    for name in (
        "max_clients",
        "max_message_bytes",
        "max_line_bytes",
        "nick_length",
        "send_buffer_bytes",
        "max_rooms",
    ):
        if getattr(s, name) < 1:
            raise ConfigError(reason=N_("{name} must be at least 1"), name=name)
    if s.max_line_bytes < s.max_message_bytes:
        raise ConfigError(reason=N_("max_line_bytes must not be below max_message_bytes"))
    if s.history_sync.lower() not in ("normal", "full"):
        raise ConfigError(reason=N_("history_sync must be normal or full"))
    if s.history_page < 1 or s.search_results < 1:
        raise ConfigError(reason=N_("history_page and search_results must be at least 1"))
    for name in ("history_replay", "history_keep_messages", "history_keep_days"):
        if getattr(s, name) < 0:
            raise ConfigError(reason=N_("history settings must not be negative"), name=name)
    try:
        check_cidrs(s.limit_exempt)
    except ValueError as exc:
        raise ConfigError(
            reason=N_("limit_exempt: {cidr!r} is not a CIDR range"), cidr=str(exc)
        ) from None
    for name in ("flood_rate", "flood_burst", "flood_delay_max"):
        if getattr(s, name) <= 0:
            raise ConfigError(reason=N_("flood limits must be positive"), name=name)
    for name in ("connect_rate", "max_per_address", "max_per_network"):
        if getattr(s, name) <= 0:
            raise ConfigError(reason=N_("connection limits must be positive"), name=name)
    for mask, _ in s.bans:
        try:
            ban_mask(mask)
        except TertuliaError:
            raise ConfigError(
                reason=N_("bans: {mask!r} is not a ban mask"), mask=mask, name=mask
            ) from None
    if s.motd_file:
        try:
            # A regular file, read whole by the server: not a pipe a check would drain,
            # nor /dev/zero.
            if not Path(s.motd_file).is_file() and Path(s.motd_file).exists():
                raise ConfigError(
                    reason=N_("motd_file: {path} is not a regular file"), path=s.motd_file
                )
            if Path(s.motd_file).stat().st_size > MOTD_LIMIT:
                raise ConfigError(
                    reason=N_("motd_file: {path} is larger than {limit} KiB"),
                    path=s.motd_file,
                    limit=MOTD_LIMIT // 1024,
                )
            with open(s.motd_file, "rb"):
                pass  # readable by this user
        except OSError as exc:
            raise ConfigError(
                reason=N_("motd_file: cannot read {path}: {error}"),
                path=s.motd_file,
                error=exc.strerror or str(exc),
            ) from None
    if s.log_level.lower() not in ("debug", "info", "warning", "error"):
        raise ConfigError(
            reason=N_("unknown log level {level!r}"), level=s.log_level, name="log_level"
        )


def _check_tls(cert: str, key: str) -> None:
    """The certificate and key load, and go together: as the server will make its context."""
    try:
        server_context(cert, key)
    except TlsUnusable as err:
        raise ConfigError(
            reason=N_("tls_cert: {cert} and {key} cannot be used: {error}"),
            cert=cert, key=key, error=str(err.args_map["reason"]),
        ) from None  # fmt: skip


def _check_urls(s: Settings) -> None:
    """The store and the cluster URLs name what the server can use (nothing is opened)."""
    try:
        from_url(s.store, s.data_dir)
    except StoreError as exc:
        raise ConfigError(reason=N_("store: {error}"), error=str(exc), name="store") from None
    if s.cluster:
        try:
            bus_from_url(s.cluster)
        except BusDown as exc:
            raise ConfigError(
                reason=N_("cluster: {error}"), error=str(exc), name="cluster"
            ) from None
