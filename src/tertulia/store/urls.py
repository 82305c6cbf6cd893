"""Store URLs shown to people: the password masked in a URL, and taken out of error text."""

from __future__ import annotations

import re
from urllib.parse import unquote

MASK = "***"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
# A libpq key=value setting whose key ends in "password" (password, sslpassword): its
# value in single quotes, or bare up to a blank; a backslash escapes in both.
_SETTING = re.compile(r"(?i)(password\s*=\s*)('(?:\\.|[^'\\])*'?|(?:\\.|[^\s\\]|\\$)*)", re.S)
_CLOSED = re.compile(r"(?:\\.|[^'\\])*'", re.S)  # a quoted value's rest, closing quote included
# user:password@ in what is not a URL (a mistyped scheme: postgresql:/ana:secret@db).
_LOOSE_USERINFO = re.compile(r"([^\s:@/]*):([^\s@]+)@")
# Where a query seems to begin: "?" and a parameter's name and "=".
_QUERY = re.compile(r"\?[\w%.-]+=")
# A password's pieces apart (what a parser that cut it at one of these may quote) that are
# shorter than this stay in the text: they tell little, and taking every "a" out of an
# error line would garble it.
_PIECE = 3
_CUTS = re.compile(r"[@/?#:,&=\s]")


def split(url: str) -> tuple[str, str] | None:
    """(scheme, what follows "://") of a URL; None for what is not one."""
    scheme, sep, rest = url.partition("://")
    if not sep or not _SCHEME.fullmatch(scheme):
        return None
    return scheme, rest


def redacted(url: str) -> str:
    """The store URL as typed with its password shown as ***, in the user info and in a
    `password=` parameter; in what is not a URL (libpq's key=value settings), its
    `password=` values masked. A URL without a password comes back unchanged. Never raises.

    The host part is never parsed (host lists, IPv6 in brackets): the user info is cut out
    of the text, as wide as either reading of it takes it (see _userinfo_end)."""
    parts = split(url)
    if parts is None:
        masked = _SETTING.sub(lambda m: m.group(1) + MASK, url)
        return _LOOSE_USERINFO.sub(lambda m: f"{m.group(1)}:{MASK}@", masked)
    scheme, rest = parts
    if scheme.lower() == "sqlite":
        return url  # a file name: no password in it
    at = _userinfo_end(rest)
    head, tail = rest[: max(at, 0)], rest[max(at, 0) :]
    user, colon, _ = head.partition(":")
    if colon:
        head = f"{user}:{MASK}"
    before, question, query = tail.partition("?")
    if question:
        tail = before + question + _masked_query(query)
    return f"{scheme}://{head}{tail}"


def scrubbed(text: str, url: str) -> str:
    """`text` (an error from the store, which may quote what it failed to parse) with
    `url`'s passwords replaced by ***: as typed, percent-decoded, the user:password token,
    and the longer pieces of them a parser that cut them short may quote."""
    for secret in sorted(_secrets(url), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _userinfo_end(rest: str) -> int:
    """Where the user info of a URL's part after "://" ends (its "@"), -1 if it has none.

    The widest of two readings: libpq's (the first "@" before the first "/", so that a
    "?" in a password is the password's) and the last "@" before the query (so that a "/"
    in a password, as base64 has, is too)."""
    slash = rest.find("/")
    first = rest.find("@", 0, slash if slash >= 0 else len(rest))
    query = _QUERY.search(rest)
    last = rest.rfind("@", 0, query.start() if query else len(rest))
    return max(first, last)


def _masked_query(query: str) -> str:
    parts = re.split(r"([&;])", query)
    for i in range(0, len(parts), 2):
        key, equals, _ = parts[i].partition("=")
        if equals and _is_password(key):
            parts[i] = key + equals + MASK
    return "".join(parts)


def _is_password(key: str) -> bool:
    return unquote(key).strip().lower().endswith("password")


def _secrets(url: str) -> set[str]:
    found: set[str] = set()
    parts = split(url)
    if parts is None:
        for match in _SETTING.finditer(url):
            value = body = match.group(2)
            found.add(value)
            if value.startswith("'"):
                body = value[1:]
                if _CLOSED.fullmatch(body):
                    body = body[:-1]
            found |= _forms(re.sub(r"\\(.)", r"\1", body, flags=re.S))
        for match in _LOOSE_USERINFO.finditer(url):
            found |= _forms(match.group(2))
    elif parts[0].lower() != "sqlite":
        rest = parts[1]
        at = _userinfo_end(rest)
        user, colon, password = rest[: max(at, 0)].partition(":")
        if colon and password:
            found |= _forms(password)
            found.add(f"{user}:{password}")
        _, question, query = rest[max(at, 0) :].partition("?")
        for param in re.split(r"[&;]", query) if question else ():
            key, equals, value = param.partition("=")
            if equals and _is_password(key):
                found |= _forms(value)
    found.discard("")
    return found


def _forms(password: str) -> set[str]:
    """A password as typed and percent-decoded, and its longer pieces."""
    forms = {password, unquote(password)}
    for form in list(forms):
        forms.update(piece for piece in _CUTS.split(form) if len(piece) >= _PIECE)
    return forms
