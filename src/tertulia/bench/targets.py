"""Targets: a server to measure, given by address or started by the bench itself."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tertulia.bench.wire import WIRES, Wire

# The web door says its address as a URL: http://127.0.0.1:8080/.
_LISTENING = re.compile(rb"listening on (?:https?://)?[\d.]+:(\d+)")
NGIRCD = "/usr/sbin/ngircd"


@dataclass(slots=True)
class Target:
    """A server under test. `process` is set when the bench started it."""

    name: str
    wire: Wire
    host: str
    port: int
    pid: int | None = None
    process: asyncio.subprocess.Process | None = None
    workdir: tempfile.TemporaryDirectory[str] | None = None
    issued: int = 0
    retries: int = 0  # connections the bench had to open again
    store_pid: int | None = None  # the store's server, whose CPU counts with this one's
    # A cluster: its nodes (each a spawned tertulia), the bus that links them (a Redis URL,
    # whose traffic is weighed per message) and the bus's process, counted like the store's.
    nodes: list[Target] = field(default_factory=list)
    bus: str | None = None
    bus_pid: int | None = None

    @property
    def pids(self) -> list[int]:
        """The server processes whose CPU and memory are the target's: every node's."""
        if self.nodes:
            return [node.pid for node in self.nodes if node.pid is not None]
        return [] if self.pid is None else [self.pid]

    @property
    def size(self) -> int:
        """How many servers clients can be spread over: a cluster's nodes, or this one."""
        return len(self.nodes) or 1

    def port_of(self, node: int) -> int:
        """The port of the `node`-th server (counted round the nodes)."""
        return self.nodes[node % len(self.nodes)].port if self.nodes else self.port

    def take(self, count: int) -> int:
        """The first of `count` client numbers never used on this target, so nicks never clash
        with those of a previous run whose departures the server may still be handling."""
        first = self.issued
        self.issued += count
        return first

    async def stop(self) -> None:
        for node in self.nodes:
            await node.stop()
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self.workdir is not None:
            self.workdir.cleanup()


class TargetError(Exception):
    pass


def parse_spec(spec: str) -> tuple[str, str, dict[str, str]]:
    """`[name=]URL[,opt=value...]`, URL being `plain://h:p`, `json://`, `irc://` or `spawn:KIND`.

    Options: `pid=N` (an address target's server process), `history=off` (a spawned
    tertulia without history), `store=URL` (a spawned tertulia's store, e.g. a scratch
    PostgreSQL database), `storepid=N` (that store's server process, whose CPU and its
    children's is counted with the server's), `path=` (the original baseline's file).

    `spawn:cluster` starts `nodes=N` tertulias (2 by default) linked by `bus=redis://...`
    and sharing `store=postgresql://...` (both required); `buspid=N` is the bus's process,
    counted like `storepid=`, and `wire=json|irc|web` the door the clients use (plain).
    """
    name = ""
    if "=" in spec.split(",")[0] and "://" not in spec.split("=")[0]:
        name, spec = spec.split("=", 1)
    url, *opts = spec.split(",")
    options = dict(o.split("=", 1) for o in opts if "=" in o)
    if not name and url == "spawn:cluster":
        wire = options.get("wire", "plain")
        name = f"cluster{options.get('nodes', CLUSTER_NODES)}" + (
            "" if wire == "plain" else f"-{wire}"
        )
    return name or SPAWN_NAMES.get(url, url), url, options


SPAWN_NAMES = {
    "spawn:plain": "tertulia",
    "spawn:json": "tertulia-json",
    "spawn:irc": "tertulia-irc",
    "spawn:web": "tertulia-web",
    "spawn:ngircd": "ngircd",
    "spawn:original": "original",
}
CLUSTER_NODES = 2  # nodes of a spawn:cluster that does not say
# The baseline lives in the repository, beside src/; found from there or the working directory.
BASELINE = Path("bench") / "original_server.py"


def _baseline_path(option: str | None) -> Path:
    if option:
        return Path(option)
    here = Path(__file__).resolve().parents[3] / BASELINE
    return BASELINE if BASELINE.exists() or not here.exists() else here


