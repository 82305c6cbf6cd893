"""How account passwords are kept: scrypt hashes, the only form a store ever holds.

The server hashes at registration and checks at login (server/accounts.py); `tertulia
admin reset-password` hashes too, on a running server or on the store of a stopped one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# scrypt's cost: 16 MiB of memory and some 50 ms per hash, as OWASP suggests for logins.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD = 6


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, secret: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = secret.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(got, expected)


def well_formed(secret: str) -> bool:
    """Whether `secret` reads as a hash hash_password made (not whether a password fits)."""
    try:
        scheme, n, r, p, salt, digest = secret.split("$")
        return (
            scheme == "scrypt"
            and min(int(n), int(r), int(p)) > 0
            and bool(
                base64.b64decode(salt, validate=True) and base64.b64decode(digest, validate=True)
            )
        )
    except ValueError:
        return False
