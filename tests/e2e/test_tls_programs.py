"""TLS with real programs: the server as a subprocess reloading on SIGHUP, and openssl s_client."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trustme

from chatclient import TIMEOUT, LineClient
from tlscerts import ca_file, client_context, write_cert

pytestmark = pytest.mark.timeout(60)

# The web door's line is a URL (http:// or https://); the others say "with tls" under TLS.
LISTENING = re.compile(
    r"^(\w+) door listening on (?:http://|(https://))?127\.0\.0\.1:(\d+)/?( with tls)?$"
)


class Served:
    """A `tertulia serve` subprocess: its ports by door, and its log read line by line."""

    def __init__(self, proc: asyncio.subprocess.Process, ports: dict[str, int]) -> None:
        self.proc = proc
        self.ports = ports
        self.log: list[str] = []

    async def log_line(self, want: str, timeout: float = TIMEOUT) -> str:
        """The next log line (stderr) containing `want`; fails with what came before."""
        assert self.proc.stderr is not None
        seen = len(self.log)

        async def scan() -> str:
            assert self.proc.stderr is not None
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


@asynccontextmanager
async def serving_tls(chain: Path, key: Path) -> AsyncIterator[Served]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERTULIA_")}
    env.update(LANG="C.UTF-8", LC_ALL="", LANGUAGE="")
    env["TERTULIA_DATA_DIR"] = tempfile.mkdtemp(prefix="tertulia-test-")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tertulia", "serve", "--port", "0", "--irc-port", "0",
        "--web-port", "0", "--tls-cert", str(chain), "--tls-key", str(key),
        "--plain-tls-port", "0", "--irc-tls-port", "0", "--web-tls-port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        ports: dict[str, int] = {}
        async with asyncio.timeout(20):
            while len(ports) < 6:  # plain, irc, web, and each of them with TLS
                line = (await proc.stdout.readline()).decode()
                match = LISTENING.match(line.strip())
                assert match, line
                ports[match[1] + ("-tls" if match[2] or match[4] else "")] = int(match[3])
        yield Served(proc, ports)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_sighup_reloads_the_certificate_and_open_connections_stay(tmp_path: Path) -> None:
    ca_a, ca_b = trustme.CA(), trustme.CA()
    chain, key = write_cert(ca_a, tmp_path)
    async with serving_tls(chain, key) as served:
        port = served.ports["plain-tls"]
        old = await LineClient.connect(
            port, "antes", ssl=client_context(ca_a), server_hostname="127.0.0.1"
        )
        write_cert(ca_b, tmp_path)  # another CA's certificate, in the same files
        served.proc.send_signal(signal.SIGHUP)
        await served.log_line("tls reloaded")
        new = await LineClient.connect(
            port, "despues", ssl=client_context(ca_b), server_hostname="127.0.0.1"
        )
        await old.send("la conexión de antes sigue")
        await new.expect("[antes] la conexión de antes sigue")
        await new.send("y la nueva también")
        await old.expect("[despues] y la nueva también")

        # Unusable files: one error line, and the certificate of B is still served.
        key.write_text("not a key")
        served.proc.send_signal(signal.SIGHUP)
        line = await served.log_line("tls reload")
        assert "ERROR" in line and "keeping the previous certificate" in line
        third = await LineClient.connect(
            port, "tercero", ssl=client_context(ca_b), server_hostname="127.0.0.1"
        )
        await old.expect("tercero joined")

        served.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(served.proc.wait(), 10) == 0
        assert served.proc.stderr is not None
        rest = (await served.proc.stderr.read()).decode()
        assert "Traceback" not in "\n".join(served.log) + rest
        for client in (old, new, third):
            await client.close()


async def test_openssl_s_client_registers_on_the_irc_tls_port(tmp_path: Path) -> None:
    ca = trustme.CA()
    chain, key = write_cert(ca, tmp_path)
    async with serving_tls(chain, key) as served:
        irc_port = served.ports["irc-tls"]
        watcher = await LineClient.connect(served.ports["plain"], "mira")
        proc = await asyncio.create_subprocess_exec(
            "openssl", "s_client", "-connect", f"127.0.0.1:{irc_port}",
            "-CAfile", str(ca_file(ca, tmp_path)), "-verify_return_error",
            "-verify_ip", "127.0.0.1", "-quiet",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b"NICK ossl\r\nUSER ossl 0 * :OpenSSL\r\nJOIN #lobby\r\n")
        await proc.stdin.drain()
        irc = LineClient(proc.stdout, proc.stdin)
        welcome = await irc.expect(" 001 ")
        assert welcome.startswith(":tertulia 001 ossl ")
        await irc.expect(" 366 ossl #lobby ")
        await watcher.send("hola, openssl")
        await irc.expect(":mira!mira@tertulia PRIVMSG #lobby :hola, openssl")
        proc.stdin.write(b"QUIT :adios\r\n")
        await proc.stdin.drain()
        await watcher.expect("ossl quit")
        proc.stdin.close()
        async with asyncio.timeout(TIMEOUT):
            await proc.wait()
        await watcher.close()


async def test_openssl_s_client_refuses_a_certificate_of_another_ca(tmp_path: Path) -> None:
    chain, key = write_cert(trustme.CA(), tmp_path)
    stranger = trustme.CA()
    async with serving_tls(chain, key) as served:
        proc = await asyncio.create_subprocess_exec(
            "openssl", "s_client", "-connect", f"127.0.0.1:{served.ports['irc-tls']}",
            "-CAfile", str(ca_file(stranger, tmp_path)), "-verify_return_error", "-quiet",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        async with asyncio.timeout(TIMEOUT):
            out, err = await proc.communicate(b"NICK nadie\r\nUSER nadie 0 * :x\r\n")
        assert proc.returncode != 0
        assert b" 001 " not in out
        assert b"verify error" in err
