"""IRCv3 draft/metadata-3: the rules for keys and values, and the capability's limits."""

from __future__ import annotations

import re

MAX_KEYS = 30  # keys one user or room may hold
MAX_SUBS = 50  # keys one client may subscribe to
MAX_VALUE_BYTES = 300  # UTF-8 bytes of one value
CAP_VALUE = (
    f"before-connect,max-subs={MAX_SUBS},max-keys={MAX_KEYS},max-value-bytes={MAX_VALUE_BYTES}"
)

# Keys are lower-case names such as display-name, avatar, pronouns (the spec's grammar).
_KEY = re.compile(r"[a-z0-9_./-]{1,64}")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def valid_key(key: str) -> bool:
    return _KEY.fullmatch(key) is not None


def valid_value(value: str) -> bool:
    return len(value.encode()) <= MAX_VALUE_BYTES and _CONTROL.search(value) is None
