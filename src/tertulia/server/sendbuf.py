"""What the kernel holds of a socket's output: a cap on its send buffer, and a count of it.

A client that stops reading leaves its output in two places: the transport's buffer, which
we count, and the kernel's send buffer, which Linux grows on its own up to `tcp_wmem`'s
maximum (4 MiB by default) out of sight. Capping the latter keeps most unread output where
it is counted, and asking the kernel how much it still holds (SIOCOUTQ) lets the bound on
unsent bytes cover both.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
from typing import Any

# The most a client's socket may buffer in the kernel (Linux doubles the figure for its
# bookkeeping). 64 KiB keeps a chat client fed across any ordinary link: at 100 ms of round
# trip it still carries over a megabyte a second.
KERNEL_SEND_BUFFER = 64 * 1024
SMALLEST = 4096  # below this, TCP itself suffers


def cap_send_buffer(sock: Any, budget: int) -> int:
    """Cap `sock`'s kernel send buffer to a share of `budget`; return how many bytes the
    kernel may then hold for it (its own figure, doubled on Linux).

    `sock` is whatever the transport gives as its "socket" (asyncio's TransportSocket,
    uvloop's PseudoSocket). Where the kernel will not say, the size asked for is taken.
    """
    wanted = max(SMALLEST, min(KERNEL_SEND_BUFFER, budget // 4))
    with contextlib.suppress(AttributeError, OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, wanted)
    try:
        size: int = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    except (AttributeError, OSError):
        return wanted
    return size


if sys.platform == "linux":
    import fcntl
    import termios

    _INT = struct.Struct("i")
    _ZERO = bytes(_INT.size)

    def kernel_queue(fd: int, assumed: int) -> int:
        """Bytes written to socket `fd` that its peer has not acknowledged yet (SIOCOUTQ,
        which is TIOCOUTQ's number); `assumed` if the kernel will not say."""
        try:
            return int(_INT.unpack(fcntl.ioctl(fd, termios.TIOCOUTQ, _ZERO))[0])
        except (OSError, ValueError):  # not a socket (any more), or no descriptor at all
            return assumed

else:  # pragma: no cover - only Linux answers SIOCOUTQ

    def kernel_queue(fd: int, assumed: int) -> int:
        """Elsewhere, assume the worst: the kernel's buffer is full."""
        return assumed
