"""The benchmark scenarios (fanout, latency, stall, idle, churn), bounded in count and time."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tertulia.bench import busstat, procstat
from tertulia.bench.accounting import SampleLog, make_payload, percentile, tally
from tertulia.bench.clients import BenchClient, connect
from tertulia.bench.targets import Target
from tertulia.bench.wire import SYNC

ROOM = "#lobby"
CONNECT_ATTEMPTS = 3


@dataclass(slots=True)
class Options:
    """What a run does. Defaults are the small figures of a quick look, not the published ones."""

    clients: int = 100
    senders: int = 10
    messages: int = 500
    size: int = 80
    window: int = 0  # messages in flight across all senders; 0 picks 8 per sender
    rate: float = 200.0
    duration: float = 10.0
    stuck: int = 1
    rooms: int = 1
    cycles: int = 10_000
    parallel: int = 100
    hold: float = 1.0
    sample: int = 5
    quiet: float = 15.0  # seconds without progress before a run is declared stalled

    @property
    def in_flight(self) -> int:
        return self.window or 8 * max(1, self.senders)


@dataclass(slots=True)
class Result:
    """One run against one target. `latencies_ms` feeds the plots and stays out of the JSON."""

    scenario: str
    target: str
    wire: str
    clients: int
    senders: int = 0
    messages: int = 0
    size: int = 0
    expected: int = 0
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    mangled: int = 0
    seconds: float = 0.0
    deliveries_per_s: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    connect_s: float | None = None
    connect_p50_ms: float | None = None
    connect_p99_ms: float | None = None
    server_cpu_s: float | None = None
    cpu_us_per_delivery: float | None = None
    rss_kb: int | None = None
    peak_rss_kb: int | None = None
    rss_per_client_kb: float | None = None
    # A cluster's: bytes into and out of its bus (Redis) per message sent, all the bus's
    # traffic meanwhile included (the nodes' beats and leases as well as the messages).
    bus_bytes_per_message: float | None = None
    stalled: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list, repr=False)


class Progress(Protocol):
    """Where a scenario shows how far it is; the bench's command line draws it with rich."""

    def phase(self, label: str, total: int, done: Callable[[], int]) -> None: ...


class NoProgress:
    def phase(self, label: str, total: int, done: Callable[[], int]) -> None:
        pass


@dataclass(frozen=True, slots=True)
class Reading:
    """The target's processes at one moment: CPU seconds of all of them, the servers'
    memory (summed over a cluster's nodes), and each part's CPU."""

    cpu_s: float
    rss_kb: int
    peak_rss_kb: int
    node_cpu_s: tuple[float, ...]
    bus_cpu_s: float | None = None
    store_cpu_s: float | None = None


class Meter:
    """The server's CPU and memory, when its process is known (spawned, or --server-pid),
    or every node's in a cluster; with `store_pid` and `bus_pid`, the CPU of the store's
    and the bus's processes too (a PostgreSQL and its backends, a Redis), so that moving
    work into the database or onto the bus does not make it look free."""

    def __init__(
        self, pids: Sequence[int], store_pid: int | None = None, bus_pid: int | None = None
    ) -> None:
        self.pids = list(pids)
        self.store_pid = store_pid
        self.bus_pid = bus_pid

    @classmethod
    def of(cls, target: Target) -> Meter:
        return cls(target.pids, target.store_pid, target.bus_pid)

    def read(self) -> Reading | None:
        if not self.pids:
            return None
        try:
            nodes = [procstat.usage(pid) for pid in self.pids]
            store = None if self.store_pid is None else procstat.tree_cpu(self.store_pid)
            bus = None if self.bus_pid is None else procstat.tree_cpu(self.bus_pid)
        except OSError:
            return None
        return Reading(
            cpu_s=sum(n.cpu_s for n in nodes) + (store or 0.0) + (bus or 0.0),
            rss_kb=sum(n.rss_kb for n in nodes),
            peak_rss_kb=sum(n.peak_rss_kb for n in nodes),
            node_cpu_s=tuple(n.cpu_s for n in nodes),
            bus_cpu_s=bus,
            store_cpu_s=store,
        )


