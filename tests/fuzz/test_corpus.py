"""Every fuzz target's check over its committed corpus, without atheris, so `make test`
replays what fuzzing found worth keeping (the targets and `make fuzz`: fuzz/)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parents[2] / "fuzz"
CORPUS = FUZZ / "corpus"
TARGETS = sorted(path.stem.removeprefix("fuzz_") for path in FUZZ.glob("fuzz_*.py"))
INPUTS = [(target, path) for target in TARGETS for path in sorted((CORPUS / target).iterdir())]


@pytest.fixture(scope="module", autouse=True)
def fuzz_on_path() -> Iterator[None]:
    # The targets import their shared _harness as the fuzz/ directory's own module.
    sys.path.insert(0, str(FUZZ))
    yield
    sys.path.remove(str(FUZZ))


def check_of(target: str) -> Callable[[bytes], None]:
    module = importlib.import_module("fuzz_" + target)
    check: Callable[[bytes], None] = module.test_one_input
    return check


def test_every_target_has_a_corpus_and_every_corpus_a_target() -> None:
    assert TARGETS, "no fuzz targets found"
    assert sorted(path.name for path in CORPUS.iterdir()) == TARGETS
    for target in TARGETS:
        assert any((CORPUS / target).iterdir()), f"empty corpus for {target}"


@pytest.mark.parametrize(
    ("target", "path"), INPUTS, ids=[f"{target}/{path.name}" for target, path in INPUTS]
)
def test_corpus_input(target: str, path: Path) -> None:
    check_of(target)(path.read_bytes())
