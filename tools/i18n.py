"""Extract the translatable strings, merge them into the catalogs and compile them (Babel).

python tools/i18n.py           update locale/tertulia.pot, each .po, and compile each .mo
python tools/i18n.py --check   exit 1 if a msgid lacks a translation or a .mo is stale
"""

from __future__ import annotations

import argparse
import io
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "tertulia"
LOCALE = PACKAGE / "locale"
DOMAIN = "tertulia"
LANGUAGES = ("es",)
KEYWORDS = {"_": None, "N_": None}
# A fixed date keeps the files byte-identical from run to run.
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
HEADER = "# tertulia's user-facing text. Update with `make i18n`; translate the empty msgstr."


def extract() -> Catalog:
    template = Catalog(
        project="tertulia", domain=DOMAIN, creation_date=EPOCH, revision_date=EPOCH, fuzzy=False
    )
    found = extract_from_dir(
        str(PACKAGE),
        method_map=[("**.py", "python")],
        keywords=KEYWORDS,
        comment_tags=("TRANSLATORS:",),
    )
    for filename, lineno, message, comments, context in found:
        template.add(
            message,
            None,
            [(f"src/tertulia/{filename}", lineno)],
            auto_comments=comments,
            context=context,
        )
    return template


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def load_po(lang: str) -> Catalog:
    path = po_path(lang)
    if not path.exists():
        return Catalog(locale=lang, domain=DOMAIN, creation_date=EPOCH, revision_date=EPOCH)
    with path.open("rb") as fh:
        return read_po(fh, locale=lang, domain=DOMAIN)


def dump_po(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=100, omit_header=False, sort_output=False, ignore_obsolete=True)
    return out.getvalue()


def dump_mo(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def update() -> None:
    template = extract()
    LOCALE.mkdir(parents=True, exist_ok=True)
    (LOCALE / f"{DOMAIN}.pot").write_bytes(dump_po(template))
    for lang in LANGUAGES:
        catalog = load_po(lang)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.creation_date = catalog.revision_date = EPOCH
        catalog.project, catalog.version, catalog.fuzzy = "tertulia", "", False
        catalog.copyright_holder = "the tertulia authors"
        catalog.msgid_bugs_address = ""
        catalog.last_translator = "the tertulia authors"
        catalog.header_comment = HEADER
        catalog.obsolete.clear()
        path = po_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(dump_po(catalog))
        path.with_suffix(".mo").write_bytes(dump_mo(catalog))
        missing = [m.id for m in catalog if m.id and not m.string]
        print(f"{lang}: {len(catalog)} messages, {len(missing)} untranslated")


def check() -> list[str]:
    problems: list[str] = []
    template = extract()
    for lang in LANGUAGES:
        catalog = load_po(lang)
        for message in template:
            if not message.id:
                continue
            translated = catalog.get(message.id)
            if translated is None or not translated.string:
                problems.append(f"{lang}: no translation for {message.id!r}")
            elif translated.fuzzy:
                problems.append(f"{lang}: fuzzy translation for {message.id!r}")
        mo = po_path(lang).with_suffix(".mo")
        if not mo.exists():
            problems.append(f"{lang}: {mo.name} is missing: run make i18n")
            continue
        with mo.open("rb") as fh:
            compiled = read_mo(fh)
        wanted = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
        have = {m.id: m.string for m in compiled if m.id}
        if wanted != have:
            problems.append(
                f"{lang}: {mo.name} differs from what {mo.stem}.po compiles to: run make i18n"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only check, change nothing")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    update()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