# -- connecting ---------------------------------------------------------------------------


def _room(index: int, rooms: int) -> str:
    return ROOM if rooms <= 1 else f"#r{index % rooms}"


Place = Callable[[int], int]  # the node (of a cluster) that serves the i-th client of a run


def spread(nodes: int, senders: int = 0, apart: bool = False) -> Place:
    """Clients round-robin over a cluster's nodes; `apart`, the first `senders` on the first
    node and everyone else round-robin over the others, so that every delivery to a
    receiver has crossed the bus (a single server: everyone on it)."""
    if not apart or nodes < 2:
        return lambda i: i % nodes
    return lambda i: 0 if i < senders else 1 + (i - senders) % (nodes - 1)


async def connect_all(
    target: Target,
    count: int,
    opts: Options,
    progress: Progress,
    *,
    sampled: Sequence[int] = (),
    rooms: int = 1,
    rcvbuf: int | None = None,
    label: str = "connect",
    place: Place | None = None,
) -> tuple[list[BenchClient], list[float]]:
    """Connect and join `count` clients, `opts.parallel` at a time, each to the node `place`
    gives it (round-robin by default); returns them and their times."""
    node_of = place or spread(target.size)
    gate = asyncio.Semaphore(opts.parallel)
    first = target.take(count)
    times: list[float] = []
    want = set(sampled)

    retries = 0

    async def one(i: int) -> BenchClient:
        nonlocal retries
        async with gate:
            began = time.perf_counter()
            for attempt in range(CONNECT_ATTEMPTS):
                try:
                    client = await connect(
                        target, first + i, _room(i, rooms), i in want, rcvbuf, node_of(i)
                    )
                    break
                except OSError:
                    # A server with a short listen backlog drops some of a burst of
                    # connections; a real user would retry, so the bench does too.
                    if attempt == CONNECT_ATTEMPTS - 1:
                        raise
                    retries += 1
            times.append(time.perf_counter() - began)
            return client

    progress.phase(label, count, lambda: len(times))
    tasks: list[asyncio.Task[BenchClient]] = []
    # Joining a big room costs the server and the bench O(members) per join: allow for it.
    limit = max(60.0, count / 10)
    try:
        async with asyncio.timeout(limit), asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(i)) for i in range(count)]
    except BaseException as exc:
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is None:
                task.result().close()
        if isinstance(exc, TimeoutError):
            raise TimeoutError(
                f"{label}: {len(times)} of {count} clients joined within {limit:.0f} s"
            ) from exc
        if isinstance(exc, BaseExceptionGroup):
            # One line for the user: the first reason, not a tree of identical tracebacks.
            first_error = exc.exceptions[0]
            raise ConnectionError(
                f"{len(exc.exceptions)} of {count} clients could not join: {first_error}"
            ) from exc
        raise
    clients = [t.result() for t in tasks]
    if retries:
        target.retries += retries
    if target.wire.needs_sync:
        await _sync(target, clients)
    return clients, times


async def _sync(target: Target, clients: list[BenchClient]) -> None:
    # The original server says nothing on arrival: one relayed line, seen by everyone,
    # proves that its accept loop has every client in its list.
    _, writer = await asyncio.open_connection(target.host, target.port)
    writer.write(target.wire.say("sync", ROOM, SYNC.decode()))
    await writer.drain()
    try:
        async with asyncio.timeout(30):
            await asyncio.gather(*(c.joined for c in clients))
    finally:
        writer.close()


def close_all(clients: Sequence[BenchClient]) -> None:
    for client in clients:
        client.close()


# -- sending ------------------------------------------------------------------------------


