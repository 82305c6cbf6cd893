"""Server bans as pure data: masks, durations and expiry, with a clock of our own."""

from __future__ import annotations

import pytest

from tertulia.core import bans


def test_durations_read_as_people_write_them() -> None:
    assert bans.parse_duration("90") == 90
    assert bans.parse_duration("30m") == 1800
    assert bans.parse_duration("2H") == 7200
    assert bans.parse_duration("7d") == 7 * 86400
    assert bans.parse_duration("1w") == 7 * 86400
    assert bans.parse_duration("0") == 0
    for bad in ("", "soon", "1y", "-1d", "99999999w"):
        with pytest.raises(bans.BadDuration):
            bans.parse_duration(bad)


def test_compound_durations_go_from_the_largest_unit_down() -> None:
    assert bans.parse_duration("1h30m") == 5400
    assert bans.parse_duration(" 2H30M ") == 9000
    assert bans.parse_duration("1d12h") == 36 * 3600
    assert bans.parse_duration("1w2d3h4m5s") == 9 * 86400 + 3 * 3600 + 4 * 60 + 5
    assert bans.looks_like_duration("1h30m")
    # A unit out of order or twice, a bare number after a unit: more likely a slip.
    for bad in ("5x", "1h30", "30m1h", "1h1h", "h", "1h 30m", "0" * 41, "9" * 5000):
        assert not bans.looks_like_duration(bad)
        with pytest.raises(bans.BadDuration):
            bans.parse_duration(bad)


def test_masks_are_normalised_and_mistakes_refused() -> None:
    assert bans.normalize("198.51.100.7") == "198.51.100.7"
    assert bans.normalize("198.51.100.7/24") == "198.51.100.0/24"
    assert bans.normalize("2001:db8::1/64") == "2001:db8::/64"
    assert bans.normalize("$a:Bob") == "$a:bob"
    assert bans.normalize("troll") == "troll!*@*"
    assert bans.normalize("*@host") == "*!*@host"
    for bad in ("", "10.0.0.300", "a b", "$a:", "x" * 400):
        with pytest.raises(bans.BadBanMask):
            bans.normalize(bad)


def test_addresses_networks_masks_and_accounts_match() -> None:
    now = [1000.0]
    ban_list = bans.ServerBans(lambda: now[0])
    ban_list.load([
        bans.ServerBan("198.51.100.0/24", "net", "op", 0.0),
        bans.ServerBan("2001:db8::/64", "v6", "op", 0.0),
        bans.ServerBan("troll*!*@*", "nick", "op", 0.0),
        bans.ServerBan("$a:bob", "account", "op", 0.0),
    ])  # fmt: skip
    assert ban_list.for_address("198.51.100.200").reason == "net"  # type: ignore[union-attr]
    assert ban_list.for_address("::ffff:198.51.100.9") is not None  # IPv4 seen through IPv6
    assert ban_list.for_address("2001:db8::abcd").reason == "v6"  # type: ignore[union-attr]
    assert ban_list.for_address("2001:db8:0:1::1") is None  # the next /64
    assert ban_list.for_address("198.51.101.1") is None
    assert ban_list.for_address("not an address") is None
    assert ban_list.for_user("Troll2!t@tertulia", "", "127.0.0.2").reason == "nick"  # type: ignore[union-attr]
    assert ban_list.for_user("ana!ana@tertulia", "BOB", "127.0.0.2").reason == "account"  # type: ignore[union-attr]
    assert ban_list.for_user("ana!ana@tertulia", "", "127.0.0.2") is None


def test_a_ban_lapses_at_its_expiry_and_leaves_the_list() -> None:
    now = [1000.0]
    ban_list = bans.ServerBans(lambda: now[0])
    ban_list.add(bans.ServerBan("203.0.113.5", "an hour", "op", 1000.0, 1000.0 + 3600))
    assert ban_list.for_address("203.0.113.5") is not None
    now[0] += 3599
    assert [e.mask for e in ban_list.entries()] == ["203.0.113.5"]
    now[0] += 1
    assert ban_list.for_address("203.0.113.5") is None
    assert ban_list.entries() == [] and len(ban_list) == 0
    with pytest.raises(bans.NoSuchBan):
        ban_list.remove("203.0.113.5")


@pytest.mark.parametrize("mask", ["*", "*!*@*", "*@*", "?*!*@*", "0.0.0.0/0", "::/0"])
def test_a_mask_of_everyone_is_refused(mask: str) -> None:
    with pytest.raises(bans.BansEveryone):
        bans.normalize(mask)
