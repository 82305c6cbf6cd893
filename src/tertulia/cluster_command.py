"""`tertulia cluster status`: every node of a cluster as it last told Redis, for operators."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from tertulia import config
from tertulia.bus import Bus, BusDown, from_url
from tertulia.core.errors import N_, TertuliaError
from tertulia.i18n import Translate, translator
from tertulia.runtime import run
from tertulia.store.urls import redacted, scrubbed

PREFIX = "tertulia: "

# Column headings, then which columns hold numbers (right-aligned, as ps and df do).
HEADINGS = (
    N_("NODE"),
    N_("HOST"),
    N_("PID"),
    N_("CLIENTS"),
    N_("CONNECTIONS"),
    N_("LAG MS"),
    N_("FACTS OUT/IN"),
    N_("BEAT S AGO"),
    N_("ADDRESSES"),
)
NUMBERS = frozenset({2, 3, 4, 5, 6, 7})
GAP = "  "


class Failure(Exception):
    """The cluster cannot be asked: exit 1, one line."""


class UsageError(Exception):
    """No address, or one that cannot name a Redis: exit 2, one line."""


def add_parser(sub: Any, tr: Translate) -> None:
    cluster = sub.add_parser(
        "cluster",
        help=tr(N_("look at the nodes of a cluster")),
        description=tr(N_("Look at a cluster of tertulia servers through its Redis.")),
    )
    actions = cluster.add_subparsers(dest="action", metavar="ACTION")
    p = actions.add_parser(
        "status",
        help=tr(N_("list the live nodes of a cluster, their clients and their lag")),
        description=tr(
            N_(
                "List every live node of the cluster as it last told Redis (at start and at "
                "every heartbeat, each third of the lease): host, process, clients, "
                "connections, lag, facts out and in, seconds since its heartbeat and its "
                "addresses; then nodes whose lease lapsed and that no live node has forgotten "
                "yet, as lost. Exit 1 when Redis cannot be reached."
            )
        ),
    )
    p.add_argument(
        "--cluster",
        metavar="URL",
        help=tr(N_("the cluster's Redis, redis://HOST:PORT/DB (or TERTULIA_CLUSTER)")),
    )
    p.add_argument("--config", help=tr(N_("TOML configuration file")))
    p.add_argument(
        "--json",
        action="store_true",
        help=tr(N_('one JSON object for scripts, with "nodes" and "lost"')),
    )
    p.add_argument("--lang", help=tr(N_("language of user-facing text: en or es")))
    p.set_defaults(func=cmd_status)

    def usage(args: argparse.Namespace) -> int:
        cluster.print_help(sys.stderr)
        return 2

    cluster.set_defaults(func=usage)


def cmd_status(args: argparse.Namespace) -> int:
    tr = translator(args.lang or "")
    try:
        # The same sources as `serve` (flag, TERTULIA_CLUSTER, --config): an operator asks
        # about the cluster the servers were started on, however it was given to them.
        settings = config.load(
            {"cluster": args.cluster, "lang": args.lang}, config_file=args.config
        )
    except TertuliaError as err:
        print(PREFIX + err.render(tr), file=sys.stderr)
        return 2
    tr = translator(settings.lang)
    try:
        bus = _bus(settings.cluster, tr)
    except UsageError as exc:
        print(PREFIX + str(exc), file=sys.stderr)
        return 2
    try:
        alive, lost = run(lambda: _ask(bus, settings.cluster, tr))
    except Failure as exc:
        print(PREFIX + str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    nodes = [_node(name, info, time.time()) for name, info in sorted(alive.items())]
    if args.json:
        print(json.dumps({"nodes": nodes, "lost": lost}, ensure_ascii=False), flush=True)
    else:
        for line in table(nodes, lost, _where(bus), tr):
            print(line)
    return 0


def _where(bus: Bus) -> str:
    # bus.where drops the user info; a password given as ?password=... would still show.
    return redacted(bus.where)


def _bus(url: str, tr: Translate) -> Bus:
    if not url.strip():
        raise UsageError(
            tr(N_("which cluster? give --cluster redis://HOST:PORT/DB or set TERTULIA_CLUSTER"))
        )
    try:
        return from_url(url)
    except BusDown:
        line = tr(N_("cannot use {url}: it is not a Redis address (redis://HOST:PORT/DB)"))
        raise UsageError(line.format(url=redacted(url))) from None
    except ValueError as exc:  # redis-py's own parsing: a port that is not a number, ...
        line = tr(N_("cannot use {url}: {reason}"))
        raise UsageError(line.format(url=redacted(url), reason=_one_line(exc, url))) from None


async def _ask(bus: Bus, url: str, tr: Translate) -> tuple[dict[str, bytes], list[str]]:
    """The live nodes with what each last said, and the known ones that are not alive."""
    try:
        await bus.open()
        # Known first: a node joining between the two reads is then alive and not lost;
        # the other order would call it lost.
        known = await bus.known()
        alive = await bus.nodes()
    except BusDown as exc:
        line = tr(N_("cannot reach the cluster at {where}: {reason}"))
        raise Failure(line.format(where=_where(bus), reason=_one_line(exc, url))) from None
    finally:
        # What Redis answered (or why it did not) is the news; a failed close adds none.
        with contextlib.suppress(Exception):
            await bus.close()
    return alive, [name for name in known if name not in alive]


def _one_line(exc: BaseException, url: str) -> str:
    """An error's text on one line, or its name, without the URL's password."""
    return " ".join(scrubbed(str(exc), url).split()) or type(exc).__name__


def _node(name: str, info: bytes, now: float) -> dict[str, Any]:
    """What the node wrote of itself (server.cluster's Cluster._info), its name as Redis
    knows it, and `age`: seconds since its last heartbeat by this machine's clock."""
    try:
        found = json.loads(info)
    except ValueError:
        found = None
    node: dict[str, Any] = found if isinstance(found, dict) else {}
    node["node"] = name
    at = node.get("at")
    # Clocks of two machines differ: a heartbeat "from the future" is shown as just now.
    node["age"] = round(max(0.0, now - at), 3) if isinstance(at, int | float) else None
    return node


def table(
    nodes: Sequence[dict[str, Any]], lost: Sequence[str], where: str, tr: Translate
) -> list[str]:
    """The lines to print: a heading, a row per live node, a line per lost node, a summary.
    A field a node did not write (another version) shows as "-"."""
    lines: list[str] = []
    if nodes:
        rows = [[tr(heading) for heading in HEADINGS]] + [_row(node) for node in nodes]
        widths = [max(len(row[i]) for row in rows) for i in range(len(HEADINGS) - 1)]
        for row in rows:
            cells = [
                cell.rjust(width) if i in NUMBERS else cell.ljust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=False))
            ]
            lines.append(GAP.join([*cells, row[-1]]).rstrip())
    else:
        lines.append(tr(N_("no live node in the cluster at {where}")).format(where=where))
    for name in lost:
        line = tr(
            N_("{node}: lost (its lease lapsed; a live node forgets it at its next heartbeat)")
        )
        lines.append(line.format(node=name))
    clients = sum(n["clients"] for n in nodes if isinstance(n.get("clients"), int))
    if lost:
        summary = tr(N_("nodes: {nodes}, clients: {clients}, lost: {lost}"))
    else:
        summary = tr(N_("nodes: {nodes}, clients: {clients}"))
    lines.append(summary.format(nodes=len(nodes), clients=clients, lost=len(lost)))
    return lines


def _row(node: dict[str, Any]) -> list[str]:
    def text(key: str) -> str:
        value = node.get(key)
        return "-" if value is None or isinstance(value, dict | list) else str(value)

    lag = node.get("lag")
    facts = f"{text('facts_out')}/{text('facts_in')}"
    addresses = node.get("addresses")
    return [
        text("node"),
        text("host"),
        text("pid"),
        text("clients"),
        text("connections"),
        f"{lag * 1000:.1f}" if isinstance(lag, int | float) else "-",
        facts,
        f"{node['age']:.1f}" if node.get("age") is not None else "-",
        " ".join(map(str, addresses)) if isinstance(addresses, list) and addresses else "-",
    ]
