"""The server side of TLS, for every door and for `tertulia check-config`."""

from __future__ import annotations

import ssl

from tertulia.core.errors import TlsUnusable


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """The system's defaults (TLS 1.2 and up) with this certificate and key.

    Raises TlsUnusable (one line for the operator) when the files cannot be used.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise TlsUnusable(reason=str(getattr(exc, "strerror", None) or exc)) from None
    return context
