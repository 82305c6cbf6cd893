"""One server per data directory: a second one stops with one line and the first goes on;
the lock goes with the process, even killed with SIGKILL."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from chatclient import LineClient
from conftest import ServerFactory
from served import serving
from tertulia.store.datadir import DataDirBusy, in_use


async def test_a_second_server_on_a_data_directory_stops_and_the_first_goes_on(
    tmp_path: Path,
) -> None:
    async with serving(data_dir=str(tmp_path)) as first:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TERTULIA_")}
        second = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tertulia", "serve", "--port", "0", "--no-irc", "--no-web",
            "--data-dir", str(tmp_path), "--lang", "en",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        out, err = await asyncio.wait_for(second.communicate(), 30)
        assert second.returncode == 1 and b"listening" not in out
        assert err.decode().splitlines()[-1] == (
            f"tertulia: another tertulia server is using {tmp_path} (process {first.proc.pid})"
        )
        assert in_use(tmp_path)
        client = await LineClient.connect(first.ports["plain"], "ana")  # still serving
        await client.close()
        first.proc.kill()
        await first.proc.wait()
    assert not in_use(tmp_path)  # the kernel let go of it with the process


async def test_in_process_the_second_start_is_refused_until_the_first_stops(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    first = await make_server(data_dir=str(tmp_path))
    with pytest.raises(DataDirBusy):
        await make_server(data_dir=str(tmp_path))
    await first.shutdown()
    again = await make_server(data_dir=str(tmp_path))
    assert again.port > 0


async def test_without_history_no_lock_is_taken(make_server: ServerFactory, tmp_path: Path) -> None:
    await make_server(history=False, data_dir=str(tmp_path / "none"))
    assert not (tmp_path / "none").exists()  # nothing written, as --no-history promises
