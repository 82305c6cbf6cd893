"""`tertulia bench`: its arguments, the runs they ask for, and a progress bar while they go."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gettext
import shutil
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tertulia.bench import report
from tertulia.bench.scenarios import SCENARIOS, Options, Result
from tertulia.bench.targets import TargetError, open_target
from tertulia.core.errors import N_
from tertulia.i18n import Translate
from tertulia.runtime import raise_fd_limit, run


def _ints(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            gettext.gettext(N_("expected numbers separated by commas: {text!r}")).format(text=text)
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            gettext.gettext(N_("expected positive numbers: {text!r}")).format(text=text)
        )
    return values


def _scenarios(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown or not names:
        choices = ", ".join(SCENARIOS)
        # argparse's own words go through gettext's default domain (tertulia.i18n): these too.
        message = gettext.gettext(N_("unknown scenario {text!r}: choose from {choices}"))
        raise argparse.ArgumentTypeError(message.format(text=text, choices=choices))
    return names


OPTION_HELP = {
    "senders": N_("clients that send"),
    "messages": N_("messages per sender"),
    "size": N_("bytes per message"),
    "window": N_("messages in flight (0: 8 per sender)"),
    "rate": N_("messages per second"),
    "duration": N_("seconds of sending at --rate"),
    "stuck": N_("clients that never read"),
    "rooms": N_("rooms to spread idle clients over"),
    "cycles": N_("connect/disconnect cycles"),
    "parallel": N_("connections opened at once"),
    "hold": N_("seconds to hold before weighing"),
    "sample": N_("receivers parsed for latency"),
    "quiet": N_("seconds without progress that end a run"),
}


# One line per scenario, for `tertulia bench --help`; docs/performance.md has the figures.
SCENARIO_HELP = {
    "fanout": N_(
        "--senders send --messages each, as fast as a window allows, to --clients in one "
        "room: throughput, latency, CPU per delivery, nothing lost or repeated"
    ),
    "latency": N_("messages at a steady --rate for --duration into --clients: latency percentiles"),
    "stall": N_(
        "the fanout burst without, then with, --stuck clients that never read: the others "
        "must not notice"
    ),
    "idle": N_("--clients connect, join and wait --hold seconds: memory per idle client"),
    "churn": N_(
        "--cycles connect, join and leave (--parallel at once) while residents watch: "
        "memory stays flat"
    ),
}


def add_parser(sub: Any, tr: Translate) -> None:
    d = Options()
    # The scenario list keeps one entry per line, so the text is wrapped here, as argparse
    # would wrap it (to the terminal's width less 2).
    columns = max(40, shutil.get_terminal_size().columns - 2)
    name_width = max(map(len, SCENARIO_HELP))
    scenarios = [
        textwrap.fill(
            tr(text), columns, initial_indent=f"  {name:<{name_width}}  ",
            subsequent_indent=" " * (name_width + 4),
        )
        for name, text in SCENARIO_HELP.items()
    ]  # fmt: skip
    about = N_(
        "Measure a chat server under load: tertulia started for the run (--spawn), or any "
        "server by address (--target), beside ngIRCd or the original design. Each run writes "
        "results.jsonl, results.md and plots to --out."
    )
    p = sub.add_parser(
        "bench",
        help=tr(N_("measure a chat server under load")),
        description=textwrap.fill(tr(about), columns),
        epilog="\n".join([tr(N_("scenarios:")), *scenarios]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "scenario",
        type=_scenarios,
        help=tr(N_("fanout, latency, stall, idle or churn; several separated by commas")),
    )
    p.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="SPEC",
        help=tr(
            N_(
                "[name=]URL[,pid=N]: plain://, json://, irc:// or original://127.0.0.1:PORT, "
                "or spawn:plain, spawn:json, spawn:irc, spawn:ngircd, spawn:original; repeatable"
            )
        ),
    )
    p.add_argument(
        "--spawn", action="store_true", help=tr(N_("start a tertulia server on a free port"))
    )
    p.add_argument(
        "--server-pid", type=int, help=tr(N_("process id of a target started elsewhere"))
    )
    p.add_argument(
        "--clients",
        type=_ints,
        default=[d.clients],
        help=tr(N_("clients, or several counts separated by commas")),
    )
    # Each Options field is a flag of the same name, typed and defaulted by the dataclass.
    for name, text in OPTION_HELP.items():
        default = getattr(d, name)
        p.add_argument(f"--{name}", type=type(default), default=default, help=tr(text))
    p.add_argument(
        "--out",
        default="bench-out",
        help=tr(N_("directory for results.jsonl, results.md and plots")),
    )
    p.add_argument("--no-plots", action="store_true", help=tr(N_("skip the PNG plots")))
    p.add_argument("--no-progress", action="store_true", help=tr(N_("no progress bar")))
    p.add_argument(
        "--server-arg",
        action="append",
        default=[],
        metavar="ARG",
        help=tr(N_("extra argument for spawned tertulia servers; repeatable")),
    )
    p.set_defaults(func=cmd_bench)


def options_for(args: argparse.Namespace, clients: int) -> Options:
    return Options(clients=clients, **{name: getattr(args, name) for name in OPTION_HELP})


class RichProgress:
    """A bar per phase, refreshed from the clients' counters: the hot path never touches it."""

    def __init__(self, enabled: bool) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        console = Console(stderr=True)
        self.bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not (enabled and console.is_terminal),
        )
        self.title = ""
        self.current: tuple[Any, Callable[[], int]] | None = None

    def phase(self, label: str, total: int, done: Callable[[], int]) -> None:
        self.refresh()
        task = self.bar.add_task(f"{self.title} {label}", total=total)
        self.current = (task, done)

    def refresh(self) -> None:
        if self.current is not None:
            task, done = self.current
            self.bar.update(task, completed=done())

    @contextlib.contextmanager
    def shown(self) -> Iterator[None]:
        with self.bar:
            yield

    async def tick(self) -> None:
        while True:
            await asyncio.sleep(0.2)  # redraw rate of the bar, not synchronisation
            self.refresh()


