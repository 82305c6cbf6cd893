"""What the server counts, and how /metrics (Prometheus) and /healthz show it."""

from __future__ import annotations

import asyncio
import json
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

from tertulia import __version__
from tertulia.core.session import Door

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from tertulia.core.hub import Hub

DOORS = tuple(Door)

# From receiving a message to its last recipient's write: sub-millisecond when all is well.
FANOUT_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
)  # fmt: skip


class Stats:
    """Plain integers bumped on the hot paths; read only when someone scrapes.

    prometheus-client's own counters take a lock per increment; a fan-out to thousands of
    recipients should not pay that, so the counters live here and a collector reads them.
    """

    __slots__ = (
        "_hub",
        "_loop",
        "_pending",
        "bus_failures",
        "bus_up",
        "bytes_in",
        "bytes_out",
        "cluster",
        "commits",
        "connections",
        "errors",
        "fanout_counts",
        "fanout_sum",
        "indexed",
        "largest_write",
        "messages_in",
        "node",
        "read_at",
        "read_door",
        "registry",
        "slow_consumers",
        "started",
        "store_failures",
        "store_up",
        "stored",
        "writes",
    )  # fmt: skip

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self.started = time.time()
        self.connections: Counter[str] = Counter()
        self.bytes_in: Counter[str] = Counter()
        self.bytes_out: Counter[str] = Counter()
        self.writes: Counter[str] = Counter()  # writes handed to the kernel
        self.messages_in: Counter[str] = Counter()
        self.slow_consumers: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.largest_write = 0  # bytes of the largest single write to one client
        self.commits = 0  # history transactions
        self.stored = 0  # messages they stored
        self.indexed = 0  # messages indexed for search since the start
        # Whether the store took the last write or answered the last probe (None: the
        # server keeps no history), and how many store calls have failed.
        self.store_up: bool | None = None
        self.store_failures = 0
        # The same for the cluster's bus (None: not in a cluster), and this node's name.
        self.bus_up: bool | None = None
        self.bus_failures = 0
        self.node = ""
        # The cluster's own figures, read when scraped: facts out and in, bytes out, lag
        # (seconds), nodes alive. None when not in a cluster.
        self.cluster: Callable[[], dict[str, float]] | None = None
        # The connection whose bytes are being handled now, and when they arrived: the
        # history gate reads them to count and time each message without the core knowing.
        self.read_at = 0.0
        self.read_door = Door.PLAIN
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[float] = []
        # The fan-out histogram, counted here rather than by prometheus-client's Histogram,
        # whose observe() takes a lock for every message: one count per bucket (the last
        # for +Inf) and the sum, turned into cumulative buckets when scraped.
        self.fanout_counts = [0] * (len(FANOUT_BUCKETS) + 1)
        self.fanout_sum = 0.0
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_Labelled(self, _Collector(self, hub)))
        self.registry.register(_Labelled(self, ProcessCollector(registry=None)))

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def reading(self, door: Door) -> None:
        self.read_at = time.perf_counter()
        self.read_door = door

    def metrics(self) -> bytes:
        return generate_latest(self.registry)

    def health(self) -> bytes:
        # Degraded, not down: the server goes on relaying what it can while its store is
        # away (a message it cannot store is refused with a reason), and comes back by
        # itself; an orchestrator should not restart it for that.
        body: dict[str, object] = {
            "status": "degraded" if False in (self.store_up, self.bus_up) else "ok",
            "store": {None: "none", True: "ok", False: "unavailable"}[self.store_up],
            "bus": {None: "none", True: "ok", False: "unavailable"}[self.bus_up],
            "version": __version__,
            "uptime": round(time.time() - self.started, 3),
            "connections": {door: self.connections[door] for door in DOORS},
        }
        if self.node:
            body["node"] = self.node
        return json.dumps(body, separators=(",", ":")).encode()

    # -- timing the fan-out ---------------------------------------------------------------

    def sent(self, started: float) -> None:
        """A message read at `started` has just been handed to every recipient."""
        if self._loop is None:
            return
        # Writes are coalesced and flushed by a callback the first delivery scheduled; one
        # scheduled after the fan-out runs after that flush, when every recipient's bytes
        # have reached its socket.
        if not self._pending:
            self._loop.call_soon(self._flushed)
        self._pending.append(started)

    def _flushed(self) -> None:
        now = time.perf_counter()
        pending, self._pending = self._pending, []
        counts = self.fanout_counts
        for started in pending:
            took = now - started
            counts[bisect_left(FANOUT_BUCKETS, took)] += 1  # le: a bound counts as within
            self.fanout_sum += took


class _Labelled(Collector):
    """Another collector's metrics, with a `node` label in a cluster, so that one
    Prometheus can tell the nodes apart whatever its scrape configuration adds."""

    def __init__(self, stats: Stats, collector: Collector) -> None:
        self._stats = stats
        self._collector = collector

    def collect(self) -> Iterator[Metric]:
        node = self._stats.node
        for metric in self._collector.collect():
            if node:
                metric.samples = [
                    s._replace(labels={**s.labels, "node": node}) for s in metric.samples
                ]
            yield metric


