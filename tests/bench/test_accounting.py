"""The generator's accounting, fed bytes: loss, duplicates, mangled lines and percentiles."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode

from tertulia.bench.accounting import (
    MARK,
    MarkCounter,
    Payload,
    SampleLog,
    make_payload,
    parse_line,
    percentile,
    tally,
)
from tertulia.bench.wire import WIRES, split_frames


def test_a_payload_has_the_size_asked_and_parses_back() -> None:
    text = make_payload(3, 42, 123_456_789, 80)
    assert len(text.encode()) == 80
    assert parse_line(b"[b00003] " + text.encode()) == [Payload(3, 42, 123_456_789)]


def test_a_payload_cut_short_is_mangled_not_a_message() -> None:
    text = make_payload(1, 2, 3, 80).encode()
    assert parse_line(text[:60]) == [None]
    log = SampleLog()
    log.record(text[:60], 10)
    assert log.mangled == 1
    assert log.seen == {}


def test_two_payloads_run_together_are_both_mangled() -> None:
    # What the original server does when one recv(200) holds two messages.
    a, b = make_payload(0, 1, 5, 60).encode(), make_payload(0, 2, 6, 60).encode()
    log = SampleLog()
    log.record(b"[x] " + a + b"[x] " + b, 10)
    assert log.mangled == 2
    assert set(log.seen) == {(0, 1), (0, 2)}


def test_duplicates_and_losses_are_counted_per_message() -> None:
    log = SampleLog()
    for seq in (0, 1, 1, 3):
        log.record(make_payload(7, seq, 100, 64).encode(), 150)
    assert log.duplicates == 1
    assert log.lost({(7, s) for s in range(4)}) == 1
    assert log.latencies_ns == [50, 50, 50, 50]


def test_lines_without_a_marker_are_ignored() -> None:
    log = SampleLog()
    log.record(b"* b00001 joined #lobby", 1)
    log.record(b":server PING :x", 1)
    assert (log.mangled, log.seen, log.latencies_ns) == (0, {}, [])


@given(st.lists(st.integers(min_value=1, max_value=50), max_size=20), st.integers(0, 40))
def test_the_counter_finds_every_marker_however_the_stream_is_cut(cuts: list[int], n: int) -> None:
    stream = b"".join(b"[n] " + make_payload(0, i, 0, 50).encode() + b"\n" for i in range(n))
    counter = MarkCounter()
    pos = 0
    for cut in cuts:
        counter.feed(stream[pos : pos + cut])
        pos += cut
    counter.feed(stream[pos:])
    assert counter.count == n == stream.count(MARK)


def test_percentiles_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([4.0], 99) == 4
    assert math.isnan(percentile([], 50))


def test_tally_takes_loss_from_counts_and_duplicates_from_samples() -> None:
    sample = SampleLog()
    for seq in (0, 0, 1):
        sample.record(make_payload(0, seq, 0, 64).encode(), 1)
    t = tally(expected=10, counted=8, samples=[sample], sample_expected=[{(0, 0), (0, 1)}])
    assert (t.expected, t.delivered, t.lost, t.duplicated, t.mangled) == (10, 8, 2, 1, 0)
    # More markers than expected means duplicates on clients that were not sampled.
    t = tally(expected=10, counted=12, samples=[], sample_expected=[])
    assert (t.lost, t.duplicated) == (0, 2)


def test_server_frames_split_whole_and_keep_the_rest() -> None:
    frames = [Frame(Opcode.TEXT, p).serialize(mask=False) for p in (b"a" * 5, b"b" * 300)]
    stream = b"".join(frames) + frames[0][:3]
    payloads, rest = split_frames(stream)
    assert payloads == [b"a" * 5, b"b" * 300] and rest == frames[0][:3]
    # The web wire skips the upgrade's response first, and waits for the whole of it.
    web = WIRES["web"]
    assert web.split(b"HTTP/1.1 101 Switching") == ([], b"HTTP/1.1 101 Switching")
    assert web.split(b"HTTP/1.1 101 OK\r\n\r\n" + frames[0]) == ([b"a" * 5], b"")
