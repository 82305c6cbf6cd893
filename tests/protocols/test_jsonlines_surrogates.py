"""The JSON-lines codec refuses a lone surrogate in any string, where text enters."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from tertulia.core.errors import BadUnicode
from tertulia.protocols import jsonlines as jl


@pytest.mark.parametrize("kind", sorted(jl.REQUESTS))
def test_a_lone_surrogate_in_any_string_field_is_refused_with_the_request_id(kind: str) -> None:
    cls = jl.REQUESTS[kind]
    texts = [f.name for f in fields(cls) if f.name != "id" and f.type in ("str", "str | None")]
    numbers = {f.name: 1 for f in fields(cls) if f.type == "int"}  # msgid, limit
    sound = {**numbers, **{name: "#ok" for name in texts}}
    for name in texts:
        # json.dumps writes "\ud800" as the six characters \ud800, as an attacker would.
        line = json.dumps({"type": kind, "id": 7, **sound, name: "\ud800"})
        with pytest.raises(BadUnicode) as refused:
            jl.parse_request(line)
        assert refused.value.code == "bad_text" and name in refused.value.render()
        assert jl.refused_id(refused.value) == 7


def test_a_surrogate_id_is_refused_without_echoing_it() -> None:
    with pytest.raises(BadUnicode) as refused:
        jl.parse_request('{"type": "ping", "id": "\\udfff"}')
    assert jl.refused_id(refused.value) is None
    # A surrogate pair escaped is one real character, and welcome.
    request = jl.parse_request('{"type": "say", "room": "#lobby", "text": "\\ud83d\\ude00"}')
    assert isinstance(request, jl.Say) and request.text == "😀"
