"""Fuzz JSON-lines requests: only user errors, a one-line reply for each, and round trips."""

from __future__ import annotations

import json

from _harness import fuzz, instrumented

with instrumented(__name__):
    from tertulia.core.errors import TertuliaError
    from tertulia.protocols import jsonlines as jl
    from tertulia.protocols.text import decode


def check_reply(line: bytes) -> None:
    """A reply is one line of one JSON object, valid UTF-8 (no lone surrogate escaped in)."""
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert isinstance(json.loads(line.decode("utf-8")), dict)


def test_one_input(data: bytes) -> None:
    # As the door does: a line's bytes are decoded, then parsed; a refusal is a reply.
    try:
        request = jl.parse_request(decode(data))
    except TertuliaError as err:
        check_reply(jl.error_reply(jl.refused_id(err), err, str))
        return
    assert isinstance(request, tuple(jl.REQUESTS.values()))
    line = jl.encode_request(request)
    check_reply(line)
    assert jl.parse_request(line.decode()) == request
    check_reply(jl.reply(request.id, "ok"))


if __name__ == "__main__":
    fuzz(test_one_input, "jsonlines.dict")
