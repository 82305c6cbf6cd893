"""The bench against a cluster: two spawned nodes on a real Redis and a real PostgreSQL,
clients spread over them, every node's CPU and the bus's bytes counted. Correctness only."""

from __future__ import annotations

import pytest

from pgserver import PgServer
from redisserver import RedisServer
from tertulia.bench import busstat
from tertulia.bench.report import markdown
from tertulia.bench.scenarios import SCENARIOS, NoProgress, Options, Result, spread
from tertulia.bench.targets import TargetError, open_target, parse_spec

pytestmark = pytest.mark.timeout(120)


def cluster_spec(redis_server: RedisServer, redis_url: str, pg_server: PgServer) -> str:
    postmaster = pg_server.processes()[0]
    return (
        f"spawn:cluster,nodes=2,bus={redis_url},store={pg_server.new_database()},"
        f"buspid={redis_server.pid},storepid={postmaster}"
    )


async def run(spec: str, scenario: str, **options: float) -> Result:
    target = await open_target(spec)
    try:
        assert len(target.pids) == 2
        result = await SCENARIOS[scenario](target, Options(**options), NoProgress())  # type: ignore[arg-type]
    finally:
        await target.stop()
    # Stopping the target stopped every node.
    assert [n.process.returncode for n in target.nodes if n.process is not None] == [0, 0]
    return result


def assert_cluster_run(result: Result) -> None:
    assert result.target == "cluster2"
    assert result.expected > 0 and result.delivered == result.expected
    assert (result.lost, result.duplicated, result.mangled) == (0, 0, 0)
    assert not result.stalled
    # Both nodes worked, and their CPU, the bus's and the store's make the server's.
    nodes = result.extra["node_cpu_s"]
    assert len(nodes) == 2 and min(nodes) > 0, nodes
    assert result.server_cpu_s is not None
    parts = sum(nodes) + result.extra["bus_cpu_s"] + result.extra["store_cpu_s"]
    assert result.server_cpu_s == pytest.approx(parts, abs=0.011)
    # Every message went onto the bus and came back to both nodes.
    assert result.bus_bytes_per_message is not None and result.bus_bytes_per_message > 0
    assert result.extra["bus_in_bytes"] > 0 and result.extra["bus_out_bytes"] > 0
    assert "| bus B/msg |" in markdown([result])


async def test_fanout_over_two_nodes(
    redis_server: RedisServer, redis_url: str, pg_server: PgServer
) -> None:
    spec = cluster_spec(redis_server, redis_url, pg_server)
    result = await run(spec, "fanout", clients=6, senders=2, messages=100)
    assert_cluster_run(result)
    assert result.expected == 2 * 100 * 5  # each message to everyone but its sender
    assert result.p50_ms is not None


async def test_latency_from_one_node_to_the_other(
    redis_server: RedisServer, redis_url: str, pg_server: PgServer
) -> None:
    spec = cluster_spec(redis_server, redis_url, pg_server)
    result = await run(spec, "latency", clients=6, senders=2, rate=200, duration=0.5)
    assert_cluster_run(result)
    assert result.senders * result.messages == 100
    assert result.p50_ms is not None and result.p99_ms is not None
    assert result.p50_ms <= result.p99_ms


def test_latency_keeps_senders_and_receivers_on_different_nodes() -> None:
    # Fan-out spreads everyone round-robin; latency puts the senders on the first node and
    # the receivers (the sampled ones among them) on the others.
    assert [spread(2)(i) for i in range(5)] == [0, 1, 0, 1, 0]
    assert [spread(3, 2, apart=True)(i) for i in range(7)] == [0, 0, 1, 2, 1, 2, 1]
    assert [spread(1, 2, apart=True)(i) for i in range(3)] == [0, 0, 0]


async def test_the_bus_reading_leaves_its_own_bytes_out(
    redis_server: RedisServer, redis_url: str
) -> None:
    first = await busstat.read(redis_url)
    second = await busstat.read(redis_url)
    third = await busstat.read(redis_url)
    assert first is not None and second is not None and third is not None
    assert busstat.between(first, second) == (0, 0)
    # Across two readings, the middle one's own bytes are the bus's traffic.
    assert busstat.between(first, third) == (second.asked, second.early + second.answer)
    assert await busstat.read("redis://127.0.0.1:1/0") is None


async def test_a_cluster_target_needs_its_bus_and_store() -> None:
    assert parse_spec("spawn:cluster,nodes=3,bus=redis://x,store=postgresql://y")[0] == "cluster3"
    assert parse_spec("spawn:cluster,wire=irc")[0] == "cluster2-irc"
    assert parse_spec("mine=spawn:cluster,nodes=3")[0] == "mine"
    with pytest.raises(TargetError, match="no bus or store"):
        await open_target("spawn:cluster,nodes=2")
    with pytest.raises(TargetError, match="bad spawn:cluster options"):
        await open_target("spawn:cluster,nodes=0,bus=redis://x,store=postgresql://y")
