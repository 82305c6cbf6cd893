"""tertulia under systemd, as far as a machine without systemd running allows: the real
`tertulia serve` tells a NOTIFY_SOCKET the test binds that it is ready, pings the watchdog
and says it is stopping; packaging/systemd/tertulia.service passes `systemd-analyze verify`
and `security`; and the server works with writable-and-executable memory refused, as its
MemoryDenyWriteExecute=yes will have it."""

from __future__ import annotations

import asyncio
import ctypes
import errno
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO

import pytest
import trustme

from chatclient import LineClient
from served import LISTENING
from tertulia.cli import build_parser
from tlscerts import client_context, write_cert
from webclient import http

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "packaging" / "systemd" / "tertulia.service"
TIMEOUT = 10.0


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TERTULIA_", "NOTIFY_SOCKET", "WATCHDOG_"))
    }
    env.update(LANG="C.UTF-8", LC_ALL="", LANGUAGE="", TERTULIA_LOG_LEVEL="warning")
    env["TERTULIA_DATA_DIR"] = tempfile.mkdtemp(prefix="tertulia-test-")
    env.update(extra)
    return env


@asynccontextmanager
async def spawned(
    *command: str, env: dict[str, str], stdout: int | IO[bytes] = asyncio.subprocess.PIPE
) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=stdout, stderr=asyncio.subprocess.PIPE, env=env
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


SERVE = (sys.executable, "-m", "tertulia", "serve", "--port", "0", "--irc-port", "0",
         "--web-port", "0")  # fmt: skip


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    """The manager's end: a datagram socket in a short temporary directory (AF_UNIX paths
    end at 108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="tn-") as folder:
        path = str(Path(folder, "notify"))
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.setblocking(False)
            yield sock, path


async def message(sock: socket.socket, timeout: float = TIMEOUT) -> dict[str, str]:
    async with asyncio.timeout(timeout):
        data = await asyncio.get_running_loop().sock_recv(sock, 4096)
    return dict(line.split("=", 1) for line in data.decode().split("\n"))


async def test_ready_after_every_door_listens_then_watchdog_then_stopping(
    notify_socket: tuple[socket.socket, str], tmp_path: Path
) -> None:
    sock, path = notify_socket
    env = _env(NOTIFY_SOCKET=path, WATCHDOG_USEC="200000")
    out_path = tmp_path / "stdout"
    with out_path.open("wb") as out:
        async with spawned(*SERVE, env=env, stdout=out) as proc:
            ready = await message(sock, timeout=20)
            # Every `listening` line was written before READY was sent.
            lines = out_path.read_text().splitlines()
            assert len(lines) == 3, lines
            doors = []
            for line in lines:
                match = LISTENING.match(line)
                assert match, line
                doors.append(f"{match[1]} 127.0.0.1:{match[3]}")
            assert ready == {
                "READY": "1",
                "STATUS": "listening: " + ", ".join(doors),
                "MAINPID": str(proc.pid),
            }
            # WATCHDOG_USEC=200000: a ping every 0.1 s.
            assert await message(sock, timeout=2) == {"WATCHDOG": "1"}
            assert await message(sock, timeout=2) == {"WATCHDOG": "1"}
            proc.send_signal(signal.SIGTERM)
            while (said := await message(sock)) == {"WATCHDOG": "1"}:
                pass
            assert said == {"STOPPING": "1", "STATUS": "shutting down"}
            async with asyncio.timeout(TIMEOUT):
                assert await proc.wait() == 0
            assert proc.stderr is not None
            assert b"Traceback" not in await proc.stderr.read()


async def test_a_notify_socket_nobody_binds_changes_nothing(tmp_path: Path) -> None:
    env = _env(NOTIFY_SOCKET=str(tmp_path / "nobody"), WATCHDOG_USEC="200000")
    async with spawned(*SERVE, env=env) as proc:
        assert proc.stdout is not None
        async with asyncio.timeout(20):
            line = (await proc.stdout.readline()).decode()
        match = LISTENING.match(line.strip())
        assert match and match[1] == "plain", line
        client = await LineClient.connect(int(match[3]), "ana")
        await client.send("sigo aquí")
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(TIMEOUT):
            assert await proc.wait() == 0
        assert any("shutting down" in line for line in await client.closed())
        assert proc.stderr is not None
        log = (await proc.stderr.read()).decode()
        assert log.count("cannot notify the service manager") == 1, log
        assert "Traceback" not in log


# -- the unit -----------------------------------------------------------------------------


def unit_settings() -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        assert key not in current, f"{key} twice in [{line}]"
        current[key] = value
    return sections


def test_the_unit_asks_for_readiness_the_watchdog_and_the_hardening() -> None:
    service = unit_settings()["Service"]
    expected = {
        "Type": "notify",
        "NotifyAccess": "main",
        "WatchdogSec": "30s",
        "Restart": "on-failure",
        "DynamicUser": "yes",
        "StateDirectory": "tertulia",
        "Environment": "TERTULIA_DATA_DIR=%S/tertulia",
        "ConfigurationDirectory": "tertulia",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "NoNewPrivileges": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes",
        "ProtectControlGroups": "yes",
        "ProtectClock": "yes",
        "ProtectHostname": "yes",
        "RestrictNamespaces": "yes",
        "RestrictRealtime": "yes",
        "RestrictSUIDSGID": "yes",
        "LockPersonality": "yes",
        "MemoryDenyWriteExecute": "yes",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "SystemCallArchitectures": "native",
        "SystemCallFilter": "@system-service",
        "CapabilityBoundingSet": "",
        "UMask": "0077",
        "LimitNOFILE": "65536",
    }
    assert {key: service.get(key) for key in expected} == expected
    # The command line is one tertulia accepts, with the configuration systemd makes room for.
    binary, *args = shlex.split(service["ExecStart"])
    assert Path(binary).name == "tertulia"
    parsed = build_parser().parse_args(args)
    assert (parsed.command, parsed.config) == ("serve", "/etc/tertulia/tertulia.toml")


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    return found


@pytest.fixture
def installable_unit(tmp_path: Path) -> Path:
    """A copy of the unit whose ExecStart names a tertulia that exists here: verify checks
    that the binary is there."""
    tertulia = Path(sys.executable).with_name("tertulia")
    if not tertulia.exists():
        tertulia = Path(shutil.which("tertulia") or "/nonexistent")
    assert os.access(tertulia, os.X_OK), f"no tertulia script beside {sys.executable}"
    text, count = re.subn(r"^ExecStart=\S+", f"ExecStart={tertulia}", UNIT.read_text(), flags=re.M)
    assert count == 1
    copy = tmp_path / "tertulia.service"
    copy.write_text(text)
    return copy


def test_systemd_analyze_verify_passes(installable_unit: Path) -> None:
    tool = systemd_analyze()
    done = subprocess.run(
        [tool, "verify", "--man=no", str(installable_unit)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    # Unknown keys and bad values are warnings that leave the exit code at 0: any line
    # about the unit counts as a failure.
    about_unit = [line for line in (done.stdout + done.stderr).splitlines() if "tertulia" in line]
    assert done.returncode == 0 and not about_unit, done.stdout + done.stderr


def test_systemd_analyze_verify_catches_a_mistake(installable_unit: Path) -> None:
    """The check above can fail: a misspelt option is reported."""
    tool = systemd_analyze()
    installable_unit.write_text(
        installable_unit.read_text().replace("ProtectClock=", "ProtectClok=")
    )
    done = subprocess.run(
        [tool, "verify", "--man=no", str(installable_unit)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "ProtectClok" in done.stdout + done.stderr


def test_systemd_analyze_security_rates_the_unit_well_exposed_below_2(
    installable_unit: Path,
) -> None:
    tool = systemd_analyze()
    done = subprocess.run(
        [tool, "security", "--offline=yes", "--threshold=20", "--no-pager",
         str(installable_unit)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    level = re.search(r"Overall exposure level for tertulia\.service: (\d+\.\d+)", done.stdout)
    assert level and float(level[1]) <= 2.0, done.stdout


# -- MemoryDenyWriteExecute -----------------------------------------------------------------

PR_SET_MDWE, PR_GET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 66, 1

# Turns on the kernel's refusal of writable-and-executable memory (what newer systemd does
# for MemoryDenyWriteExecute=yes; older ones filter mmap and mprotect with seccomp), then
# becomes the program named after it: the setting is kept across exec.
NO_WX = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_MDWE): " + os.strerror(ctypes.get_errno()))
os.execv(sys.argv[1], sys.argv[1:])
"""

