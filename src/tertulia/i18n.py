"""gettext set-up: user-facing text in English or Spanish, by --lang or the locale."""

from __future__ import annotations

import gettext
import os
from collections.abc import Callable
from pathlib import Path

from tertulia.core.errors import N_

DOMAIN = "tertulia"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("en", "es")

Translate = Callable[[str], str]


def language(lang: str = "") -> str:
    """The language to speak: `lang` if given, else LANGUAGE, LC_ALL, LC_MESSAGES or LANG."""
    candidates = [lang] if lang else []
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            candidates.extend(value.split(":"))
    for candidate in candidates:
        code = candidate.split(".")[0].split("_")[0].split("-")[0].lower()
        if code in LANGUAGES:
            return code
    return "en"


def translator(lang: str = "") -> Translate:
    """A function from an English msgid to the text in the chosen language."""
    code = language(lang)
    catalog = gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[code], fallback=True)
    return catalog.gettext


# argparse's own words, which it looks up with gettext.gettext when it writes help and
# errors (Python 3.11's msgids; later versions keep these). Listed here so that our catalogs
# carry them: argparse finds them through speak_to_argparse.
ARGPARSE_WORDS = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("invalid %(type)s value: %(value)r"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("unknown parser %(parser_name)r (choices: %(choices)s)"),
    N_("expected one argument"),
    N_("expected at least one argument"),
    N_("expected at most one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("not allowed with argument %s"),
    N_("one of the arguments %s is required"),
    N_("ignored explicit argument %r"),
)


def speak_to_argparse(lang: str = "") -> None:
    """Let argparse write "usage:", "options:" and its errors in the user's language.

    argparse translates through gettext's default domain, as Python's argparse howto says
    ("How to translate the argparse output"): make that domain ours, whose catalogs hold
    ARGPARSE_WORDS. gettext picks the language from LANGUAGE and the locale, as language()
    does; a language chosen with --lang (or TERTULIA_LANG) is told to it through LANGUAGE.
    For the `tertulia` command only: it sets process-wide state.
    """
    gettext.bindtextdomain(DOMAIN, LOCALE_DIR)
    gettext.textdomain(DOMAIN)
    if lang:
        os.environ["LANGUAGE"] = language(lang)
