"""Test-side web clients: plain HTTP requests and WebSocket sessions against the web door."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect

from chatclient import TIMEOUT
from tertulia.server.app import Server


@dataclass
class HttpReply:
    status: int
    headers: dict[str, str]
    body: bytes


async def http(port: int, path: str, method: str = "GET", **headers: str) -> HttpReply:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    raw = await asyncio.wait_for(reader.read(), TIMEOUT)  # the server closes after replying
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    fields = dict(line.split(": ", 1) for line in header_lines)
    return HttpReply(int(status_line.split()[1]), {k.lower(): v for k, v in fields.items()}, body)


def web_port(server: Server) -> int:
    return int(server.addresses("web")[0].rsplit(":", 1)[1])


async def ws_open(server: Server, nick: str | None = None, **kw: Any) -> ClientConnection:
    ws = await connect(f"ws://127.0.0.1:{web_port(server)}/ws", open_timeout=TIMEOUT, **kw)
    if nick is not None:
        await ws.send(json.dumps({"type": "hello", "nick": nick, "id": 0}))
        welcome = await recv(ws)
        assert welcome["type"] == "welcome" and welcome["nick"] == nick, welcome
    return ws


async def recv(ws: ClientConnection) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    return obj


async def recv_until(ws: ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        obj = await recv(ws)
        if obj["type"] == kind:
            return obj


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out
