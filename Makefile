# Two entry points: `make run` and `make test`. Both build .venv on their own.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Serving needs only the package and its run-time dependencies, and `make chat` the chat
# extra (Textual), both installed by `make run`; the tests add the dev extra (the
# benchmark's plots, Playwright, the linters, the wheel builder) to the same .venv.
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run chat test lint types pytest i18n docs clean irctest fuzz

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[chat]'
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(DEV_STAMP)

run: $(STAMP)
	$(BIN)/tertulia serve $(ARGS)

# The terminal client, from the same .venv: `make chat ARGS="--port 5000 --nick ana"`.
chat: $(STAMP)
	$(BIN)/tertulia chat $(ARGS)

test: lint types pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests fuzz
	$(BIN)/ruff format --check src tests fuzz

types: $(DEV_STAMP)
	$(BIN)/mypy
	$(BIN)/mypy fuzz

pytest: $(DEV_STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

# Re-extract the message catalog and compile the translations.
i18n: $(DEV_STAMP)
	$(BIN)/python tools/i18n.py

# The documentation site (mkdocs.yml): docs/ as HTML in site/. --strict turns a broken link,
# a missing anchor or a page left out of the nav into an error (tests/test_docs_site.py).
docs: $(DEV_STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) build dist site src/*.egg-info .pytest_cache .mypy_cache .ruff_cache

# The IRC conformance suite (progval/irctest) against the IRC door, from a checkout given
# by IRCTEST_DIR; not part of `make test`, since irctest is not a package. docs/irc.md
# has the selection and the latest counts.
IRCTEST_MARKERS ?= not Ergo and not Sable and not implementation-specific and not deprecated and not strict and not services
IRCTEST_SELECT ?= not Faketime
IRCTEST_FILES ?= irctest/server_tests/
irctest: $(DEV_STAMP)
	@test -n "$(IRCTEST_DIR)" || { echo "IRCTEST_DIR must name a checkout of progval/irctest" >&2; exit 2; }
	$(BIN)/python -m pip install --quiet -r $(IRCTEST_DIR)/requirements.txt
	cd $(IRCTEST_DIR) && PYTHONPATH=$(CURDIR)/tools/irctest:. TERTULIA_BIN=$(CURDIR)/$(BIN)/tertulia \
		$(CURDIR)/$(BIN)/pytest -q -p no:cacheprovider --controller tertulia_irctest \
		-m "$(IRCTEST_MARKERS)" -k "$(IRCTEST_SELECT)" $(IRCTEST_FILES) $(IRCTEST_ARGS)

# Fuzzing with atheris (docs/security.md, "Fuzzing"): each target in fuzz/ runs for FUZZ_RUNS
# inputs, one after another, from its committed corpus. New inputs, crashes and logs go to
# a fresh temporary directory, never into the repository; copy an input into
# fuzz/corpus/<target>/ only when it is small and worth replaying in `make test`
# (tests/fuzz/test_corpus.py). atheris is installed for this alone, not by `make test`.
FUZZ_RUNS ?= 1000000
FUZZ_TARGETS ?= $(patsubst fuzz/fuzz_%.py,%,$(wildcard fuzz/fuzz_*.py))
fuzz: $(DEV_STAMP)
	@$(BIN)/python -c "import atheris" 2>/dev/null || $(BIN)/python -m pip install --quiet atheris
	@out=$$(mktemp -d "$${TMPDIR:-/tmp}/tertulia-fuzz.XXXXXX"); echo "fuzz output: $$out"; \
	for target in $(FUZZ_TARGETS); do \
		mkdir -p "$$out/$$target/new"; echo "== $$target ($(FUZZ_RUNS) inputs)"; \
		( cd fuzz && ../$(BIN)/python fuzz_$$target.py -atheris_runs=$(FUZZ_RUNS) \
			-artifact_prefix="$$out/$$target/" $(FUZZ_ARGS) \
			"$$out/$$target/new" "corpus/$$target" ) > "$$out/$$target.log" 2>&1; \
		status=$$?; grep -E "^Done|Uncaught|Error" "$$out/$$target.log"; \
		if [ $$status -ne 0 ]; then echo "$$target failed: $$out/$$target.log" >&2; exit $$status; fi; \
	done
