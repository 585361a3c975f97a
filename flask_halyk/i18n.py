"""The extension's own words for customers, in their language: gettext with the domain
``flask_halyk``.

::

    from flask_halyk.i18n import gettext as _, lazy_gettext

    message = _("Enter an email address such as %(example)s.", example="name@example.kz")
    label = lazy_gettext("Phone")  # translated each time it is shown

The catalogs' sources are ``flask_halyk/translations/<locale>/LC_MESSAGES/flask_halyk.po``
(``ru``, ``kk``, ``en``), shipped in the package as text and compiled in memory, by Babel, the
first time a locale is asked for (no ``.mo`` in git, nothing written to disk, the same in a
wheel, an sdist and an editable install).

The locale is the one Flask-Babel selects for the request, when Flask-Babel is installed and
initialised on the app; otherwise every message is the English ``msgid`` (Flask-Babel and
Babel are optional: the core install does not need them). A shop overrides a message, or adds
a language, with its own ``flask_halyk`` catalogs in its Babel translation directories
(``translations/<locale>/LC_MESSAGES/flask_halyk.mo``): theirs win over the package's.

Messages use Flask-Babel's ``%(name)s`` placeholders, filled from the keyword arguments.
"""

from __future__ import annotations

import functools
import gettext as stdlib_gettext
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from flask import current_app, has_app_context

try:  # Flask-Babel (and the Babel it needs) are optional: without them, messages stay English.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations
    from flask_babel import get_locale as babel_locale
except ImportError:  # pragma: no cover - the core install, tested in a subprocess
    babel_locale = None

#: The gettext domain of the extension's catalogs.
DOMAIN = "flask_halyk"
#: The catalogs' sources, one folder per locale.
TRANSLATIONS = Path(__file__).with_name("translations")


class GNUTranslations(Protocol):
    """What a catalog offers (``gettext.NullTranslations`` and Babel's ``Translations``)."""

    def gettext(self, message: str, /) -> str: ...
    def ngettext(self, singular: str, plural: str, n: int, /) -> str: ...


_ENGLISH: GNUTranslations = stdlib_gettext.NullTranslations()


def locale() -> Any:
    """The ``babel.Locale`` Flask-Babel selected for this request (or app context), or ``None``
    when Flask-Babel is not installed, not initialised on the current app, or there is no app
    context."""
    if babel_locale is None or not has_app_context() or "babel" not in current_app.extensions:
        return None
    return babel_locale()


def translations() -> GNUTranslations:
    """The extension's catalog in the current :func:`locale` (English when there is none): the
    package's, with the shop's own ``flask_halyk`` catalogs merged over it."""
    chosen = locale()
    if chosen is None:
        return _ENGLISH
    directories = tuple(str(d) for d in current_app.extensions["babel"].translation_directories)
    return _catalog(str(chosen), directories)


@functools.cache
def _catalog(locale_name: str, shop_directories: tuple[str, ...]) -> GNUTranslations:
    found = Translations(domain=DOMAIN)
    package = packaged_catalog(locale_name)
    if package is not None:
        found.merge(package)
        found.plural = package.plural
    for directory in shop_directories:
        theirs = Translations.load(directory, [locale_name], DOMAIN)
        if isinstance(theirs, Translations):
            found.merge(theirs)
            found.plural = theirs.plural
    result: GNUTranslations = found
    return result


def _candidates(locale_name: str) -> Iterator[str]:
    """``ru_KZ`` then ``ru``: the folders a locale may find its catalog in."""
    yield locale_name
    language = locale_name.partition("_")[0]
    if language != locale_name:
        yield language


@functools.cache
def packaged_catalog(locale_name: str) -> Any:
    """The package's catalog for ``locale_name`` (or its language), compiled from its ``.po`` in
    memory, or ``None`` when the package has none. Needs Babel."""
    for candidate in _candidates(locale_name):
        source = TRANSLATIONS / candidate / "LC_MESSAGES" / f"{DOMAIN}.po"
        if source.is_file():
            with source.open("rb") as file:
                catalog = read_po(file, locale=candidate, domain=DOMAIN, abort_invalid=True)
            compiled = io.BytesIO()
            write_mo(compiled, catalog)
            compiled.seek(0)
            return Translations(compiled, domain=DOMAIN)
    return None


def gettext(message: str, **variables: Any) -> str:
    """``message`` in the customer's language, its ``%(name)s`` placeholders filled from
    ``variables``."""
    text = translations().gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    """The singular or (one of the) plural forms for ``num`` in the customer's language;
    ``%(num)d`` is ``num``."""
    variables.setdefault("num", num)
    return translations().ngettext(singular, plural, num) % variables


class LazyString:
    """A message translated each time it is used as text (a form's label, a class-level
    message): :func:`lazy_gettext`'s result. Compares, hashes, formats and concatenates as its
    translation does; Jinja escapes it like any text."""

    __slots__ = ("_message", "_variables")

    def __init__(self, message: str, variables: dict[str, Any]) -> None:
        self._message = message
        self._variables = variables

    def __str__(self) -> str:
        return gettext(self._message, **self._variables)

    def __repr__(self) -> str:
        return f"lazy_gettext({self._message!r})"

    def __eq__(self, other: object) -> bool:
        return str(self) == (str(other) if isinstance(other, LazyString) else other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __lt__(self, other: object) -> bool:
        return str(self) < str(other)

    def __len__(self) -> int:
        return len(str(self))

    def __contains__(self, item: str) -> bool:
        return item in str(self)

    def __add__(self, other: str) -> str:
        return str(self) + other

    def __radd__(self, other: str) -> str:
        return other + str(self)

    def __mod__(self, other: Any) -> str:
        return str(str(self) % other)

    def __getattr__(self, name: str) -> Any:
        # str's methods (format, upper, startswith...) on the translation.
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(str(self), name)

    @property
    def message(self) -> str:
        """The English ``msgid``."""
        return self._message


def lazy_gettext(message: str, **variables: Any) -> LazyString:
    """:func:`gettext`, deferred until the text is used (in the request that shows it)."""
    return LazyString(message, variables)


__all__ = ["DOMAIN", "LazyString", "gettext", "lazy_gettext", "locale", "ngettext",
           "translations"]
