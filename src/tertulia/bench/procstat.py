"""A server's CPU time and memory, read from /proc (Linux)."""

from __future__ import annotations

import os
from dataclasses import dataclass

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True, slots=True)
class Usage:
    cpu_s: float  # user + system
    rss_kb: int
    peak_rss_kb: int


def usage(pid: int) -> Usage:
    with open(f"/proc/{pid}/stat") as fh:
        # The command name may contain spaces; the fields after it are fixed.
        fields = fh.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TICK
    rss = peak = 0
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1])
    return Usage(cpu, rss, peak)
