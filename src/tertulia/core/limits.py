"""Limits with an injectable clock: token buckets, and connections per address.

Pure code over numbers and addresses: the server asks and acts (refuses, delays, drops);
tests drive the clock by hand instead of sleeping (Ergo's `nowFunc`).
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


class TokenBucket:
    """`rate` tokens a second up to `burst`. `take` spends one and says how long the caller
    should wait before acting on it (0: at once): fakelag, a delay before any refusal."""

    __slots__ = ("_clock", "_level", "_stamp", "burst", "rate")

    def __init__(self, rate: float, burst: float, clock: Clock) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._level = burst
        self._stamp = clock()

    def take(self, cost: float = 1.0) -> float:
        now = self._clock()
        self._level = min(self.burst, self._level + (now - self._stamp) * self.rate)
        self._stamp = now
        self._level -= cost
        # Below zero the debt is paid back at `rate`: that is how long to wait.
        return 0.0 if self._level >= 0 else -self._level / self.rate

    def try_take(self, cost: float = 1.0) -> bool:
        """Spend `cost` if it is there, else spend nothing and say no."""
        if self.take(cost) > 0:
            self._level += cost
            return False
        return True


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a connection is refused: `reason` is one of `per_address`, `per_network`,
    `rate`; `limit` is the number that was reached."""

    reason: str
    limit: float


@dataclass(frozen=True, slots=True)
class AddressRules:
    per_address: int = 32  # connections open at once from one address
    per_network: int = 128  # from one /24 (IPv4) or /64 (IPv6)
    rate: float = 1.0  # new connections a second from one address, on average
    burst: float = 20.0  # and at once
    exempt: tuple[str, ...] = ("127.0.0.1/32", "::1/128")  # CIDR ranges no limit applies to


RATE_MEMORY = 10_000  # addresses whose connection rate is remembered, least recent dropped


class AddressLimits:
    """Connections per address and per network, and a connection rate per address."""

    def __init__(self, rules: AddressRules, clock: Clock) -> None:
        self.rules = rules
        self._clock = clock
        self._exempt = [ipaddress.ip_network(cidr, strict=False) for cidr in rules.exempt]
        self.open: dict[str, int] = {}  # by address
        self.networks: dict[str, int] = {}  # by /24 or /64
        self._rates: OrderedDict[str, TokenBucket] = OrderedDict()

    def set_rules(self, rules: AddressRules) -> None:
        """New rules (a reload): the connections counted so far stay counted."""
        self.rules = rules
        self._exempt = [ipaddress.ip_network(cidr, strict=False) for cidr in rules.exempt]

    def exempt(self, address: str) -> bool:
        ip = _ip(address)
        return ip is None or any(ip in net for net in self._exempt if ip.version == net.version)

    def admit(self, address: str) -> Refusal | None:
        """Count a new connection from `address`, or say why it is refused (then nothing
        is counted and `release` must not be called for it)."""
        if self.exempt(address):
            return None
        rules, net = self.rules, network(address)
        if self.open.get(address, 0) >= rules.per_address:
            return Refusal("per_address", rules.per_address)
        if self.networks.get(net, 0) >= rules.per_network:
            return Refusal("per_network", rules.per_network)
        bucket = self._rates.pop(address, None) or TokenBucket(rules.rate, rules.burst, self._clock)
        self._rates[address] = bucket
        while len(self._rates) > RATE_MEMORY:
            self._rates.popitem(last=False)
        if not bucket.try_take():
            return Refusal("rate", rules.rate)
        self.open[address] = self.open.get(address, 0) + 1
        self.networks[net] = self.networks.get(net, 0) + 1
        return None

    def release(self, address: str) -> None:
        """A connection that `admit` counted is gone."""
        if address not in self.open:
            # Not counted: exempt when it came (whatever a reload made of the exemptions
            # since, which is why this asks the counts and not the rules).
            return
        for counts, key in ((self.open, address), (self.networks, network(address))):
            left = counts.get(key, 0) - 1
            if left > 0:
                counts[key] = left
            else:
                counts.pop(key, None)


def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None  # not an IP (a Unix socket): no address to limit


def network(address: str) -> str:
    """The /24 of an IPv4 address or the /64 of an IPv6 one, as a string key."""
    ip = _ip(address)
    if ip is None:
        return address
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def check_cidrs(items: tuple[str, ...]) -> None:
    """ValueError naming the first of `items` that is not a CIDR range."""
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(item) from None
