"""One server per data directory: a lock held while it serves, so that a second server
started on the same directory stops with one line instead of sharing the first one's
store and taking its admin socket."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from tertulia.core.errors import N_, TertuliaError

LOCK = "tertulia.lock"


class DataDirBusy(TertuliaError):
    code = "data_dir_busy"
    template = N_("another tertulia server is using {path} (process {pid})")


class DataDirLock:
    """An advisory lock (flock) on a file in the data directory. The kernel drops it when
    the process ends, however it ends: a server killed with SIGKILL leaves no stale lock."""

    def __init__(self, data_dir: str | Path) -> None:
        self.path = Path(data_dir) / LOCK
        self._fd: int | None = None

    def acquire(self) -> None:
        """Hold the lock; DataDirBusy if another process does."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise DataDirBusy(path=str(self.path.parent), pid=pid) from None
        # Which process holds it, for the operator who finds the second one refused.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        # The file stays: unlinking it would let a third server lock a new file while a
        # second still waits on the old one.
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def in_use(data_dir: str | Path) -> bool:
    """Whether a running server holds `data_dir` (for `tertulia admin` on a stopped one)."""
    path = Path(data_dir) / LOCK
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
