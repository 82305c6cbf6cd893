"""Payloads, delivery accounting and percentiles: pure code, tested without sockets."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# Every bench message carries this marker; counting it is as cheap as counting newlines
# and, unlike newlines, ignores notices, replies and pings.
MARK = b"~b~"
_PAYLOAD = re.compile(rb"~b~(\d{5})\.(\d{7})\.(\d{19})\.(\d{4}):(x*)")
_HEAD = len(b"~b~00000.0000000.0000000000000000000.0000:")


def make_payload(sender: int, seq: int, sent_ns: int, size: int) -> str:
    """A message of `size` bytes that says who sent it, its number, when, and its own length."""
    pad = max(0, size - _HEAD)
    return f"~b~{sender:05d}.{seq:07d}.{sent_ns:019d}.{pad:04d}:" + "x" * pad


@dataclass(frozen=True, slots=True)
class Payload:
    sender: int
    seq: int
    sent_ns: int


def parse_line(line: bytes) -> list[Payload | None]:
    """Each payload in a received line, None for one that is cut short or garbled."""
    out: list[Payload | None] = []
    for part in line.split(MARK)[1:]:
        match = _PAYLOAD.match(MARK + part)
        if match is None or int(match.group(4)) != len(match.group(5)):
            out.append(None)
            continue
        sender, seq, sent = match.groups()[:3]
        out.append(Payload(int(sender), int(seq), int(sent)))
    return out


class MarkCounter:
    """Counts markers across chunk boundaries without splitting the stream into lines."""

    __slots__ = ("_tail", "count")

    def __init__(self) -> None:
        self.count = 0
        self._tail = b""

    def feed(self, data: bytes) -> None:
        joined = self._tail + data if self._tail else data
        self.count += joined.count(MARK)
        # Keep just enough to catch a marker cut in two, never a whole one.
        self._tail = joined[-(len(MARK) - 1) :]


@dataclass(slots=True)
class SampleLog:
    """What one fully parsed receiver saw: every message, with its latency."""

    seen: dict[tuple[int, int], int] = field(default_factory=dict)
    mangled: int = 0
    latencies_ns: list[int] = field(default_factory=list)

    def record(self, line: bytes, now_ns: int) -> None:
        """Account for one line: a whole message, or a mangled one (cut, or run together)."""
        if MARK not in line:
            return
        payloads = parse_line(line)
        merged = len(payloads) > 1
        for payload in payloads:
            if payload is None or merged:
                self.mangled += 1
            if payload is None:
                continue
            key = (payload.sender, payload.seq)
            self.seen[key] = self.seen.get(key, 0) + 1
            self.latencies_ns.append(now_ns - payload.sent_ns)

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.seen.values() if n > 1)

    def lost(self, expected: Iterable[tuple[int, int]]) -> int:
        return sum(1 for key in expected if key not in self.seen)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by the nearest-rank method; NaN for no values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


@dataclass(frozen=True, slots=True)
class Tally:
    """Deliveries of one run, from counters on every client and parsed samples."""

    expected: int
    delivered: int
    lost: int
    duplicated: int
    mangled: int


def tally(
    expected: int,
    counted: int,
    samples: Sequence[SampleLog],
    sample_expected: Sequence[set[tuple[int, int]]],
) -> Tally:
    """Lost is what never arrived anywhere; duplicates and mangling come from the samples.

    A count above the expected one means duplicates on clients that were not sampled.
    """
    duplicated = sum(s.duplicates for s in samples)
    mangled = sum(s.mangled for s in samples)
    sampled_lost = sum(s.lost(e) for s, e in zip(samples, sample_expected, strict=True))
    lost = max(expected - counted, sampled_lost, 0)
    duplicated = max(duplicated, counted - expected)
    return Tally(expected, counted, lost, duplicated, mangled)