class _Collector(Collector):
    def __init__(self, stats: Stats, hub: Hub) -> None:
        self._stats = stats
        self._hub = hub

    def collect(self) -> Iterator[Metric]:
        s, hub = self._stats, self._hub
        yield _by_door(
            GaugeMetricFamily("tertulia_connections", "Open connections", labels=["door"]),
            s.connections,
        )
        yield GaugeMetricFamily("tertulia_rooms", "Rooms that exist now", value=len(hub.rooms))
        yield GaugeMetricFamily("tertulia_users", "Sessions with a nick", value=len(hub.sessions))
        yield _by_door(
            CounterMetricFamily(
                "tertulia_messages_received", "Messages accepted from clients", labels=["door"]
            ),
            s.messages_in,
        )
        yield CounterMetricFamily(
            "tertulia_messages_sent",
            "Messages handed to recipients (one per recipient)",
            value=hub.messages_delivered,
        )
        yield CounterMetricFamily(
            "tertulia_events_sent",
            "Events of every kind handed to recipients (messages, joins, notices...)",
            value=hub.delivered,
        )
        yield _by_door(
            CounterMetricFamily("tertulia_received_bytes", "Bytes read", labels=["door"]),
            s.bytes_in,
        )
        yield _by_door(
            CounterMetricFamily("tertulia_sent_bytes", "Bytes written", labels=["door"]),
            s.bytes_out,
        )
        yield _by_door(
            CounterMetricFamily(
                "tertulia_writes",
                "Writes to clients' sockets (over events sent: how well they coalesce)",
                labels=["door"],
            ),
            s.writes,
        )
        yield _by_door(
            CounterMetricFamily(
                "tertulia_slow_consumers",
                "Clients dropped for not reading what they were sent",
                labels=["door"],
            ),
            s.slow_consumers,
        )
        yield CounterMetricFamily(
            "tertulia_history_commits", "History transactions committed", value=s.commits
        )
        yield CounterMetricFamily(
            "tertulia_history_stored",
            "Messages stored in history (over commits: the group-commit batch size)",
            value=s.stored,
        )
        yield CounterMetricFamily(
            "tertulia_history_indexed",
            "Messages indexed for search (behind stored by at most a second's worth)",
            value=s.indexed,
        )
        cumulative, buckets = 0, []
        for bound, count in zip((*FANOUT_BUCKETS, float("inf")), s.fanout_counts, strict=True):
            cumulative += count
            buckets.append((str(bound) if bound != float("inf") else "+Inf", cumulative))
        yield HistogramMetricFamily(
            "tertulia_fanout_seconds",
            "Time from reading a message to writing it to its last recipient",
            buckets=buckets,
            sum_value=s.fanout_sum,
        )
        yield GaugeMetricFamily(
            "tertulia_largest_write_bytes",
            "The largest single write to one client (bounded: a big history batch is "
            "written out in pieces, so no stalled client holds more than its bound)",
            value=s.largest_write,
        )
        yield CounterMetricFamily(
            "tertulia_encode_failures",
            "Events a wire format could not encode (its recipients missed them; logged)",
            value=hub.encode_failures,
        )
        errors = CounterMetricFamily(
            "tertulia_errors", "Errors sent to clients, by kind", labels=["kind"]
        )
        for kind, count in sorted(s.errors.items()):
            errors.add_metric([kind], count)
        yield errors
        if s.store_up is not None:
            yield GaugeMetricFamily(
                "tertulia_store_up",
                "1 while the history store takes writes and answers, 0 while it is away",
                value=int(s.store_up),
            )
            yield CounterMetricFamily(
                "tertulia_store_failures",
                "Store calls that failed (writes, reads, probes): the store was away or broken",
                value=s.store_failures,
            )
        if s.bus_up is not None:
            yield GaugeMetricFamily(
                "tertulia_bus_up",
                "1 while the cluster's bus (Redis) answers, 0 while it is away",
                value=int(s.bus_up),
            )
            yield CounterMetricFamily(
                "tertulia_bus_failures",
                "Times the cluster's bus was found away",
                value=s.bus_failures,
            )
        if s.cluster is not None:
            figures = s.cluster()
            yield GaugeMetricFamily(
                "tertulia_cluster_nodes", "Nodes alive in the cluster, this one included",
                value=figures["nodes"],
            )  # fmt: skip
            yield GaugeMetricFamily(
                "tertulia_bus_lag_seconds",
                "From another node's writing a fact to this node's reading it, lately",
                value=figures["lag"],
            )
            yield CounterMetricFamily(
                "tertulia_bus_facts_sent", "Facts this node put on the bus", value=figures["out"]
            )
            yield CounterMetricFamily(
                "tertulia_bus_facts_received",
                "Other nodes' facts this node read and applied",
                value=figures["in"],
            )
            yield CounterMetricFamily(
                "tertulia_bus_sent_bytes", "Bytes of facts this node put on the bus",
                value=figures["bytes"],
            )  # fmt: skip


def _by_door(family: GaugeMetricFamily | CounterMetricFamily, counts: Counter[str]) -> Metric:
    for door in DOORS:
        family.add_metric([door], counts[door])
    return family
