"""A Griffe extension for the docs site: flask-halyk's docstrings are written for Sphinx
(``code`` in double backticks, :class:`X` / :func:`X` / :mod:`X` / :data:`X` / :meth:`X` /
:attr:`X` roles, literal blocks after a paragraph ending in "::"). Before mkdocstrings renders a
docstring, each role becomes a cross-reference and each "::" a plain ":" (the indented block
after it is a Markdown code block already; double backticks are a Markdown code span too).

A role whose target resolves (in the object's scope, as Sphinx would look it up) becomes an
*optional* autorefs reference: a link when the target has a page, plain code otherwise, and
never a warning, so `mkdocs build --strict` fails on broken Markdown links and anchors of the
pages but not on a role naming something the reference does not render (a private helper).
``~`` shows the last component only, as in Sphinx.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|func|mod|data|meth|attr|exc|obj):`(~?)([^`]+)`")
LITERAL = re.compile(r"::$", re.MULTILINE)


def _resolve(obj: griffe.Object, target: str) -> str | None:
    """The full path of ``target`` as seen from ``obj``, or None."""
    target = target.lstrip(".")
    if target.startswith("flask_halyk"):
        return target
    first, _, rest = target.partition(".")
    scope: griffe.Object | None = obj
    while scope is not None:
        try:
            path = scope.resolve(first)
        except (griffe.NameResolutionError, AttributeError):
            scope = scope.parent
            continue
        return f"{path}.{rest}" if rest else path
    return None


def markdown(obj: griffe.Object, text: str) -> str:
    """``text`` (a docstring) with its roles and literal-block markers made Markdown."""

    def role(match: re.Match[str]) -> str:
        short, target = match.group(1), match.group(2)
        title = target.rsplit(".", 1)[-1] if short else target.lstrip("~")
        code = f"<code>{html.escape(title)}</code>"
        path = _resolve(obj, target)
        if path is None:
            return code
        return f'<autoref identifier="{html.escape(path)}" optional>{code}</autoref>'

    return LITERAL.sub(":", ROLE.sub(role, text))


class SphinxRoles(griffe.Extension):
    """Rewrites every docstring of the loaded package once it is all loaded (so that names
    imported later in a module resolve too)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._walk(pkg, set())

    def _walk(self, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj, obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._walk(member, seen)  # type: ignore[arg-type]