@dataclass(slots=True)
class Flow:
    """Senders, receivers and the bookkeeping of one burst of messages."""

    senders: list[BenchClient]
    receivers: list[BenchClient]
    pacers: list[BenchClient]
    per_sender: int
    sent: int = 0
    began: float = 0.0
    ended: float = 0.0

    @property
    def total(self) -> int:
        return len(self.senders) * self.per_sender

    def arm(self) -> int:
        """Tell each receiver how many markers make it done; returns the total expected."""
        expected = 0
        sender_set = set(map(id, self.senders))
        for client in self.receivers:
            own = self.per_sender if id(client) in sender_set else 0
            client.expect = self.total - own
            expected += client.expect
            if client.expect == 0 and not client.done.done():
                client.done.set_result(None)  # a lone sender has nothing to wait for
        return expected


def _send(flow: Flow, count: int, size: int, batch: bool) -> None:
    """Send the next `count` messages, senders in turn, one write per sender when allowed."""
    nsend = len(flow.senders)
    pending: dict[int, list[bytes]] = {}
    wire = flow.senders[0].target.wire
    for _ in range(count):
        k = flow.sent
        s, seq = k % nsend, k // nsend
        sender = flow.senders[s]
        data = wire.say(sender.nick, sender.room, make_payload(s, seq, time.monotonic_ns(), size))
        if batch:
            pending.setdefault(s, []).append(data)
        else:
            sender.write(data)  # the original client writes each message on its own
        flow.sent += 1
    for s, parts in pending.items():
        flow.senders[s].write(b"".join(parts))


async def _wait_progress(wake: asyncio.Event, quiet: float) -> bool:
    try:
        async with asyncio.timeout(quiet):
            await wake.wait()
    except TimeoutError:
        return False
    return True


async def run_window(flow: Flow, opts: Options) -> bool:
    """Send everything as fast as a bounded in-flight window allows; False if it stalled."""
    wake = asyncio.Event()
    for client in flow.pacers:
        client.on_progress = wake.set
    batch = not flow.senders[0].target.wire.needs_sync
    window = opts.in_flight
    flow.began = time.perf_counter()
    try:
        while flow.sent < flow.total:
            # Cleared before looking, so progress that lands after the look still wakes us.
            wake.clear()
            low = min(c.received for c in flow.pacers)
            room_left = min(window - (flow.sent - low), flow.total - flow.sent)
            if room_left <= 0:
                if not await _wait_progress(wake, opts.quiet):
                    return False
                continue
            _send(flow, room_left, opts.size, batch)
            await asyncio.sleep(0)  # let the writes go out before looking at progress again
    finally:
        for client in flow.pacers:
            client.on_progress = None
    return True


async def run_rate(flow: Flow, opts: Options) -> None:
    """Send at a fixed aggregate rate; late ticks catch up in one batch instead of drifting."""
    loop = asyncio.get_running_loop()
    interval = 1.0 / opts.rate
    batch = not flow.senders[0].target.wire.needs_sync
    flow.began = time.perf_counter()
    start = loop.time()
    while flow.sent < flow.total:
        due = min(flow.total, int((loop.time() - start) / interval) + 1)
        if due > flow.sent:
            _send(flow, due - flow.sent, opts.size, batch)
        wait = start + flow.sent * interval - loop.time()
        await asyncio.sleep(max(0.0, wait))


async def await_delivery(flow: Flow, opts: Options) -> bool:
    """Wait until every receiver has everything, or until nothing moves for `opts.quiet`."""
    pending = [c.done for c in flow.receivers if not c.done.done()]
    last = -1
    while pending:
        _, still = await asyncio.wait(pending, timeout=opts.quiet)
        pending = list(still)
        now = sum(c.received for c in flow.receivers)
        if pending and now == last:
            flow.ended = time.perf_counter()
            return False
        last = now
    flow.ended = time.perf_counter()
    return True


# -- results ------------------------------------------------------------------------------


