"""gettext set-up: user-facing text in English or Spanish, by --lang or the locale."""

from __future__ import annotations

import gettext
import os
from collections.abc import Callable
from pathlib import Path

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
