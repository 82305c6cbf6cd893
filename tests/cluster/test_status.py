"""`tertulia cluster status` as an operator runs it: a subprocess reading a real Redis."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from typing import Any

import pytest

from chatclient import LineClient
from cluster.conftest import Nodes
from tertulia.bus import from_url

DEADLINE = 20.0  # seconds for the nodes' next heartbeats to reach Redis


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERTULIA_")}
    env.update({"LANG": "C.UTF-8", "LC_ALL": "", "LANGUAGE": ""}, **extra)
    return env


async def status(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tertulia", "cluster", "status", *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env or _env(),
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def status_json(url: str) -> dict[str, Any]:
    code, out, err = await status("--cluster", url, "--json")
    assert code == 0, err
    assert err == ""
    found: dict[str, Any] = json.loads(out)
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_two_nodes_and_their_one_client(nodes: Nodes, redis_url: str) -> None:
    # A short lease: the nodes tell Redis of themselves every half second.
    one, two = await nodes(2, cluster_lease=1.5)
    ana = await LineClient.connect(one.port, "ana")
    # Each node writes its client count at its heartbeat: ask until Redis has the new one.
    async with asyncio.timeout(DEADLINE):
        while True:
            found = await status_json(redis_url)
            if sum(node["clients"] for node in found["nodes"]) == 1:
                break
    assert [node["node"] for node in found["nodes"]] == ["n1", "n2"]
    assert found["lost"] == []
    n1, n2 = found["nodes"]
    assert (n1["clients"], n2["clients"]) == (1, 0)
    assert f"127.0.0.1:{one.port}" in n1["addresses"]
    assert f"127.0.0.1:{two.port}" in n2["addresses"]
    assert n1["pid"] == n2["pid"] == os.getpid()  # the nodes run in this process
    assert 0 <= n1["age"] < DEADLINE

    code, out, err = await status("--cluster", redis_url)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["NODE", "HOST"]
    assert [line.split()[0] for line in lines[1:3]] == ["n1", "n2"]
    assert f"127.0.0.1:{one.port}" in lines[1]
    assert lines[-1] == "nodes: 2, clients: 1"
    await ana.close()


async def test_a_node_whose_lease_lapsed_is_lost(redis_url: str) -> None:
    bus = from_url(redis_url)
    await bus.open()
    info = {
        "node": "n1", "pid": 4321, "host": "alpha", "clients": 3, "connections": 5,
        "lag": 0.0123, "facts_out": 7, "facts_in": 9, "addresses": ["10.0.0.1:5000"],
        "at": time.time(),
    }  # fmt: skip
    await bus.beat("n1", json.dumps(info).encode(), 60)
    await bus.beat("n9", b"{}", 0.001)  # its lease lapses at once; nobody forgets it
    async with asyncio.timeout(DEADLINE):
        # Redis expires the key on its own clock, with no event to wait on.
        while "n9" in await bus.nodes():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    await bus.close()

    found = await status_json(redis_url)
    assert [node["node"] for node in found["nodes"]] == ["n1"]
    assert found["nodes"][0]["clients"] == 3
    assert found["lost"] == ["n9"]

    # Through TERTULIA_CLUSTER, as the server takes it.
    code, out, err = await status(env=_env(TERTULIA_CLUSTER=redis_url))
    assert (code, err) == (0, "")
    heading, row, lost, summary = out.splitlines()
    assert heading.split() == [
        "NODE", "HOST", "PID", "CLIENTS", "CONNECTIONS", "LAG", "MS", "FACTS", "OUT/IN", "BEAT",
        "S", "AGO", "ADDRESSES",
    ]  # fmt: skip
    cells = row.split()
    assert cells[:7] == ["n1", "alpha", "4321", "3", "5", "12.3", "7/9"]
    assert 0 <= float(cells[7]) < DEADLINE  # seconds since its heartbeat
    assert row.endswith("10.0.0.1:5000")
    assert lost.startswith("n9: lost")
    assert summary == "nodes: 1, clients: 3, lost: 1"


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ((), {}, "tertulia: cannot reach the cluster at redis://127.0.0.1:{port}/0: "),
        (
            ("--lang", "es"),
            {},
            "tertulia: no se puede alcanzar el clúster en redis://127.0.0.1:{port}/0: ",
        ),
        (
            (),
            {"LANG": "es_ES.UTF-8"},
            "tertulia: no se puede alcanzar el clúster en redis://127.0.0.1:{port}/0: ",
        ),
    ],
    ids=["english", "lang-flag", "locale"],
)
async def test_an_unreachable_cluster_is_one_line(
    args: tuple[str, ...], env: dict[str, str], expected: str
) -> None:
    port = _free_port()
    url = f"redis://:s3cr3t-pw@127.0.0.1:{port}/0"
    code, out, err = await status("--cluster", url, *args, env=_env(**env))
    assert code == 1
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith(expected.format(port=port)), err
    assert "Traceback" not in err
    assert "s3cr3t" not in err