TRY_WX = """
import mmap
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    print("allowed")
except PermissionError:
    print("refused")
"""


def _mdwe_supported() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_GET_MDWE, 0, 0, 0, 0) >= 0:
        return True
    # An older kernel does not know the option; a sandbox (seccomp) may refuse prctl.
    assert ctypes.get_errno() in (errno.EINVAL, errno.EPERM)
    return False


async def test_the_server_needs_no_writable_executable_memory(tmp_path: Path) -> None:
    """uvloop, TLS, scrypt for accounts, SQLite, the three doors: all under the refusal."""
    if not sys.platform.startswith("linux") or not _mdwe_supported():
        # Nothing .ci/run could install (Linux 6.3 or newer has it): the unit's option
        # is then only checked by systemd-analyze above, and this test has nothing to run.
        return
    # The switch itself works here: the same wrapper refuses W+X memory to a program.
    probe = await asyncio.create_subprocess_exec(
        sys.executable, "-c", NO_WX, sys.executable, "-c", TRY_WX,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(30):
        said, _ = await probe.communicate()
    assert said.decode().strip() == "refused", said
    ca = trustme.CA()
    chain, key = write_cert(ca, tmp_path)
    env = _env(
        TERTULIA_TLS_CERT=str(chain), TERTULIA_TLS_KEY=str(key), TERTULIA_PLAIN_TLS_PORT="0",
        TERTULIA_IRC_TLS_PORT="0", TERTULIA_WEB_TLS_PORT="0",
    )  # fmt: skip
    async with spawned(sys.executable, "-c", NO_WX, *SERVE, env=env) as proc:
        assert proc.stdout is not None
        ports: dict[str, int] = {}
        async with asyncio.timeout(20):
            while len(ports) < 6:
                line = (await proc.stdout.readline()).decode()
                match = LISTENING.match(line.strip())
                assert match, line
                ports[match[1] + ("-tls" if match[2] or match[4] else "")] = int(match[3])
        clear = await LineClient.connect(ports["plain"], "claro")
        secret = await LineClient.connect(
            ports["plain-tls"], "cifra", ssl=client_context(ca), server_hostname="127.0.0.1"
        )
        await secret.send("/register una-clave-larga")
        await secret.expect("cifra is registered to you, and you are logged in")
        await secret.send("hola sin W+X")
        await clear.expect("[cifra] hola sin W+X")
        irc = await LineClient.connect(ports["irc"])
        await irc.send("NICK irc\r\nUSER irc 0 * :irc\r")
        await irc.expect(" 001 irc ")
        health = await http(ports["web"], "/healthz")
        assert health.status == 200 and b'"status":"ok"' in health.body
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(TIMEOUT):
            assert await proc.wait() == 0
        assert proc.stderr is not None
        log = (await proc.stderr.read()).decode()
        assert "Traceback" not in log and "prctl" not in log, log
