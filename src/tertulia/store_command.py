"""`tertulia store copy`: move a whole store into another, with progress, and tell how it went."""

from __future__ import annotations

import argparse
import contextlib
import gettext
import logging
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from tertulia.core.errors import N_
from tertulia.i18n import Translate, translator
from tertulia.store import Store, StoreError, from_url
from tertulia.store.copy import BATCH, Conflict, NotACopy, Progress, Report, copy_store
from tertulia.store.sqlite import SqliteStore
from tertulia.store.urls import redacted, scrubbed

PREFIX = "tertulia store copy: "
SHOWN_REFUSED = 20  # refused ids listed by number; past these, how many more
REDRAW = 0.1  # seconds between two drawings of the bar: a terminal need not see every batch

CONFLICTS = {
    Conflict.AHEAD: N_(
        "{destination} is not a copy of {source}: it has handed out message ids up to {id}, "
        "past the source's last id {last}; copy into an empty store"
    ),
    Conflict.FOREIGN: N_(
        "{destination} already holds messages that are not from {source}: its newest message, "
        "id {id}, is not the source's message of that id; copy into an empty store"
    ),
    Conflict.NOT_EMPTY: N_(
        "{destination} is not empty (it holds accounts, bans, rooms or reactions but no "
        "messages) and is not a copy of {source}; copy into an empty store"
    ),
}


class Failure(Exception):
    """The copy cannot start or did not finish: exit 1, one line."""


class UsageError(Exception):
    """A URL or a file that cannot name a store: exit 2, one line."""


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        # argparse's own words go through gettext's default domain (tertulia.i18n): these too.
        message = gettext.gettext(N_("expected a positive number: {text!r}"))
        raise argparse.ArgumentTypeError(message.format(text=text))
    return value


def add_parser(sub: Any, tr: Translate) -> None:
    store = sub.add_parser(
        "store",
        help=tr(N_("move history and accounts between stores")),
        description=tr(N_("Work on a store of history and accounts while no server uses it.")),
    )
    actions = store.add_subparsers(dest="action", metavar="ACTION")
    p = actions.add_parser(
        "copy",
        help=tr(N_("copy a whole store into another (SQLite, PostgreSQL)")),
        description=tr(
            N_(
                "Copy every message, account, offline message, server ban, registered room "
                "and reaction, and the highest message id handed out, from SRC_URL into "
                "DST_URL, then compare the count of every table. Interrupted, the same "
                "command goes on from where it stopped. Stop the server first: a copy of a "
                "store in use is what each batch found when it was read. Opening a store "
                "upgrades its schema, the source's too."
            )
        ),
    )
    p.add_argument(
        "source",
        metavar="SRC_URL",
        help=tr(N_("the store to copy: sqlite:///FILE (an existing file) or postgresql://...")),
    )
    p.add_argument(
        "destination",
        metavar="DST_URL",
        help=tr(N_("where to copy it: an empty store, or one this command began to fill")),
    )
    p.add_argument(
        "--batch",
        type=_positive,
        default=BATCH,
        help=tr(N_("messages per read and per transaction (default 5000)")),
    )
    p.add_argument("--lang", help=tr(N_("language of user-facing text: en or es")))
    p.set_defaults(func=cmd_copy)

    def usage(args: argparse.Namespace) -> int:
        store.print_help(sys.stderr)
        return 2

    store.set_defaults(func=usage)


