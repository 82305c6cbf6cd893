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


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as fh:
        # The command name may contain spaces; the fields after it are fixed.
        return fh.read().rsplit(")", 1)[1].split()


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children, those still running and those it has
    waited for: a database server's postmaster and its backends, say."""
    fields = _stat(pid)
    total = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            child = _stat(int(entry))
        except OSError:
            continue  # gone meanwhile: its parent counts it once it has waited for it
        if child[1] == str(pid):
            total += sum(int(f) for f in child[11:15])
    return total / _TICK
