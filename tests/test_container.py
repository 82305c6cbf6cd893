"""packaging/container, checked without running a container: the Containerfile's user,
volume, ports and healthcheck (run against a real server), and the compose cluster with its
load balancer read as files (compose.yaml with a small reader of the YAML it keeps to)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from served import serving
from tertulia.cli import build_parser
from tertulia.config import Settings

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "packaging" / "container"
DEFAULTS = Settings()
PORTS = {"plain": DEFAULTS.port, "irc": DEFAULTS.irc_port, "web": DEFAULTS.web_port}


# -- the Containerfile --------------------------------------------------------------------


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments left out."""
    found: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        word, _, rest = (pending + line).partition(" ")
        found.append((word.upper(), rest.strip()))
        pending = ""
    assert not pending, "a continuation line ends the file"
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions(HERE / "Containerfile")
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def one(steps: list[tuple[str, str]], word: str) -> str:
    found = [args for w, args in steps if w == word]
    assert len(found) == 1, f"{word}: {found}"
    return found[0]


def test_the_image_is_python_slim_and_runs_as_no_root() -> None:
    steps = instructions(HERE / "Containerfile")
    assert {args.split()[0] for word, args in steps if word == "FROM"} == {"python:3.11-slim"}
    user = one(final_stage(), "USER").split(":")[0]
    assert user not in ("root", "0") and user.isdigit() and int(user) >= 1000


def test_the_data_directory_is_a_volume_tertulia_writes_to() -> None:
    steps = final_stage()
    assert one(steps, "VOLUME") == "/data"
    assert one(steps, "ENV") == "TERTULIA_DATA_DIR=/data"
    setup = " ".join(args for word, args in steps if word == "RUN")
    assert "chown tertulia:tertulia /data" in setup


def test_it_exposes_the_three_default_ports_and_listens_everywhere() -> None:
    steps = final_stage()
    assert {int(p) for p in one(steps, "EXPOSE").split()} == set(PORTS.values())
    command = json.loads(one(steps, "ENTRYPOINT")) + json.loads(one(steps, "CMD"))
    assert command[0] == "tertulia"
    args = build_parser().parse_args(command[1:])
    assert (args.command, args.host) == ("serve", "0.0.0.0")


def healthcheck() -> list[str]:
    spec = one(final_stage(), "HEALTHCHECK")
    options, _, command = spec.partition("CMD ")
    assert "--interval=" in options and "--timeout=" in options
    argv: list[str] = json.loads(command)
    return argv


async def run_healthcheck(web_port: int) -> int:
    """The image's HEALTHCHECK, with this machine's Python and the web door's real port."""
    argv = healthcheck()
    assert argv[0] == "python"
    env = {**os.environ, "TERTULIA_WEB_PORT": str(web_port)}
    proc = await asyncio.create_subprocess_exec(sys.executable, *argv[1:], env=env)
    async with asyncio.timeout(30):
        return await proc.wait()


async def test_the_healthcheck_asks_healthz_with_urllib_and_passes_on_a_live_server() -> None:
    argv = healthcheck()
    assert "urllib.request" in argv[-1] and "/healthz" in argv[-1]
    assert "TERTULIA_WEB_PORT" in argv[-1] and "'8080'" in argv[-1]  # the default port
    async with serving() as served:
        assert await run_healthcheck(served.ports["web"]) == 0


async def test_the_healthcheck_fails_when_nothing_answers() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        assert await run_healthcheck(closed.getsockname()[1]) != 0


def test_the_build_context_leaves_out_the_venv_and_git() -> None:
    ignored = (HERE / "Containerfile.dockerignore").read_text().split()
    assert {".git", ".venv"} <= set(ignored)


# -- compose.yaml, read without a YAML library ------------------------------------------------


def read_yaml(text: str) -> Any:
    """The YAML compose.yaml keeps to: block mappings and lists, double-quoted strings,
    integers, JSON-style flow lists of strings, `{}`, whole-line comments. Anything else is
    an error, so that the file cannot drift out of what this test reads."""
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        assert "\t" not in raw[:indent], f"line {number}: a tab in the indentation"
        lines.append((indent, stripped))

    def scalar(value: str) -> Any:
        if value.startswith(('"', "[", "{")):
            return json.loads(value)
        if re.fullmatch(r"-?\d+", value):
            return int(value)
        raise ValueError(f"outside the subset this test reads: {value!r}")

    def block(i: int, indent: int) -> tuple[Any, int]:
        if lines[i][1].startswith("- "):
            items = []
            while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
                items.append(scalar(lines[i][1][2:]))
                i += 1
            return items, i
        mapping: dict[str, Any] = {}
        while i < len(lines) and lines[i][0] == indent:
            key, colon, rest = lines[i][1].partition(":")
            assert colon and re.fullmatch(r"[\w.-]+", key), f"not a key: {lines[i][1]!r}"
            assert key not in mapping, f"{key} twice"
            if rest.strip():
                mapping[key] = scalar(rest.strip())
                i += 1
            else:
                assert i + 1 < len(lines) and lines[i + 1][0] > indent, f"{key}: nothing under"
                mapping[key], i = block(i + 1, lines[i + 1][0])
        return mapping, i

    result, end = block(0, lines[0][0])
    assert end == len(lines), f"unread from {lines[end][1]!r}"
    return result


