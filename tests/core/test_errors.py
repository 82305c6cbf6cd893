"""User-facing errors: one line, whatever text they carry."""

from __future__ import annotations

from tertulia.core.errors import N_, TertuliaError


class Unopened(TertuliaError):
    code = "unopened"
    template = N_("cannot open {path}: {reason}")


def test_a_reason_that_is_a_template_is_filled_in() -> None:
    err = Unopened(path="chat.db", reason=N_("{path} is a directory"))
    assert err.render() == "cannot open chat.db: chat.db is a directory"


def test_a_reason_with_braces_of_its_own_is_shown_as_it_is() -> None:
    # A database's own words may hold braces (a URL's query, a JSON fragment).
    err = Unopened(path="db", reason='invalid sslmode value: "{x}" and {')
    assert err.render() == 'cannot open db: invalid sslmode value: "{x}" and {'
