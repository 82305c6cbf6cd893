"""Token buckets and connections per address, driven by a clock the test turns by hand."""

from __future__ import annotations

import pytest

from tertulia.core.limits import AddressLimits, AddressRules, TokenBucket, check_cidrs, network


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_lets_a_burst_through_then_asks_to_wait() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=2.0, burst=3.0, clock=clock)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)  # one token short at 2 a second
    assert bucket.take() == pytest.approx(1.0)  # the debt grows with each line
    clock.now += 10  # refilled, never past the burst
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]


def test_connections_per_address_and_per_network() -> None:
    clock = Clock()
    rules = AddressRules(per_address=2, per_network=3, rate=100.0, burst=100.0, exempt=())
    limits = AddressLimits(rules, clock)
    assert limits.admit("10.0.0.1") is None and limits.admit("10.0.0.1") is None
    refusal = limits.admit("10.0.0.1")
    assert refusal is not None and refusal.reason == "per_address"
    assert limits.admit("10.0.0.2") is None
    refusal = limits.admit("10.0.0.3")  # the same /24
    assert refusal is not None and refusal.reason == "per_network"
    assert limits.admit("10.0.1.1") is None  # another /24
    limits.release("10.0.0.1")
    assert limits.admit("10.0.0.3") is None
    assert network("2001:db8::1") == network("2001:db8::2") == "2001:db8::/64"


def test_a_connection_rate_per_address_and_exempt_ranges() -> None:
    clock = Clock()
    rules = AddressRules(per_address=100, per_network=100, rate=1.0, burst=2.0, exempt=())
    limits = AddressLimits(rules, clock)
    for _ in range(2):
        assert limits.admit("10.0.0.1") is None
        limits.release("10.0.0.1")
    refusal = limits.admit("10.0.0.1")
    assert refusal is not None and refusal.reason == "rate"
    clock.now += 1.0
    assert limits.admit("10.0.0.1") is None
    exempt = AddressLimits(AddressRules(per_address=1, exempt=("127.0.0.0/8", "::1/128")), clock)
    assert all(exempt.admit("127.0.0.5") is None for _ in range(10))
    assert exempt.admit("::1") is None and exempt.admit("::1") is None


def test_bad_ranges_are_named() -> None:
    check_cidrs(("10.0.0.0/8", "::1/128"))
    with pytest.raises(ValueError, match="ten"):
        check_cidrs(("ten",))