def _fill_delivery(result: Result, flow: Flow, samples: Sequence[BenchClient]) -> None:
    logs: list[SampleLog] = []
    sample_expected: list[set[tuple[int, int]]] = []
    index = {id(s): i for i, s in enumerate(flow.senders)}
    for client in samples:
        assert client.sample is not None
        logs.append(client.sample)
        own = index.get(id(client))
        sample_expected.append(
            {
                (s, seq)
                for s in range(len(flow.senders))
                if s != own
                for seq in range(flow.per_sender)
                if seq * len(flow.senders) + s < flow.sent
            }
        )
    expected = sum(c.expect for c in flow.receivers)
    counted = sum(c.received for c in flow.receivers)
    t = tally(expected, counted, logs, sample_expected)
    result.expected, result.delivered = t.expected, min(t.delivered, t.expected)
    result.lost, result.duplicated, result.mangled = t.lost, t.duplicated, t.mangled
    sampled_total = sum(len(e) for e in sample_expected)
    if sampled_total and (t.mangled or t.lost):
        # The samples saw every message as it arrived: their shares describe the whole run.
        sampled_lost = sum(s.lost(e) for s, e in zip(logs, sample_expected, strict=True))
        result.extra["sampled_lost_pct"] = round(100 * sampled_lost / sampled_total, 2)
        result.extra["sampled_mangled_pct"] = round(100 * t.mangled / sampled_total, 2)
    result.seconds = max(flow.ended - flow.began, 1e-9)
    result.deliveries_per_s = result.delivered / result.seconds
    latencies = sorted(ns / 1e6 for log in logs for ns in log.latencies_ns)
    result.latencies_ms = latencies
    if latencies:
        result.p50_ms = percentile(latencies, 50)
        result.p95_ms = percentile(latencies, 95)
        result.p99_ms = percentile(latencies, 99)
        result.max_ms = latencies[-1]


def _fill_connect(result: Result, times: Sequence[float], wall: float) -> None:
    ordered = sorted(t * 1000 for t in times)
    result.connect_s = wall
    result.connect_p50_ms = percentile(ordered, 50)
    result.connect_p99_ms = percentile(ordered, 99)


def _fill_cpu(
    result: Result, before: Reading | None, after: Reading | None, cluster: bool = False
) -> None:
    if before is None or after is None:
        return
    result.server_cpu_s = after.cpu_s - before.cpu_s
    if result.delivered:
        result.cpu_us_per_delivery = result.server_cpu_s / result.delivered * 1e6
    result.rss_kb, result.peak_rss_kb = after.rss_kb, after.peak_rss_kb
    if cluster:
        # Where a cluster's CPU went: each node, the bus and the store (when their
        # processes were given), all of it in server_cpu_s.
        pairs = zip(before.node_cpu_s, after.node_cpu_s, strict=True)
        result.extra["node_cpu_s"] = [round(b - a, 3) for a, b in pairs]
        if before.bus_cpu_s is not None and after.bus_cpu_s is not None:
            result.extra["bus_cpu_s"] = round(after.bus_cpu_s - before.bus_cpu_s, 3)
        if before.store_cpu_s is not None and after.store_cpu_s is not None:
            result.extra["store_cpu_s"] = round(after.store_cpu_s - before.store_cpu_s, 3)


def _fill_bus(
    result: Result, before: busstat.Traffic | None, after: busstat.Traffic | None, sent: int
) -> None:
    if before is None or after is None or not sent:
        return
    into, out = busstat.between(before, after)
    result.bus_bytes_per_message = (into + out) / sent
    result.extra["bus_in_bytes"], result.extra["bus_out_bytes"] = into, out


def _pick_samples(clients: int, senders: int, count: int) -> list[int]:
    # Samples are receivers only, spread over the non-senders, so they also pace the window.
    pool = list(range(senders, clients)) or list(range(clients))
    count = max(1, min(count, len(pool)))
    step = len(pool) / count
    return sorted({pool[int(i * step)] for i in range(count)})


# -- scenarios ----------------------------------------------------------------------------


