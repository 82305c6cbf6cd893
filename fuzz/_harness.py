"""What the fuzz targets share: instrumentation under atheris, and chunkings of an input."""

from __future__ import annotations

import contextlib
import importlib
import itertools
import random
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Coverage guides atheris through these packages' code only (the standard library's is
# noise); websockets parses the web door's requests and frames.
INSTRUMENTED = ["tertulia", "websockets"]


def instrumented(name: str) -> contextlib.AbstractContextManager[Any]:
    """Around a target's imports: instruments them when the target runs as a script under
    atheris, and does nothing when the corpus test imports it (atheris is not needed)."""
    if name != "__main__":
        return contextlib.nullcontext()
    atheris = importlib.import_module("atheris")
    manager: contextlib.AbstractContextManager[Any] = atheris.instrument_imports(
        include=INSTRUMENTED
    )
    return manager


def fuzz(test: Callable[[bytes], None], tokens: str | None = None) -> None:
    """Run `test` under atheris with the command line's libFuzzer flags, and the target's
    dictionary of tokens (fuzz/dicts/) unless the command line names one."""
    atheris = importlib.import_module("atheris")
    argv = list(sys.argv)
    if tokens and not any(arg.startswith("-dict=") for arg in argv):
        argv.append(f"-dict={Path(__file__).parent / 'dicts' / tokens}")
    atheris.Setup(argv, test)
    atheris.Fuzz()


def chunkings(data: bytes) -> list[list[bytes]]:
    """Ways to deliver `data` as a peer's writes: whole, byte by byte, and cut at places
    drawn from the input itself, so that a corpus file replays the same cuts every time."""
    draw = random.Random(zlib.crc32(data))
    cuts = sorted({draw.randrange(len(data) + 1) for _ in range(draw.randrange(1, 9))})
    bounds = [0, *cuts, len(data)]
    return [
        [data],
        [data[i : i + 1] for i in range(len(data))],
        [data[a:b] for a, b in itertools.pairwise(bounds)],
    ]
