"""The server under attack as a subprocess (`tertulia serve`, on uvloop as in production):
its own process, so that its memory can be read and the attackers' own work, in the test's
process, never stalls its event loop."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from webclient import http, samples

# The web door's line is a URL (http:// or https://); the others say "with tls" under TLS.
LISTENING = re.compile(
    r"^(\w+) door listening on (?:http://|(https://))?127\.0\.0\.1:(\d+)/?( with tls)?$"
)


class Served:
    """A running `tertulia serve`: its ports by door ("plain", "irc", "web", and with TLS
    "plain-tls", "irc-tls", "web-tls"), its memory, its metrics and (when read) its log."""

    def __init__(self, proc: asyncio.subprocess.Process, ports: dict[str, int]) -> None:
        self.proc = proc
        self.ports = ports
        self.log: list[str] = []

    async def log_line(self, want: str, timeout: float = 5.0) -> str:
        """The next log line (stderr, with read_log) containing `want`; fails with what
        came before."""
        seen = len(self.log)

        async def scan() -> str:
            assert self.proc.stderr is not None, "serving(read_log=True) reads the log"
            while raw := await self.proc.stderr.readline():
                line = raw.decode(errors="replace").rstrip("\n")
                self.log.append(line)
                if want in line:
                    return line
            raise EOFError("the server closed its log")

        try:
            return await asyncio.wait_for(scan(), timeout)
        except (TimeoutError, EOFError) as exc:
            raise AssertionError(f"no {want!r} in the log: {self.log[seen:]!r} ({exc!r})") from None

    def status(self, field: str) -> int:
        """A figure from /proc/PID/status in bytes (VmRSS: resident now; VmHWM: its peak)."""
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        raise AssertionError(f"no {field} in /proc/{self.proc.pid}/status")

    async def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        reply = await http(self.ports["web"], "/metrics")
        assert reply.status == 200, reply
        return samples(reply.body.decode())


@asynccontextmanager
async def serving(**settings: Any) -> AsyncIterator[Served]:
    """Run `tertulia serve` on port 0 for every door (and every TLS door when given
    tls_cert and tls_key), with settings given as TERTULIA_* variables; killed on the way
    out. With read_log=True, its log (stderr) is there to read, at info level."""
    read_log = bool(settings.pop("read_log", False))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERTULIA_")}
    env.update(LANG="C.UTF-8", LC_ALL="", LANGUAGE="")
    env["TERTULIA_DATA_DIR"] = tempfile.mkdtemp(prefix="tertulia-test-")
    # Unread, a flood of join lines would fill the pipe: only warnings, and to nowhere.
    env["TERTULIA_LOG_LEVEL"] = "info" if read_log else "warning"
    for name, value in settings.items():
        text = ",".join(value) if isinstance(value, tuple) else str(value)
        env["TERTULIA_" + name.upper()] = text
    tls = "tls_cert" in settings
    if tls:
        for door in ("plain", "irc", "web"):
            env[f"TERTULIA_{door.upper()}_TLS_PORT"] = "0"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tertulia", "serve",
        "--port", "0", "--irc-port", "0", "--web-port", "0",
        stdout=asyncio.subprocess.PIPE, env=env,
        stderr=asyncio.subprocess.PIPE if read_log else asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        ports: dict[str, int] = {}
        async with asyncio.timeout(20):
            while len(ports) < (6 if tls else 3):
                line = (await proc.stdout.readline()).decode()
                match = LISTENING.match(line.strip())
                assert match, line
                ports[match[1] + ("-tls" if match[2] or match[4] else "")] = int(match[3])
        yield Served(proc, ports)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
