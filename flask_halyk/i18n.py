"""PLACEHOLDER for the branch ``i18n`` (its ``flask_halyk.i18n`` replaces this file at merge):
the same names, English only, so that the dashboard's words are marked for translation now.

Messages use Flask-Babel's ``%(name)s`` placeholders, filled from the keyword arguments.
"""

from __future__ import annotations

from typing import Any

__all__ = ["gettext", "lazy_gettext", "locale", "ngettext"]


def locale() -> Any:
    """The locale Flask-Babel selected (the real module); None here: English."""
    return None


def gettext(message: str, **variables: Any) -> str:
    """``message`` (English), its placeholders filled."""
    return message % variables if variables else message


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    """The singular or the plural, ``num`` and the placeholders filled."""
    variables.setdefault("num", num)
    return (singular if num == 1 else plural) % variables


def lazy_gettext(message: str, **variables: Any) -> str:
    """:func:`gettext` (nothing to defer without catalogs)."""
    return gettext(message, **variables)
