"""IRC messages (RFC 1459/2812 with IRCv3 message tags): bytes to values and back, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

# The body (source, command, parameters and CRLF) is limited to 512 bytes; tags have their
# own allowance of 8191 bytes including the '@' and the space after them, of which a client
# may send 4096 (IRCv3 message-tags, "Size limit").
BODY_LIMIT = 512
TAGS_LIMIT = 8191
CLIENT_TAGS_LIMIT = 4096
MAX_PARAMS = 15
# Commands whose last parameter is text: it always goes out as a trailing one, as most
# servers send it, so that naive clients that read the text after " :" see it.
TEXT_COMMANDS = frozenset(
    {
        "PRIVMSG",
        "NOTICE",
        "TOPIC",
        "PART",
        "QUIT",
        "ERROR",
        "KICK",
        "AWAY",
        "SETNAME",
        "WALLOPS",
        "REDACT",
    }
)

_ESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_UNESCAPES = {";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"}


class IrcParseError(ValueError):
    """A line that is not an IRC message; `reason` says why, for logs and error replies."""

    def __init__(self, reason: str, command: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.command = command


@dataclass(frozen=True, slots=True)
class Message:
    command: str
    params: tuple[str, ...] = ()
    source: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def param(self, index: int, default: str = "") -> str:
        return self.params[index] if index < len(self.params) else default


def unescape_tag(value: str) -> str:
    out: list[str] = []
    chars = iter(value)
    for ch in chars:
        if ch != "\\":
            out.append(ch)
            continue
        nxt = next(chars, None)
        if nxt is None:
            break  # a lone trailing backslash is dropped
        out.append(_ESCAPES.get(nxt, nxt))
    return "".join(out)


def escape_tag(value: str) -> str:
    return "".join(_UNESCAPES.get(ch, ch) for ch in value)


def _parse_tags(raw: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in raw.split(";"):
        if not item:
            continue
        key, _, value = item.partition("=")
        if not key:
            raise IrcParseError("empty tag key")
        tags[key] = unescape_tag(value)  # a later duplicate wins, as the spec says
    return tags


def parse(line: bytes) -> Message:
    """One line, without its CR LF, as a Message; IrcParseError for anything else."""
    line = line.rstrip(b"\r\n")
    tags: dict[str, str] = {}
    if line.startswith(b"@"):
        raw_tags, sep, line = line[1:].partition(b" ")
        if len(raw_tags) + 2 > CLIENT_TAGS_LIMIT:
            raise IrcParseError("tags too long")
        if not sep:
            raise IrcParseError("no command")
        tags = _parse_tags(_text(raw_tags))
        line = line.lstrip(b" ")
    if len(line) + 2 > BODY_LIMIT:
        raise IrcParseError("line too long", _peek_command(line))
    try:
        text = _text(line)
    except IrcParseError as err:
        # Say which command it was, so the refusal can name it (FAIL PRIVMSG INVALID_UTF8).
        raise IrcParseError(err.reason, _peek_command(line)) from None
    source = None
    if text.startswith(":"):
        source, _, text = text[1:].partition(" ")
        if not source:
            raise IrcParseError("empty source")
        text = text.lstrip(" ")
    head, _, rest = text.partition(" ")
    if not head:
        raise IrcParseError("no command")
    # Any printable ASCII word is a command as far as parsing goes: one the server does not
    # know (NONEXISTENT_COMMAND) is the door's to answer with 421, labeled if asked.
    if not (head.isascii() and head.isprintable()):
        raise IrcParseError("bad command", head)
    return Message(head.upper(), _params(rest), source, tags)


def _params(rest: str) -> tuple[str, ...]:
    params: list[str] = []
    while rest:
        rest = rest.lstrip(" ")
        if not rest:
            break
        if rest.startswith(":") or len(params) == MAX_PARAMS - 1:
            params.append(rest.removeprefix(":"))
            break
        param, _, rest = rest.partition(" ")
        params.append(param)
    return tuple(params)


def _text(raw: bytes) -> str:
    if b"\0" in raw:
        raise IrcParseError("NUL in line")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise IrcParseError("invalid UTF-8") from None


def _peek_command(line: bytes) -> str:
    words = line.split(b" ", 2)
    word = words[1] if line.startswith(b":") and len(words) > 1 else words[0]
    return word.decode("ascii", "replace").upper()


def serialize(message: Message) -> bytes:
    """The line for `message`, CR LF included; ValueError if a parameter cannot be sent."""
    parts: list[str] = []
    if message.tags:
        parts.append(
            "@"
            + ";".join(k if v == "" else f"{k}={escape_tag(v)}" for k, v in message.tags.items())
        )
    if message.source:
        parts.append(":" + message.source)
    parts.append(message.command)
    text = message.command in TEXT_COMMANDS or message.command.isdigit()
    for i, param in enumerate(message.params):
        if any(c in param for c in "\r\n\0"):
            raise ValueError(f"parameter {i} holds CR, LF or NUL")
        last = i == len(message.params) - 1
        if last and (text or not param or " " in param or param.startswith(":")):
            parts.append(":" + param)
        elif " " in param or param.startswith(":") or not param:
            raise ValueError(f"parameter {i} cannot be a middle parameter: {param!r}")
        else:
            parts.append(param)
    return (" ".join(parts) + "\r\n").encode()


def fitted(message: Message) -> Message:
    """`message` with its longest parameters cut, on a character boundary, until its body
    fits BODY_LIMIT: a reply quoting what a client sent (a 400-byte nick in a 432)
    must still be a line every client can read. Tags are not counted (their own limit).
    A message serialize refuses is returned as it is, for the caller to repair."""
    params = list(message.params)
    try:
        for _ in range(len(params) + 1):
            over = len(serialize(Message(message.command, tuple(params), message.source)))
            over -= BODY_LIMIT
            if over <= 0 or not params:
                break
            # The longest middle parameter first (what was quoted), then the text.
            i = max(range(len(params) - 1), key=lambda k: len(params[k]), default=-1)
            if i < 0 or len(params[i].encode()) <= over:
                i = len(params) - 1
            raw = params[i].encode()
            params[i] = raw[: max(len(raw) - over, 1)].decode(errors="ignore") or "*"
    except ValueError:
        return message
    if tuple(params) == message.params:
        return message
    return Message(message.command, tuple(params), message.source, message.tags)
