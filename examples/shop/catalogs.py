"""The shop's gettext catalogs: ``translations/<locale>/LC_MESSAGES/messages.po`` (ru, kk, en)
are the source, kept in git; the binary ``.mo`` files Flask-Babel reads are compiled from them
when the app is created (what ``pybabel compile -d examples/shop/translations`` does), into the
instance folder, and never committed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

#: The catalogs' sources, one folder per locale.
SOURCES = Path(__file__).with_name("translations")
DOMAIN = "messages"


def compile_catalogs(target: str | os.PathLike[str]) -> Path:
    """Compile every ``.po`` under :data:`SOURCES` into ``target`` (same layout), each one only
    when its ``.mo`` is missing or was compiled from another version of it; returns
    ``target``. A ``.po`` with an error raises (the build fails rather than the shop showing
    keys). Each ``.mo`` is written to a temporary
    file and renamed, so that processes starting together never read half of one."""
    target = Path(target)
    for source in sorted(SOURCES.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        compiled = target / source.relative_to(SOURCES).with_suffix(".mo")
        written = source.stat().st_mtime_ns
        # The .mo carries its source's time: any other .po (edited, or an older one checked
        # out) is compiled again.
        if compiled.exists() and compiled.stat().st_mtime_ns == written:
            continue
        with source.open("rb") as file:
            catalog = read_po(file, locale=source.parts[-3], abort_invalid=True)
        compiled.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=compiled.parent, suffix=".mo.tmp")
        try:
            with os.fdopen(descriptor, "wb") as file:
                write_mo(file, catalog)
            os.utime(temporary, ns=(written, written))
            os.replace(temporary, compiled)
        except BaseException:
            os.unlink(temporary)
            raise
    return target