class Display:
    """Progress on stderr: a bar redrawn in place on a terminal, elsewhere a line at every
    tenth of the way (for logs and for whoever waits on them)."""

    def __init__(
        self,
        stream: TextIO,
        tr: Translate,
        clock: Callable[[], float] = time.monotonic,
        columns: int | None = None,
    ) -> None:
        self.stream = stream
        self.tr = tr
        self.clock = clock
        self.tty = stream.isatty()
        self.began = clock()
        self.first: Progress | None = None
        self.last: Progress | None = None
        self.next_tenth = 1  # the next tenth that earns a plain line
        self.drawn = float("-inf")  # when the bar was last drawn
        self.bar_shown = False
        # The bar keeps one width, leaving room for the text beside it on one line.
        columns = columns or shutil.get_terminal_size((80, 24)).columns
        self.cells = max(10, min(30, columns - 70))

    def __call__(self, p: Progress) -> None:
        if self.first is None:
            self.first = p
            if p.resumed_after is not None:
                self.line(
                    self.tr(
                        N_(
                            "resuming after message {id}: the destination holds {held} "
                            "messages of this source"
                        )
                    ).format(id=p.resumed_after, held=p.done)
                )
            if p.total:
                self.next_tenth = p.done * 10 // p.total + 1
        self.last = p
        if not p.total:
            return
        tenths = p.done * 10 // p.total
        finished = p.done >= p.total
        if self.tty:
            now = self.clock()
            if now - self.drawn >= REDRAW or finished:
                self.drawn = now
                self.draw(p)
        elif tenths >= self.next_tenth:
            self.next_tenth = tenths + 1
            self.line(self.text(p))

    def text(self, p: Progress) -> str:
        percent = min(100, p.done * 100 // p.total) if p.total else 100
        return self.tr(N_("{done} of {total} messages, {percent}%, {rate} a second")).format(
            done=p.done, total=p.total, percent=percent, rate=self.rate(p)
        )

    def rate(self, p: Progress) -> int:
        """Messages read a second this run (what the destination took or refused)."""
        start = self.first.done if self.first is not None else 0
        elapsed = max(self.clock() - self.began, 1e-6)
        return round((p.done - start) / elapsed)

    def draw(self, p: Progress) -> None:
        text = self.text(p)
        cells = self.cells
        filled = min(cells, cells * p.done // p.total)
        bar = "#" * filled + "-" * (cells - filled)
        # \r back to the line's start, then the line, then clear what a longer one left.
        self.stream.write(f"\r[{bar}] {text}\x1b[K")
        self.stream.flush()
        self.bar_shown = True

    def line(self, text: str) -> None:
        self.done_drawing()
        print(text, file=self.stream, flush=True)

    def done_drawing(self) -> None:
        """End the bar's line, so that what follows starts on a line of its own."""
        if self.bar_shown:
            self.stream.write("\n")
            self.stream.flush()
            self.bar_shown = False


def _store(url: str, tr: Translate, must_exist: bool) -> Store:
    if not url.strip():
        raise UsageError(tr(N_("a store URL is needed: sqlite:///FILE or postgresql://...")))
    try:
        # data_dir is for an empty URL, refused above: no store is made in a default place.
        store = from_url(url, data_dir="/nonexistent")
    except StoreError as exc:
        raise UsageError(
            tr(N_("cannot use {url}: {reason}")).format(
                url=redacted(url), reason=_one_line(exc, url)
            )
        ) from exc
    if isinstance(store, SqliteStore):
        # Opening a SQLite file creates it: a mistyped source must not become an empty
        # store. And opening narrows the file's mode, which a directory must not suffer.
        if must_exist and not store.path.is_file():
            line = tr(N_("no file {path}: a SQLite source must be an existing file"))
            raise UsageError(line.format(path=store.path))
        if store.path.exists() and not store.path.is_file():
            line = tr(N_("{path} is not a file: a SQLite store is one file"))
            raise UsageError(line.format(path=store.path))
    return store


def _identity(store: Store) -> str:
    if isinstance(store, SqliteStore):
        return str(store.path.resolve())
    return store.where


def _one_line(exc: BaseException, *urls: str) -> str:
    """An exception's text on one line (libpq's messages span several), or its name, and
    never a password of `urls` (libpq may quote the part of a URL it could not parse)."""
    text = str(exc)
    for url in urls:
        text = scrubbed(text, url)
    return " ".join(text.split()) or type(exc).__name__


@contextlib.contextmanager
def _opened(store: Store, url: str, tr: Translate) -> Iterator[Store]:
    """The store opened (migrated) from `url`, closed on the way out, even after Ctrl-C."""
    try:
        store.open()
    except Exception as exc:  # StoreError, OSError, sqlite3.Error, and what else may come
        line = tr(N_("cannot open {where}: {reason}"))
        raise Failure(line.format(where=store.where, reason=_one_line(exc, url))) from exc
    try:
        yield store
    finally:
        # A second Ctrl-C while the stores close would leave a traceback, not a faster exit.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            with contextlib.suppress(Exception):  # the copy's own error is the one to tell
                store.close()
        finally:
            signal.signal(signal.SIGINT, previous)


def cmd_copy(args: argparse.Namespace) -> int:
    tr = translator(args.lang or "")
    try:
        source = _store(args.source, tr, must_exist=True)
        destination = _store(args.destination, tr, must_exist=False)
    except UsageError as exc:
        print(PREFIX + str(exc), file=sys.stderr)
        return 2
    if _identity(source) == _identity(destination):
        line = tr(N_("the source and the destination are the same store: {where}"))
        print(PREFIX + line.format(where=source.where), file=sys.stderr)
        return 2
    # The pool's warnings (a connection discarded when PostgreSQL goes away) would come
    # before the one line that says what happened, and say less.
    logging.getLogger("psycopg").setLevel(logging.ERROR)
    display = Display(sys.stderr, tr)
    began = time.monotonic()
    try:
        with _opened(source, args.source, tr), _opened(destination, args.destination, tr):
            urls = (args.source, args.destination)
            report = _copy(source, destination, urls, args.batch, display, tr)
    except Failure as exc:
        display.done_drawing()
        print(PREFIX + str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        display.done_drawing()
        copied = display.last.copied if display.last is not None else 0
        line = tr(
            N_(
                "interrupted after copying {copied} messages: run the same command again "
                "to go on from where it stopped"
            )
        )
        print(PREFIX + line.format(copied=copied), file=sys.stderr)
        return 130
    display.done_drawing()
    return _tell(report, source, destination, time.monotonic() - began, tr)


def _copy(
    source: Store,
    destination: Store,
    urls: tuple[str, str],
    batch: int,
    display: Display,
    tr: Translate,
) -> Report:
    try:
        return copy_store(source, destination, batch, display)
    except NotACopy as exc:
        raise Failure(
            tr(CONFLICTS[exc.conflict]).format(
                destination=destination.where,
                source=source.where,
                id=exc.message_id,
                last=exc.source_id,
            )
        ) from exc
    except Exception as exc:
        # A lost connection, a full disk, a locked file: whatever was committed stays, and
        # the next run goes on from there.
        line = tr(
            N_(
                "the copy stopped: {reason}; what was copied is kept: run the same command "
                "again to go on from where it stopped"
            )
        )
        raise Failure(line.format(reason=_one_line(exc, *urls))) from exc


def _tell(report: Report, source: Store, destination: Store, seconds: float, tr: Translate) -> int:
    """The refused messages, then one line: verified (0) or what differs (1)."""
    if report.refused:
        shown = ", ".join(str(i) for i in report.refused[:SHOWN_REFUSED])
        more = len(report.refused) - SHOWN_REFUSED
        if more > 0:
            shown += " " + tr(N_("and {count} more")).format(count=more)
        line = tr(
            N_(
                "{count} messages refused by the destination (text it cannot hold), left out "
                "with {rows} offline messages and reactions of theirs: ids {ids}"
            )
        )
        rows = sum(report.skipped.values())
        print(
            PREFIX + line.format(count=len(report.refused), rows=rows, ids=shown), file=sys.stderr
        )
    if not report.verified:
        differences = "; ".join(
            tr(N_("{table}: {expected} expected, {found} found")).format(
                table=table, expected=expected, found=found
            )
            for table, expected, found in report.differences
        )
        line = tr(
            N_(
                "the copy does not match the source: {differences} (a server using the source "
                "during the copy changes it: stop it and run the same command again)"
            )
        )
        print(PREFIX + line.format(differences=differences), file=sys.stderr)
        return 1
    counts = report.destination
    fields = {
        "messages": counts["messages"],
        "accounts": counts["accounts"],
        "offline": counts["offline"],
        "bans": counts["server_bans"],
        "rooms": counts["rooms"],
        "reactions": counts["reactions"],
        "destination": destination.where,
        "last": report.last_id,
        "copied": report.copied,
        "seconds": f"{seconds:.1f}",
        "rate": round(report.copied / max(seconds, 1e-6)),
        "refused": len(report.refused),
    }
    if report.refused:
        template = N_(
            "verified: {destination} holds {messages} messages, {accounts} accounts, {offline} "
            "offline messages, {bans} server bans, {rooms} registered rooms and {reactions} "
            "reactions, as the source does less the {refused} refused messages and their "
            "rows; last id {last}; {copied} messages copied in {seconds} s ({rate} a second)"
        )
    else:
        template = N_(
            "verified: {destination} holds {messages} messages, {accounts} accounts, {offline} "
            "offline messages, {bans} server bans, {rooms} registered rooms and {reactions} "
            "reactions, as the source does; last id {last}; {copied} messages copied in "
            "{seconds} s ({rate} a second)"
        )
    print(tr(template).format(**fields), flush=True)
    return 0