async def _burst(
    target: Target,
    opts: Options,
    progress: Progress,
    result: Result,
    healthy: int,
    *,
    stuck: int = 0,
    rate: bool = False,
    apart: bool = False,
) -> tuple[Flow, list[BenchClient]]:
    """Connect, send a burst (windowed or at a rate), wait for it: the body of most scenarios.

    On a cluster, clients go round-robin over the nodes; `apart`, the senders on one node
    and the receivers on the others.
    """
    meter = Meter.of(target)
    senders = max(1, min(opts.senders, healthy))
    sampled = _pick_samples(healthy, senders, opts.sample)
    place = spread(target.size, senders, apart)
    began = time.perf_counter()
    clients, times = await connect_all(
        target, healthy, opts, progress, sampled=sampled, place=place
    )
    _fill_connect(result, times, time.perf_counter() - began)
    frozen: list[BenchClient] = []
    if stuck:
        frozen, _ = await connect_all(target, stuck, opts, progress, rcvbuf=4096, label="stuck")
        for client in frozen:
            assert client.transport is not None
            client.transport.pause_reading()
    per_sender = opts.messages
    if rate:
        per_sender = max(1, math.ceil(opts.rate * opts.duration / senders))
    flow = Flow(clients[:senders], clients, [clients[i] for i in sampled], per_sender)
    flow.arm()
    progress.phase(
        "deliver", sum(c.expect for c in clients), lambda: sum(c.received for c in clients)
    )
    # The bus is weighed around the CPU's window, so that asking it costs nothing counted.
    bus_before = await busstat.read(target.bus) if target.bus else None
    before = meter.read()
    if rate:
        await run_rate(flow, opts)
        completed = True
    else:
        completed = await run_window(flow, opts)
    completed = await await_delivery(flow, opts) and completed
    after = meter.read()
    bus_after = await busstat.read(target.bus) if target.bus else None
    result.senders, result.messages, result.size = senders, per_sender, opts.size
    result.stalled = not completed
    _fill_delivery(result, flow, [clients[i] for i in sampled])
    _fill_cpu(result, before, after, cluster=bool(target.nodes))
    _fill_bus(result, bus_before, bus_after, flow.sent)
    return flow, frozen


async def fanout(target: Target, opts: Options, progress: Progress) -> Result:
    result = Result("fanout", target.name, target.wire.name, opts.clients)
    flow, _ = await _burst(target, opts, progress, result, opts.clients)
    close_all(flow.receivers)
    return result


async def latency(target: Target, opts: Options, progress: Progress) -> Result:
    result = Result("latency", target.name, target.wire.name, opts.clients)
    # On a cluster, every latency sampled is a message's trip from one node to another.
    flow, _ = await _burst(target, opts, progress, result, opts.clients, rate=True, apart=True)
    result.extra["rate"] = opts.rate
    close_all(flow.receivers)
    return result


async def stall(target: Target, opts: Options, progress: Progress) -> Result:
    """The same burst without, then with, clients that never read; healthy ones must not care."""
    stuck = max(1, opts.stuck)
    healthy = max(1, opts.clients - stuck)
    reference = Result("fanout", target.name, target.wire.name, healthy)
    flow, _ = await _burst(target, opts, progress, reference, healthy)
    close_all(flow.receivers)
    result = Result("stall", target.name, target.wire.name, healthy + stuck)
    flow, frozen = await _burst(target, opts, progress, result, healthy, stuck=stuck)
    dropped = await _dropped(frozen)
    close_all(flow.receivers + frozen)
    ratio = result.deliveries_per_s / reference.deliveries_per_s if reference.delivered else 0.0
    result.extra.update(
        {
            "stuck": stuck,
            "stuck_disconnected": dropped,
            "no_stall_deliveries_per_s": round(reference.deliveries_per_s),
            "throughput_ratio": round(ratio, 3),
        }
    )
    return result


async def _dropped(frozen: Sequence[BenchClient]) -> int:
    # A stuck client learns it was dropped only when it reads again: drain it and see
    # whether the server closed it, instead of whether it is still being fed.
    for client in frozen:
        if client.transport is not None and not client.transport.is_closing():
            client.transport.resume_reading()
    # asyncio.wait, unlike a timeout around an await, never cancels the futures it watches.
    await asyncio.wait([c.closed for c in frozen], timeout=10)
    return sum(1 for c in frozen if c.closed.done())


