"""Results out: JSON lines, a Markdown table and PNG plots."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tertulia.bench.scenarios import Result


def as_record(result: Result) -> dict[str, Any]:
    record = asdict(result)
    del record["latencies_ms"]
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in record.items()}


def write_jsonl(results: Sequence[Result], path: Path) -> None:
    with path.open("a", encoding="utf-8") as fh:
        for result in results:
            fh.write(json.dumps(as_record(result), sort_keys=True) + "\n")


def _num(value: float | int | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _notes(result: Result) -> str:
    parts = [f"{k}={v}" for k, v in result.extra.items()]
    if result.stalled:
        parts.insert(0, "STALLED")
    return ", ".join(parts)


COLUMNS = (
    "scenario", "target", "clients", "senders x msgs", "expected", "delivered", "lost",
    "dup", "mangled", "deliveries/s", "p50 ms", "p99 ms", "max ms", "connect s",
    "CPU µs/delivery", "peak RSS MB", "RSS/client KB", "notes",
)  # fmt: skip


def markdown(results: Sequence[Result]) -> str:
    # Bytes on the bus mean something only for a cluster: their column only beside one.
    bus = any(r.bus_bytes_per_message is not None for r in results)
    columns = (*COLUMNS[:-1], "bus B/msg", COLUMNS[-1]) if bus else COLUMNS
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in results:
        peak = r.peak_rss_kb / 1024 if r.peak_rss_kb is not None else None
        cells = (
            r.scenario, r.target, _num(r.clients),
            f"{r.senders} x {r.messages}" if r.senders else "-",
            _num(r.expected), _num(r.delivered), _num(r.lost), _num(r.duplicated),
            _num(r.mangled), _num(r.deliveries_per_s, 0), _num(r.p50_ms, 2),
            _num(r.p99_ms, 2), _num(r.max_ms, 2), _num(r.connect_s, 2),
            _num(r.cpu_us_per_delivery, 3), _num(peak, 1), _num(r.rss_per_client_kb, 2),
            *((_num(r.bus_bytes_per_message, 0),) if bus else ()), _notes(r),
        )  # fmt: skip
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def plot(results: Sequence[Result], out: Path) -> list[Path]:
    """Latency distribution, and CPU per delivery and throughput against clients."""
    import matplotlib

    matplotlib.use("Agg")  # no display here: files only
    import matplotlib.pyplot as plt

    written: list[Path] = []
    with_latency = [r for r in results if r.latencies_ms]
    if with_latency:
        fig, ax = plt.subplots(figsize=(8, 5))
        for r in with_latency:
            n = len(r.latencies_ms)
            ys = [(i + 1) / n for i in range(n)]
            ax.plot(r.latencies_ms, ys, label=f"{r.scenario} {r.target} {r.clients}c")
        ax.set_xscale("log")
        ax.set_xlabel("latency, send to receipt (ms, log scale)")
        ax.set_ylabel("fraction of sampled deliveries")
        ax.set_title("Latency distribution")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
        path = out / "latency.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(path)

    series: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        if r.delivered and r.scenario in ("fanout", "latency", "stall"):
            series.setdefault((r.scenario, r.target), []).append(r)
    if series:
        fig, (cpu, rate) = plt.subplots(1, 2, figsize=(12, 5))
        for (scenario, target), runs in sorted(series.items()):
            runs.sort(key=lambda r: r.clients)
            xs = [r.clients for r in runs]
            label = f"{scenario} {target}"
            cpu_runs = [(r.clients, r.cpu_us_per_delivery) for r in runs if r.cpu_us_per_delivery]
            if cpu_runs:
                cpu.plot(*zip(*cpu_runs, strict=True), marker="o", label=label)
            rate.plot(xs, [r.deliveries_per_s for r in runs], marker="o", label=label)
        cpu.set_xlabel("clients")
        cpu.set_ylabel("server CPU per delivery (µs)")
        cpu.set_title("CPU per delivered message")
        rate.set_xlabel("clients")
        rate.set_ylabel("deliveries per second")
        rate.set_title("Throughput")
        for ax in (cpu, rate):
            ax.grid(True, alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize="small")
        path = out / "scaling.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(path)
    return written
