"""TLS with real programs: the server as a subprocess reloading on SIGHUP, and openssl s_client."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trustme

from chatclient import TIMEOUT, LineClient
from served import Served, serving
from tlscerts import ca_file, client_context, write_cert

pytestmark = pytest.mark.timeout(60)


@asynccontextmanager
async def serving_tls(chain: Path, key: Path) -> AsyncIterator[Served]:
    """`tertulia serve` with every door and every TLS door, its log there to read."""
    async with serving(read_log=True, tls_cert=str(chain), tls_key=str(key)) as served:
        yield served


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
