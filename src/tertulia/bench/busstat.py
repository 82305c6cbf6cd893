"""A cluster bus's traffic: the bytes Redis has read and written, from its INFO stats."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

TIMEOUT = 5.0  # seconds for one reading: a bus that does not answer is not weighed


@dataclass(frozen=True, slots=True)
class Traffic:
    """Redis's byte counters at one moment, and what taking them added to them.

    Redis counts a request's bytes as it reads them, before it runs the command, and a
    reply's as it writes them, after: so the reading's own requests (`asked`) and the
    replies before INFO's (`early`) are in this reading's counters, and INFO's reply
    (`answer`) only in the next one's.
    """

    received: int  # total_net_input_bytes: what clients (the nodes) wrote to Redis
    sent: int  # total_net_output_bytes: what Redis wrote to them
    asked: int
    early: int
    answer: int


def between(before: Traffic, after: Traffic) -> tuple[int, int]:
    """Bytes into and out of Redis from one reading to the next, less the readings' own."""
    into = after.received - before.received - after.asked
    out = after.sent - before.sent - before.answer - after.early
    return max(0, into), max(0, out)


def _command(*words: str) -> bytes:
    parts = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


async def _reply(reader: asyncio.StreamReader) -> tuple[bytes, int]:
    """One reply (a status line or a bulk string, all INFO and AUTH give) and its length."""
    head = await reader.readuntil(b"\r\n")
    if head.startswith(b"-"):
        raise ConnectionError(head.decode(errors="replace").strip())
    if not head.startswith(b"$"):
        return head, len(head)
    body = await reader.readexactly(int(head[1:]) + 2)
    return body[:-2], len(head) + len(body)


async def read(url: str) -> Traffic | None:
    """The counters of the Redis at `url` (redis:// or rediss://, with its password if
    any), or None when it cannot be asked."""
    parts = urlsplit(url)
    try:
        async with asyncio.timeout(TIMEOUT):
            reader, writer = await asyncio.open_connection(
                parts.hostname or "127.0.0.1",
                parts.port or 6379,
                ssl=ssl.create_default_context() if parts.scheme == "rediss" else None,
            )
            try:
                asked = early = 0
                if parts.password is not None:
                    auth = [unquote(parts.password)]
                    if parts.username:
                        auth.insert(0, unquote(parts.username))
                    request = _command("AUTH", *auth)
                    writer.write(request)
                    asked += len(request)
                    early += (await _reply(reader))[1]
                request = _command("INFO", "stats")
                writer.write(request)
                asked += len(request)
                info, answer = await _reply(reader)
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError):
        return None
    fields = dict(
        line.split(":", 1) for line in info.decode(errors="replace").splitlines() if ":" in line
    )
    try:
        received = int(fields["total_net_input_bytes"])
        sent = int(fields["total_net_output_bytes"])
    except (KeyError, ValueError):
        return None
    return Traffic(received, sent, asked, early, answer)
