"""The bench's CPU accounting from /proc: a store's server counts with its children."""

from __future__ import annotations

import subprocess
import sys

from tertulia.bench import procstat
from tertulia.bench.targets import parse_spec

# A parent that starts a child which burns some CPU and exits, waits for it, then waits to
# be told to go: by then the child's CPU is the parent's (cutime), not its own.
PARENT = """
import subprocess, sys
subprocess.run([sys.executable, "-c", "sum(i * i for i in range(3_000_000))"], check=True)
print("child done", flush=True)
sys.stdin.readline()
"""


def test_a_process_tree_counts_the_cpu_of_children_it_has_waited_for() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None and parent.stdout.readline() == "child done\n"
        own = procstat.usage(parent.pid).cpu_s
        tree = procstat.tree_cpu(parent.pid)
        assert tree > own  # the child's work, which the parent alone does not show
    finally:
        parent.communicate("go\n", timeout=30)


def test_a_spawned_target_takes_a_store_and_its_process() -> None:
    name, url, options = parse_spec(
        "pg=spawn:plain,store=postgresql://bench@127.0.0.1:5433/scratch,storepid=42"
    )
    assert (name, url) == ("pg", "spawn:plain")
    assert options == {"store": "postgresql://bench@127.0.0.1:5433/scratch", "storepid": "42"}