async def idle(target: Target, opts: Options, progress: Progress) -> Result:
    """Connect and join everyone, hold, and weigh what each idle client costs the server."""
    result = Result("idle", target.name, target.wire.name, opts.clients)
    meter = Meter.of(target)
    before = meter.read()
    began = time.perf_counter()
    clients, times = await connect_all(target, opts.clients, opts, progress, rooms=opts.rooms)
    _fill_connect(result, times, time.perf_counter() - began)
    await asyncio.sleep(opts.hold)  # holding idle is what this scenario measures
    after = meter.read()
    if before is not None and after is not None:
        result.server_cpu_s = after.cpu_s - before.cpu_s
        result.rss_kb, result.peak_rss_kb = after.rss_kb, after.peak_rss_kb
        result.rss_per_client_kb = (after.rss_kb - before.rss_kb) / opts.clients
        result.extra["rss_at_start_kb"] = before.rss_kb
    result.extra["rooms"] = opts.rooms
    result.extra["closed_by_server"] = sum(1 for c in clients if c.lost_connection)
    close_all(clients)
    return result


async def churn(target: Target, opts: Options, progress: Progress) -> Result:
    """Connect, join and leave `cycles` times with a few residents watching: memory stays flat."""
    result = Result("churn", target.name, target.wire.name, opts.clients)
    meter = Meter.of(target)
    residents, _ = await connect_all(target, opts.clients, opts, progress, label="residents")
    done = 0
    failures = 0
    first_mark = max(1, opts.cycles // 10)
    marks: dict[str, Reading | None] = {}
    next_index = target.take(opts.cycles)
    last_index = next_index + opts.cycles
    checkpoint = asyncio.Event()
    progress.phase("churn", opts.cycles, lambda: done)

    async def worker() -> None:
        nonlocal done, failures, next_index
        while next_index < last_index:
            index = next_index
            next_index += 1
            try:
                await _cycle(target, index)
            except (OSError, TimeoutError):
                failures += 1
            done += 1
            if done == first_mark:
                checkpoint.set()

    began = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(min(opts.parallel, opts.cycles)):
            group.create_task(worker())
        group.create_task(_mark_at(checkpoint, marks, meter))
    result.seconds = time.perf_counter() - began
    await asyncio.sleep(opts.hold)  # let the server finish the last closes before weighing it
    end = meter.read()
    first = marks.get("first")
    if first is not None and end is not None:
        result.rss_kb, result.peak_rss_kb = end.rss_kb, end.peak_rss_kb
        result.extra["rss_first_kb"] = first.rss_kb
        result.extra["rss_growth_pct"] = round((end.rss_kb - first.rss_kb) / first.rss_kb * 100, 2)
    result.extra.update(
        {"cycles": opts.cycles, "failures": failures, "cycles_per_s": round(done / result.seconds)}
    )
    result.extra["residents_dropped"] = sum(1 for c in residents if c.lost_connection)
    close_all(residents)
    return result


async def _mark_at(
    checkpoint: asyncio.Event, marks: dict[str, Reading | None], meter: Meter
) -> None:
    await checkpoint.wait()
    marks["first"] = meter.read()


async def _cycle(target: Target, index: int) -> None:
    async with asyncio.timeout(30):
        client = await connect(target, index, ROOM, node=index % target.size)
        if target.wire.needs_sync:
            client.joined.cancel()
        client.write(target.wire.quit(client.nick))
        _, pending = await asyncio.wait([client.closed], timeout=5)
        if pending:
            client.close()
            await client.closed


Scenario = Callable[[Target, Options, Progress], Awaitable[Result]]
SCENARIOS: dict[str, Scenario] = {
    "fanout": fanout,
    "latency": latency,
    "stall": stall,
    "idle": idle,
    "churn": churn,
}