def test_the_reader_refuses_what_it_does_not_know() -> None:
    assert read_yaml('a:\n  b: "x"\n  c: ["y", "z"]\n  d:\n    - "1:2"\n') == {
        "a": {"b": "x", "c": ["y", "z"], "d": ["1:2"]}
    }
    for text in ("a: yes\n", "a: &anchor\n  b: 1\n", "a: x # comment\n", "a:\n  b: 1\n c: 2\n"):
        with pytest.raises((ValueError, AssertionError)):
            read_yaml(text)


def compose() -> dict[str, Any]:
    data: dict[str, Any] = read_yaml((HERE / "compose.yaml").read_text())
    return data


def flags(command: list[str]) -> dict[str, str]:
    return dict(zip(command[1::2], command[2::2], strict=False))


def nodes() -> dict[str, dict[str, Any]]:
    services = compose()["services"]
    return {
        name: service
        for name, service in services.items()
        if service.get("command", [None])[0] == "serve"
    }


def test_the_cluster_has_redis_postgres_two_nodes_and_a_balancer() -> None:
    services = compose()["services"]
    assert set(services) == {"redis", "postgres", "node1", "node2", "haproxy"}
    assert set(nodes()) == {"node1", "node2"}
    redis = services["redis"]
    assert redis["command"][0] == "redis-server"
    assert flags(redis["command"])["--appendonly"] == "yes"
    postgres = services["postgres"]
    volume = postgres["volumes"][0].split(":")
    assert volume[1] == "/var/lib/postgresql/data"
    assert volume[0] in compose()["volumes"], "a named volume"
    assert "pg_isready" in postgres["healthcheck"]["test"]


def test_each_node_has_its_name_and_the_same_bus_and_store() -> None:
    found = nodes()
    commands = {name: flags(service["command"]) for name, service in found.items()}
    names = [command["--node"] for command in commands.values()]
    assert len(set(names)) == len(names) == len(found)
    assert {command["--cluster"] for command in commands.values()} == {"redis://redis:6379/0"}
    stores = {command["--store"] for command in commands.values()}
    assert len(stores) == 1
    store = stores.pop()
    assert store.startswith("postgresql://") and "@postgres:5432/" in store
    postgres = compose()["services"]["postgres"]["environment"]
    assert store.endswith("/" + postgres["POSTGRES_DB"])
    assert f"://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}@" in store
    for name, service in found.items():
        args = build_parser().parse_args(service["command"])
        assert args.host == "0.0.0.0", name
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        built = service["build"]
        assert (HERE / built["context"] / built["dockerfile"]).resolve() == (HERE / "Containerfile")


def test_the_balancer_publishes_the_three_doors() -> None:
    haproxy = compose()["services"]["haproxy"]
    assert "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in haproxy["volumes"]
    assert (HERE / "haproxy.cfg").is_file()
    assert {int(p.split(":")[0]) for p in haproxy["ports"]} == set(PORTS.values())


def haproxy_sections() -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    body: list[str] = []
    for raw in (HERE / "haproxy.cfg").read_text().splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not line[0].isspace():
            body = sections.setdefault(line, [])
        else:
            body.append(" ".join(line.split()))
    return sections


def test_haproxy_sends_each_door_to_every_node_while_its_healthz_answers() -> None:
    sections = haproxy_sections()
    defaults = sections["defaults"]
    assert "mode tcp" in defaults
    default_server = next(line for line in defaults if line.startswith("default-server"))
    assert f"check port {PORTS['web']}" in default_server
    node_names = set(nodes())
    for door, port in PORTS.items():
        frontend = sections[f"frontend {door}"]
        assert f"bind :{port}" in frontend
        backend_name = next(line.split()[1] for line in frontend if "default_backend" in line)
        backend = sections[f"backend {backend_name}"]
        servers = [shlex.split(line) for line in backend if line.startswith("server ")]
        assert {s[1] for s in servers} == node_names, door
        assert {s[2] for s in servers} == {f"{name}:{port}" for name in node_names}, door
        assert "option httpchk" in backend
        send = next(line for line in backend if line.startswith("http-check send"))
        assert "meth GET uri /healthz" in send
        assert "http-check expect status 200" in backend
