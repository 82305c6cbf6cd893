"""Masks: completion of partial masks, and wildcard matching that cannot be made slow."""

from __future__ import annotations

import fnmatch

from hypothesis import given
from hypothesis import strategies as st

from tertulia.core.masks import matches, normalize


def test_partial_masks_are_completed() -> None:
    assert normalize("bob") == "bob!*@*"
    assert normalize("*@host") == "*!*@host"
    assert normalize("bob!u") == "bob!u@*"
    assert normalize("m:bob") == "m:bob!*@*"


@given(st.text("ab*?", max_size=8), st.text("ab", max_size=10))
def test_matching_agrees_with_the_shell_glob(mask: str, text: str) -> None:
    assert matches(mask, text) == fnmatch.fnmatchcase(text, mask)


def test_case_is_ignored_as_in_nicks() -> None:
    assert matches("BOB!*@*", "bob!bob@tertulia")


def test_a_pathological_mask_still_answers() -> None:
    # `*a*a…*b` against a long run of a's took seconds with a backtracking regex, and one
    # WHO could stall every client (measured: 2.5 s for 11 stars and 30 a's). The matcher
    # now does at most len(mask) x len(text) steps; speed itself is the benchmark's to say.
    assert not matches("*a" * 40 + "*b", "a" * 250)
    assert matches("*a" * 40 + "*b", "a" * 250 + "b")
    assert not matches("a" * 400, "a" * 400)  # past the length limit nothing matches
