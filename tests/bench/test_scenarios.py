"""A short run of every scenario against real servers: correctness only, never speed."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tertulia.bench.scenarios import SCENARIOS, NoProgress, Options, Result
from tertulia.bench.targets import Target, ngircd_binary, open_target

pytestmark = pytest.mark.timeout(120)


async def run(spec: str, scenario: str, *server_args: str, **options: float) -> Result:
    target = await open_target(spec, server_args)
    try:
        return await SCENARIOS[scenario](target, Options(**options), NoProgress())  # type: ignore[arg-type]
    finally:
        await target.stop()


def assert_complete(result: Result) -> None:
    assert result.expected > 0
    assert result.delivered == result.expected
    assert (result.lost, result.duplicated, result.mangled) == (0, 0, 0)
    assert not result.stalled
    assert result.p50_ms is not None and result.p99_ms is not None
    assert result.p50_ms <= result.p99_ms <= (result.max_ms or 0)


@pytest.mark.parametrize("spec", ["spawn:plain", "spawn:json", "spawn:irc", "spawn:web"])
async def test_fanout_delivers_everything_once(spec: str) -> None:
    result = await run(spec, "fanout", clients=12, senders=3, messages=40)
    assert_complete(result)
    assert result.expected == 3 * 40 * 11  # each message to everyone but its sender
    assert result.server_cpu_s is not None and result.peak_rss_kb


async def test_latency_sends_at_the_rate_asked() -> None:
    result = await run("spawn:plain", "latency", clients=8, senders=2, rate=100, duration=0.5)
    assert_complete(result)
    assert result.senders * result.messages == 50
    assert result.extra["rate"] == 100


async def test_stall_drops_the_client_that_never_reads_and_feeds_the_others() -> None:
    # A small send buffer (64 KiB, the kernel's share capped at 16) makes the server give up
    # on the stuck client within a short burst. Not smaller: a group commit hands a healthy
    # reader a few kilobytes at once, and a 4 KiB bound dropped readers that kept up.
    result = await run(
        "spawn:plain", "stall", "--send-buffer-bytes", "65536",
        clients=10, senders=3, messages=20000, stuck=1,
    )  # fmt: skip
    assert_complete(result)
    assert result.extra["stuck_disconnected"] == 1
    assert result.extra["no_stall_deliveries_per_s"] > 0


@pytest.mark.parametrize("spec", ["spawn:plain", "spawn:web"])
async def test_idle_weighs_each_client(spec: str) -> None:
    result = await run(spec, "idle", clients=60, rooms=4, hold=0.1)
    assert result.rss_per_client_kb is not None
    assert result.connect_s is not None and result.connect_p99_ms is not None
    assert result.extra["closed_by_server"] == 0


@pytest.mark.parametrize("spec", ["spawn:plain", "spawn:json", "spawn:web"])
async def test_churn_cycles_cleanly(spec: str) -> None:
    result = await run(spec, "churn", clients=3, cycles=200, parallel=20, hold=0.1)
    assert result.extra["failures"] == 0
    assert result.extra["cycles"] == 200
    assert result.extra["residents_dropped"] == 0
    assert "rss_growth_pct" in result.extra


async def test_the_original_design_relays_but_without_framing() -> None:
    # Whether a given run splits or merges chunks is up to the scheduler; what must hold is
    # that every message is accounted for: intact, mangled or lost, never silently vanished.
    result = await run("spawn:original", "fanout", clients=6, senders=2, messages=30)
    assert result.expected == 2 * 30 * 5
    assert result.delivered + result.lost >= result.expected
    assert result.duplicated == 0


async def test_ngircd_as_a_peer() -> None:
    if ngircd_binary() is None:
        pytest.skip("ngircd is not installed: apt-get install -y ngircd")
    result = await run("spawn:ngircd", "fanout", clients=8, senders=2, messages=20)
    assert_complete(result)
    assert result.wire == "irc"


@pytest.fixture
async def spawned() -> AsyncIterator[Target]:
    target = await open_target("spawn:plain")
    yield target
    await target.stop()


async def test_an_address_target_with_its_pid(spawned: Target) -> None:
    spec = f"mine=plain://127.0.0.1:{spawned.port},pid={spawned.pid}"
    result = await run(spec, "fanout", clients=5, senders=1, messages=10)
    assert_complete(result)
    assert result.target == "mine" and result.server_cpu_s is not None


def test_the_command_writes_json_markdown_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [
        sys.executable, "-m", "tertulia", "bench", "fanout", "--spawn", "--clients", "4,6",
        "--senders", "2", "--messages", "10", "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["clients"] for r in records] == [4, 6]
    assert all(r["lost"] == 0 and r["delivered"] == r["expected"] for r in records)
    assert "| fanout | tertulia | 4 |" in (out / "results.md").read_text()
    assert "| fanout | tertulia | 6 |" in done.stdout
    assert (out / "latency.png").stat().st_size > 1000
    assert (out / "scaling.png").stat().st_size > 1000


def test_a_bad_target_is_one_line() -> None:
    cmd = [sys.executable, "-m", "tertulia", "bench", "fanout", "--target", "plain://10.0.0.1:5"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    assert done.stderr.strip() == "tertulia bench: the bench only targets 127.0.0.1"
