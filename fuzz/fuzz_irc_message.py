"""Fuzz IRC message parsing: only IrcParseError, sound values, and serialize-parse round trips."""

from __future__ import annotations

from _harness import fuzz, instrumented

with instrumented(__name__):
    from tertulia.protocols.irc import (
        BODY_LIMIT,
        CLIENT_TAGS_LIMIT,
        IrcParseError,
        Message,
        escape_tag,
        parse,
        serialize,
        unescape_tag,
    )
    from tertulia.protocols.irc.message import MAX_PARAMS


def check(msg: Message) -> None:
    """A parsed message holds what the grammar allows and nothing else."""
    assert msg.command and msg.command.isascii() and msg.command.isprintable()
    assert " " not in msg.command and msg.command == msg.command.upper()
    assert msg.source is None or (msg.source and " " not in msg.source)
    assert len(msg.params) <= MAX_PARAMS
    for param in msg.params[:-1]:
        assert param and " " not in param and not param.startswith(":")
    for key, value in msg.tags.items():
        assert key and not any(c in key for c in "; =")
        assert unescape_tag(escape_tag(value)) == value
    assert not any("\0" in p for p in msg.params)


def test_one_input(data: bytes) -> None:
    try:
        msg = parse(data)
    except IrcParseError as err:
        # The command is named back in FAIL and 417: one word, whatever bytes it had.
        assert err.reason and " " not in err.command
        return
    check(msg)
    if not msg.command.isalnum():
        # Parsing takes any printable word so that the door can answer 421; only words
        # and numerics are ever serialized ("@ @X" would come back as tags).
        return
    try:
        line = serialize(msg)
    except ValueError:
        # A CR or LF inside a parameter: the door's replies show it as "*" instead.
        assert any(c in p for p in msg.params for c in "\r\n")
        return
    tags, _, body = line.partition(b" ") if line.startswith(b"@") else (b"", b"", line)
    if len(tags) + 2 > CLIENT_TAGS_LIMIT or len(body) > BODY_LIMIT:
        return  # escaping and a trailing colon can make the line longer than it came
    assert parse(line) == msg, line


if __name__ == "__main__":
    fuzz(test_one_input, "irc.dict")
