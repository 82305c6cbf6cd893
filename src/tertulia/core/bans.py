"""Server bans: who may not use the server at all, by address, network, nick mask or account.

Pure data and matching with an injectable clock; the server keeps the entries in its store
and refuses or puts out whoever matches. A room's own bans are its +b list (core.room).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tertulia.core import masks
from tertulia.core.errors import N_, TertuliaError
from tertulia.core.names import fold

ACCOUNT = "$a:"  # an account ban, as charybdis and Solanum spell extended bans
MAX_BANS = 10_000  # a mistaken script must not grow the list (and every check) unbounded
MAX_DURATION = 10 * 365 * 86400
_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}  # largest first
# Bare seconds, or one or more number-and-unit parts: 90, 30m, 1h30m, 1d12h.
_DURATION = re.compile(r"\d+|(?:\d+[wdhms])+")
_PART = re.compile(r"(\d+)([wdhms])")
_DURATION_LENGTH = 40  # longer is a mistake, and int() of thousands of digits is refused

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class BadBanMask(TertuliaError):
    code = "bad_ban_mask"
    template = N_(
        "{mask!r} is not a ban mask: give an address, a network (198.51.100.0/24), "
        "nick!user@host or $a:account"
    )


class BansEveryone(TertuliaError):
    code = "bans_everyone"
    template = N_("{mask!r} would ban everyone, the operators too: give a narrower mask")


class BadDuration(TertuliaError):
    code = "bad_duration"
    template = N_("{value!r} is not a duration: say 30m, 2h, 7d, 1w or 0 for ever")


class NoSuchBan(TertuliaError):
    code = "no_such_ban"
    template = N_("no server ban on {mask}")


class BanListFull(TertuliaError):
    code = "ban_list_full"
    template = N_("the server's ban list is full ({limit})")


class ServerBanned(TertuliaError):
    code = "server_banned"
    template = N_("you are banned from this server: {reason}")


def parse_duration(text: str) -> int:
    """Seconds from `30m`, `2h`, `7d`, `1w`, `90` (seconds), `0` (for ever), or parts
    from the largest unit down, each once: `1h30m`, `1d12h`."""
    seconds = _seconds(text)
    if seconds is None or seconds > MAX_DURATION:
        raise BadDuration(value=text[:40])
    return seconds


def looks_like_duration(text: str) -> bool:
    return _seconds(text) is not None


def _seconds(text: str) -> int | None:
    text = text.strip().lower()
    if len(text) > _DURATION_LENGTH or _DURATION.fullmatch(text) is None:
        return None
    parts = _PART.findall(text)
    if not parts:
        return int(text)
    units = [unit for _, unit in parts]
    # Each unit once, largest first: `30m1h` or `1h1h` is more likely a slip than meant.
    if units != sorted(set(units), key=list(_UNITS).index):
        return None
    return sum(int(number) * _UNITS[unit] for number, unit in parts)


@dataclass(frozen=True, slots=True)
class ServerBan:
    """One entry: `mask` as typed (normalised), why, by whom, when, and until when (0: ever)."""

    mask: str
    reason: str
    by: str
    created: float
    expires: float = 0.0

    @property
    def network(self) -> Network | None:
        return _network(self.mask)

    def lapsed(self, now: float) -> bool:
        return bool(self.expires) and now >= self.expires


def normalize(mask: str) -> str:
    """The canonical spelling of a ban mask, or BadBanMask: an address or network in its
    compressed form, an account folded, a nick mask completed the way IRC does."""
    mask = mask.strip()
    if not mask or len(mask) > masks.MAX_MASK or any(c.isspace() for c in mask):
        raise BadBanMask(mask=mask[:40])
    if mask.lower().startswith(ACCOUNT):
        name = mask[len(ACCOUNT) :]
        if not name:
            raise BadBanMask(mask=mask[:40])
        return ACCOUNT + fold(name)
    network = _network(mask)
    if network is not None and network.prefixlen == 0:
        raise BansEveryone(mask=mask[:40])
    if network is not None:
        # A bare address is its own network; show it without the /32 or /128.
        return str(network.network_address) if network.num_addresses == 1 else str(network)
    if "!" not in mask and "@" not in mask and ("." in mask or ":" in mask):
        raise BadBanMask(mask=mask[:40])  # a mistyped address must not become a nick mask
    found = masks.normalize(mask)
    if not found.strip("*!@?"):  # *, *!*@*, *@*, ?*!*@*...: every user there is
        raise BansEveryone(mask=mask[:40])
    return found


def _network(mask: str) -> Network | None:
    try:
        return ipaddress.ip_network(mask, strict=False)
    except ValueError:
        return None


class ServerBans:
    """The server's ban list, checked on every connection and every nick."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._entries: dict[str, ServerBan] = {}  # by folded mask
        self._networks: list[tuple[Network, ServerBan]] = []  # the address entries

    def __len__(self) -> int:
        return len(self._entries)

    def load(self, entries: Iterable[ServerBan]) -> None:
        for entry in entries:
            self._entries[fold(entry.mask)] = entry
        self._index()

    def add(self, entry: ServerBan) -> ServerBan | None:
        """Add or replace an entry; the one it replaced, if any."""
        key = fold(entry.mask)
        old = self._entries.get(key)
        if old is None and len(self._entries) >= MAX_BANS:
            raise BanListFull(limit=MAX_BANS)
        self._entries[key] = entry
        self._index()
        return old

    def remove(self, mask: str) -> ServerBan:
        entry = self._entries.pop(fold(normalize(mask)), None)
        if entry is None:
            raise NoSuchBan(mask=mask[:80])
        self._index()
        return entry

    def entries(self) -> list[ServerBan]:
        """The entries still in force, oldest first (lapsed ones are dropped here)."""
        self._expire()
        return sorted(self._entries.values(), key=lambda e: e.created)

    def for_address(self, address: str) -> ServerBan | None:
        """The entry that bans connections from `address`, if one does."""
        if not self._networks:
            return None
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        now = self.clock()
        for network, entry in self._networks:
            if ip.version == network.version and ip in network and not entry.lapsed(now):
                return entry
        return None

    def for_user(self, mask: str, account: str, address: str) -> ServerBan | None:
        """The entry that bans a user (nick!user@host, its account, its address), if one
        does."""
        if not self._entries:
            return None
        now = self.clock()
        found = self.for_address(address)
        if found is not None:
            return found
        folded_account = ACCOUNT + fold(account) if account else ""
        for key, entry in self._entries.items():
            if entry.lapsed(now):
                continue
            if key.startswith(ACCOUNT):
                if key == folded_account:
                    return entry
            elif "!" in key and masks.matches(entry.mask, mask):
                return entry
        return None

    def _expire(self) -> None:
        now = self.clock()
        lapsed = [k for k, e in self._entries.items() if e.lapsed(now)]
        for key in lapsed:
            del self._entries[key]
        if lapsed:
            self._index()

    def _index(self) -> None:
        self._networks = [(n, e) for e in self._entries.values() if (n := e.network) is not None]
