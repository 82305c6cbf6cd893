"""The words PostgreSQL's search indexes: folded and split in Python, the same for any
database locale."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from tertulia.store.postgres import search_text


def test_accents_case_and_punctuation_go() -> None:
    assert search_text("Él dijo: ¡ÑANDÚ!") == "el dijo nandu"
    assert search_text("Hello, World_1! ß") == "hello world_1 ss"
    assert search_text("¿?¡!") == ""


def decomposed_words(text: str) -> str:
    """The long way, for any text: decompose, drop the marks, fold, split."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", bare.casefold()))


@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127)))
def test_ascii_takes_a_short_way_to_the_same_words(text: str) -> None:
    assert search_text(text) == decomposed_words(text)
