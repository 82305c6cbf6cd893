"""SIGHUP reads the settings again while clients stay connected: a changed limit applies
to a client already there, a setting that needs a restart is named in the log, and a file
that does not load changes nothing."""

from __future__ import annotations

import signal
from pathlib import Path

from chatclient import LineClient
from served import serving

LONG = "x" * 300  # bytes: within 512, past 100


async def test_sighup_applies_a_new_limit_to_a_connected_client(tmp_path: Path) -> None:
    config = tmp_path / "tertulia.toml"
    config.write_text('server_info = "antes"\nmax_message_bytes = 512\n')
    async with serving(read_log=True, config=str(config)) as served:
        ana = await LineClient.connect(served.ports["plain"], "ana")
        bob = await LineClient.connect(served.ports["plain"], "bob")
        await ana.send(LONG)
        await bob.expect(f"[ana] {LONG}")
        # A smaller limit, and a setting that takes a restart.
        config.write_text('server_info = "después"\nmax_message_bytes = 100\nnick_length = 20\n'
                          'default_room = "#sala"\n')  # fmt: skip
        served.proc.send_signal(signal.SIGHUP)
        await served.log_line("settings reloaded")
        restart = await served.log_line("change only at a restart")
        assert "default_room" in restart and "max_message_bytes" not in restart
        await ana.send(LONG)
        assert "too long" in await ana.expect("! ")
        await ana.send("corto")  # still connected, and heard
        await bob.expect("[ana] corto")
        # A file that does not load leaves the settings as they were.
        config.write_text("max_message_bytes = 'mucho'\n")
        served.proc.send_signal(signal.SIGHUP)
        await served.log_line("reload failed")
        await ana.send(LONG)
        assert "too long" in await ana.expect("! ")
        await ana.close()
        await bob.close()