async def run_all(args: argparse.Namespace, results: list[Result]) -> None:
    """Run every scenario x clients x target; `results` grows as runs end, so that a run
    that fails later loses nothing of those before it."""
    specs = list(args.target)
    if args.spawn or not specs:
        specs.insert(0, "spawn:plain")
    if args.server_pid is not None:
        specs = [s if "spawn:" in s or "pid=" in s else f"{s},pid={args.server_pid}" for s in specs]
    progress = RichProgress(not args.no_progress)
    with progress.shown():
        ticker = asyncio.create_task(progress.tick())
        try:
            for scenario in args.scenario:
                for clients in args.clients:
                    for spec in specs:
                        target = await open_target(spec, tuple(args.server_arg))
                        progress.title = f"{scenario} {target.name} {clients}c"
                        try:
                            result = await SCENARIOS[scenario](
                                target, options_for(args, clients), progress
                            )
                        finally:
                            await target.stop()
                        if target.retries:
                            result.extra["connect_retries"] = target.retries
                        results.append(result)
                        print(_summary(result), file=sys.stderr, flush=True)
        finally:
            ticker.cancel()


def _summary(r: Result) -> str:
    cpu = f"{r.cpu_us_per_delivery:.3f} µs/delivery" if r.cpu_us_per_delivery else "cpu -"
    bus = "" if r.bus_bytes_per_message is None else f", bus {r.bus_bytes_per_message:,.0f} B/msg"
    return (
        f"{r.scenario} {r.target} {r.clients}c: delivered {r.delivered}/{r.expected}, "
        f"lost {r.lost}, mangled {r.mangled}, {r.deliveries_per_s:,.0f}/s, {cpu}{bus}"
        + (" STALLED" if r.stalled else "")
    )


def cmd_bench(args: argparse.Namespace) -> int:
    raise_fd_limit()
    began = time.perf_counter()
    results: list[Result] = []
    failure = None
    try:
        run(lambda: run_all(args, results))
    except (TargetError, OSError) as err:
        failure = str(err) or type(err).__name__
    if failure is not None and not results:
        print(f"tertulia bench: {failure}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report.write_jsonl(results, out / "results.jsonl")
    table = report.markdown(results)
    (out / "results.md").write_text(table, encoding="utf-8")
    written = [] if args.no_plots else report.plot(results, out)
    print(table)
    print(
        f"{len(results)} runs in {time.perf_counter() - began:.0f} s; results in {out}/"
        + "".join(f", {p.name}" for p in written),
        file=sys.stderr,
    )
    if failure is not None:
        print(f"tertulia bench: {failure}", file=sys.stderr)
        return 1
    return 0
