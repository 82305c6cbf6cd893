"""The server's one liveness sweep: pings the silent, drops the gone, survives a bug."""

from __future__ import annotations

import asyncio

from tertulia.server.liveness import Liveness, Pinged


class Client(Pinged):
    __slots__ = ("broken", "heard", "pinged", "pings", "timeouts")

    def __init__(self, broken: bool = False) -> None:
        self.broken = broken
        self.pings = asyncio.Event()
        self.timeouts = 0

    def finished(self) -> bool:
        if self.broken:
            raise RuntimeError("a bug in one door")
        return False

    def send_ping(self) -> None:
        self.pings.set()

    def ping_timeout(self) -> None:
        self.timeouts += 1


async def test_one_clients_bug_does_not_stop_the_others_pings() -> None:
    loop = asyncio.get_running_loop()
    sweep = Liveness(0.01)
    broken, healthy = Client(broken=True), Client()
    sweep.watch(broken, loop)
    sweep.watch(healthy, loop)
    try:
        # Heard on joining, silent since: the second sweep pings it, whatever the first
        # client raised.
        await asyncio.wait_for(healthy.pings.wait(), 5)
        assert len(sweep) == 1  # the broken one left the sweep
    finally:
        sweep.stop()
