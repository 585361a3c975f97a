"""The package's shape, kept by a test: data flows one way between flask_halyk's modules.

Each module belongs to a layer (below); a module imports only from its own layer or lower ones,
the module graph has no cycle, and no import hides inside a function to dodge one. The bank
client and the ledger import no Flask, and the ledger tells the shop nothing (no signals).
Imports under ``if TYPE_CHECKING:`` are annotations, not dependencies, and are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import flask_halyk

PACKAGE = Path(flask_halyk.__file__).parent

#: Lowest first. A module's layer is that of the longest prefix naming it.
LAYERS: list[set[str]] = [
    # words every part uses
    {"errors", "money", "invoices", "redaction", "signals", "i18n"},
    # the wire's schemas, then the settings (which read the languages the schemas know)
    {"schemas"},
    {"config"},
    # the parts: each stands alone on the layers below
    {"epay", "ledger", "sandbox"},
    # per-app state; reading and verifying a postLink; telling the shop
    {"state", "postlink.intake", "postlink.verification", "dispatch", "csp", "forms"},
    # what the shop calls, and the bank's calls in
    {"checkout", "links", "operations", "qr", "recovery", "postlink.confirmation", "cards",
     "subscriptions"},
    {"postlink.views", "postlink", "dashboard"},
    # the surfaces that put it all together
    {"cli", "pytest_plugin"},
    {"extension"},
    {""},  # flask_halyk/__init__.py: the public names
]

#: (module, imported top-level name) pairs allowed inside a function, each with its reason; an
#: optional dependency would belong here. None today.
DEFERRED_IMPORTS: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(name: str) -> bool:
    return (PACKAGE.parent / name.replace(".", "/") / "__init__.py").exists()


def exists(name: str) -> bool:
    base = PACKAGE.parent / name.replace(".", "/")
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, whether inside a function) for every runtime import of ``path``."""
    name = module_name(path)
    package = name if is_package(name) else name.rpartition(".")[0]
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for other in child.orelse:
                    visit(other, in_function)
                continue
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((alias.name, inner) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                # "from . import x" imports the module x, not (only) the package
                modules = [f"{target}.{a.name}" for a in child.names
                           if exists(f"{target}.{a.name}")]
                found.extend((module, inner) for module in modules)
                if len(modules) < len(child.names):
                    found.append((target, inner))
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {
    name: {(target, inner) for target, inner in imports(path)}
    for name, path in MODULES.items()
}


def layer_of(name: str) -> int:
    relative = name.removeprefix("flask_halyk").lstrip(".")
    best, best_len = None, -1
    for index, layer in enumerate(LAYERS):
        for prefix in layer:
            if (relative == prefix or relative.startswith(prefix + ".") or prefix == "") \
                    and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    assert best is not None, f"{name} is in no layer of tests/test_layout.py"
    return best


def internal(target: str) -> bool:
    return target == "flask_halyk" or target.startswith("flask_halyk.")


def test_every_module_has_a_layer() -> None:
    for name in MODULES:
        layer_of(name)


def test_no_import_goes_up_a_layer() -> None:
    upward = sorted(
        f"{name} (layer {layer_of(name)}) imports {target} (layer {layer_of(target)})"
        for name, targets in GRAPH.items()
        for target, _inner in targets
        if internal(target) and layer_of(target) > layer_of(name)
    )
    assert upward == []


def test_the_module_graph_has_no_cycle() -> None:
    edges = {
        name: {t for t, _ in targets if internal(t) and t in MODULES and t != name}
        for name, targets in GRAPH.items()
    }
    # A package importing its own submodules is how packages work; the reverse closes a loop.
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt):], nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                walk(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(edges):
        if start not in state:
            walk(start, [start])
    assert cycles == []


def test_no_import_hides_in_a_function() -> None:
    hidden = sorted(
        f"{name} imports {target} inside a function"
        for name, targets in GRAPH.items()
        for target, inner in targets
        if inner and (name, target.split(".")[0] if not internal(target) else target)
        not in DEFERRED_IMPORTS
    )
    assert hidden == []


@pytest.mark.parametrize("part", ["flask_halyk.epay", "flask_halyk.ledger"])
def test_the_client_and_the_ledger_need_no_flask(part: str) -> None:
    for name, targets in GRAPH.items():
        if name == part or name.startswith(part + "."):
            flask = sorted(t for t, _ in targets if t == "flask" or t.startswith("flask."))
            assert flask == [], f"{name} imports {flask}"


def test_the_ledger_tells_no_one() -> None:
    for name, targets in GRAPH.items():
        if name.startswith("flask_halyk.ledger"):
            assert not any(t.endswith("signals") or t == "blinker" for t, _ in targets), name