async def open_target(spec: str, extra_args: tuple[str, ...] = ()) -> Target:
    name, url, options = parse_spec(spec)
    pid = int(options["pid"]) if "pid" in options else None
    if url.startswith("spawn:"):
        kind = url.removeprefix("spawn:")
        if kind in ("plain", "json", "irc", "web"):
            history = options.get("history", "on") not in ("off", "no", "0", "false")
            store = ("--store", options["store"]) if "store" in options else ()
            target = await spawn_tertulia(name, WIRES[kind], (*store, *extra_args), history)
            target.store_pid = int(options["storepid"]) if "storepid" in options else None
            return target
        if kind == "original":
            return await spawn_original(name, _baseline_path(options.get("path")))
        if kind == "ngircd":
            return await spawn_ngircd(name)
        if kind == "cluster":
            return await spawn_cluster(name, options, extra_args)
        raise TargetError(
            f"unknown spawn kind {kind!r}: plain, json, irc, web, cluster, original or ngircd"
        )
    match = re.fullmatch(r"(plain|json|irc|web|original)://([\d.]+|localhost):(\d+)", url)
    if match is None:
        raise TargetError(
            f"bad target {url!r}: expected plain://HOST:PORT, json://, irc:// or spawn:KIND"
        )
    kind, host, port = match.groups()
    if host not in ("127.0.0.1", "localhost"):
        raise TargetError("the bench only targets 127.0.0.1")
    store_pid = int(options["storepid"]) if "storepid" in options else None
    return Target(name, WIRES[kind], "127.0.0.1", int(port), pid, store_pid=store_pid)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def spawn_tertulia(
    name: str, wire: Wire, extra: tuple[str, ...], history: bool = True
) -> Target:
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "", "LANGUAGE": ""}
    env = {k: v for k, v in env.items() if not k.startswith("TERTULIA_")}
    # The IRC door is opened (on a free port) only when it is the door being measured.
    doors: tuple[str, ...] = ("--irc-port", "0") if wire.name == "irc" else ("--no-irc",)
    doors += ("--web-port", "0") if wire.name == "web" else ("--no-web",)
    # A fresh history for each run, never the user's own.
    workdir = tempfile.TemporaryDirectory(prefix="tertulia-bench-")
    # History on means every message is committed before delivery, as in production; the
    # replay on joining is off, since the bench's clients would count replayed lines twice.
    store = ("--data-dir", workdir.name, "--history-replay", "0") if history else ("--no-history",)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tertulia", "serve", "--port", "0", *doors, *store,
        "--lang", "en", "--log-level", "warning", "--max-clients", "100000", *extra,
        stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    door = {"irc": b"irc door", "web": b"web door"}.get(wire.name, b"plain door")
    line = b""
    while door not in line:
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        if not line:
            break
    match = _LISTENING.search(line)
    if match is None:
        process.kill()
        workdir.cleanup()
        raise TargetError(f"tertulia did not start: {line!r}")
    return Target(name, wire, "127.0.0.1", int(match.group(1)), process.pid, process, workdir)


async def spawn_cluster(name: str, options: dict[str, str], extra: tuple[str, ...]) -> Target:
    """`nodes=N` tertulias on one bus and one store, started one after the other (each
    sets up the shared store before the next opens it), each in a data directory of its own."""
    missing = [key for key in ("bus", "store") if key not in options]
    if missing:
        raise TargetError(
            "spawn:cluster needs bus=redis://HOST:PORT/DB and store=postgresql://...: "
            f"no {' or '.join(missing)}"
        )
    wire = WIRES.get(options.get("wire", "plain"))
    count = options.get("nodes", str(CLUSTER_NODES))
    if wire is None or wire.name == "original" or not count.isdigit() or int(count) < 1:
        raise TargetError(f"bad spawn:cluster options: nodes={count}, wire={options.get('wire')}")
    bus, store = options["bus"], options["store"]
    nodes: list[Target] = []
    try:
        for k in range(1, int(count) + 1):
            node = ("--cluster", bus, "--store", store, "--node", f"bench{k}")
            nodes.append(await spawn_tertulia(f"{name}/{k}", wire, (*node, *extra)))
    except BaseException:
        for started in nodes:
            await started.stop()
        raise
    first = nodes[0]
    return Target(
        name, wire, first.host, first.port, nodes=nodes, bus=bus,
        bus_pid=int(options["buspid"]) if "buspid" in options else None,
        store_pid=int(options["storepid"]) if "storepid" in options else None,
    )  # fmt: skip


def _check_baseline(path: Path) -> None:
    if not path.exists():
        raise TargetError(f"no baseline at {path}: run from the repository or pass path=")


def ngircd_binary() -> str | None:
    return shutil.which("ngircd") or (NGIRCD if os.path.exists(NGIRCD) else None)


async def spawn_original(name: str, path: Path) -> Target:
    _check_baseline(path)
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(path), "--port", str(port), stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    if b"listening" not in line:
        process.kill()
        raise TargetError(f"baseline did not start: {line!r}")
    return Target(name, WIRES["original"], "127.0.0.1", port, process.pid, process)


NGIRCD_CONF = """[Global]
  Name = bench.ngircd
  Info = benchmark peer
  AdminInfo1 = bench
  AdminInfo2 = bench
  AdminEMail = bench@localhost
  Listen = 127.0.0.1
  Ports = {port}
  MotdPhrase = "bench"
  PidFile = {dir}/ngircd.pid
  ServerUID = {uid}
  ServerGID = {gid}
[Limits]
  MaxConnections = 0
  MaxConnectionsIP = 0
  MaxJoins = 0
  MaxPenaltyTime = 0
  PingTimeout = 600
  PongTimeout = 600
[Options]
  DNS = no
  Ident = no
  PAM = no
"""


async def spawn_ngircd(name: str) -> Target:
    """Debian's ngIRCd on loopback with penalties and limits off: a fair C peer."""
    binary = ngircd_binary()
    if binary is None:
        raise TargetError("ngircd is not installed: apt-get install -y ngircd")
    workdir = tempfile.TemporaryDirectory(prefix="ngircd-bench-")
    os.chmod(workdir.name, 0o755)
    port = _free_port()
    conf = Path(workdir.name) / "ngircd.conf"
    uid, gid = ("irc", "irc") if os.geteuid() == 0 else (str(os.getuid()), str(os.getgid()))
    conf.write_text(NGIRCD_CONF.format(port=port, dir=workdir.name, uid=uid, gid=gid))
    with contextlib.suppress(ValueError, OSError):
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536))
    process = await asyncio.create_subprocess_exec(
        binary, "-n", "-f", str(conf),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            if process.returncode is not None:
                raise TargetError("ngircd exited at start") from None
            await asyncio.sleep(0.05)  # polling a port that has no event to wait on
    else:
        process.kill()
        raise TargetError("ngircd did not open its port")
    return Target(name, WIRES["irc"], "127.0.0.1", port, process.pid, process, workdir)
