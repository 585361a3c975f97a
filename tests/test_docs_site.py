"""The docs site's pages against the code: sharing-the-database.md's Alembic filter on a real
autogenerate, going-live.md's logger table against every logger flask_halyk creates, and the
site's navigation against docs/*.md."""

from __future__ import annotations

import ast
import re
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from alembic import command
from alembic import config as alembic_config
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine

from flask_halyk.ledger import Ledger
from flask_halyk.ledger.tables import metadata as ledger_metadata

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)


def _page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


# --- sharing-the-database.md: include_name on Alembic's autogenerate ----------------------------


def _include_name() -> object:
    """The ``include_name`` function as the page shows it (exec'd from its code block)."""
    block = next(text for text in BLOCK.findall(_page("sharing-the-database.md"))
                 if "def include_name" in text)
    namespace: dict[str, object] = {}
    exec(compile(block, "sharing-the-database.md", "exec"), namespace)
    return namespace["include_name"]


ENV_PY = textwrap.dedent('''
    from alembic import context
    from sqlalchemy import create_engine

    import shop_models

    connectable = create_engine(context.config.get_main_option("sqlalchemy.url"))
    with connectable.connect() as connection:
        options = {}
        if shop_models.include_name is not None:
            options["include_name"] = shop_models.include_name
        context.configure(connection=connection, target_metadata=shop_models.metadata,
                          **options)
        with context.begin_transaction():
            context.run_migrations()
''')


def _autogenerate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, include_name: object,
                  label: str) -> str:
    """The body of the revision ``alembic revision --autogenerate`` writes for a shop whose
    models are one table, against a database holding a ledger and that table's older form."""
    database = tmp_path / "shop.sqlite3"
    url = f"sqlite:///{database}"
    if not database.exists():
        ledger = Ledger(url)
        ledger.init_db()
        ledger.dispose()
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
        engine.dispose()
    scripts = tmp_path / f"migrations-{label}"
    config = alembic_config.Config(str(tmp_path / f"alembic-{label}.ini"))
    config.set_main_option("script_location", str(scripts))
    config.set_main_option("sqlalchemy.url", url)
    command.init(config, str(scripts))
    (scripts / "env.py").write_text(ENV_PY, encoding="utf-8")
    shop_metadata = MetaData()
    Table("orders", shop_metadata, Column("id", Integer, primary_key=True),
          Column("email", String(254)))
    models = SimpleNamespace(metadata=shop_metadata, include_name=include_name)
    monkeypatch.setitem(sys.modules, "shop_models", models)
    command.revision(config, message=label, autogenerate=True)
    (revision,) = (scripts / "versions").glob("*.py")
    return revision.read_text(encoding="utf-8")


def _upgrade_body(revision: str) -> str:
    tree = ast.parse(revision)
    upgrade = next(node for node in tree.body
                   if isinstance(node, ast.FunctionDef) and node.name == "upgrade")
    return ast.unparse(upgrade)


def test_the_ledger_tables_all_start_with_halyk_():
    assert ledger_metadata.tables
    assert all(name.startswith("halyk_") for name in ledger_metadata.tables)


def test_autogenerate_drops_the_ledger_without_the_filter(tmp_path, monkeypatch):
    upgrade = _upgrade_body(_autogenerate(tmp_path, monkeypatch, None, "unfiltered"))
    for table in ledger_metadata.tables:
        assert f"op.drop_table('{table}')" in upgrade, table
    assert "op.add_column('orders'" in upgrade


def test_the_documented_include_name_leaves_the_ledger_alone(tmp_path, monkeypatch):
    upgrade = _upgrade_body(_autogenerate(tmp_path, monkeypatch, _include_name(), "filtered"))
    assert "halyk_" not in upgrade
    # The shop's own change is still seen.
    assert "op.add_column('orders'" in upgrade
    assert "drop_table" not in upgrade


def test_the_include_name_passes_indexes_and_columns_through():
    include_name = _include_name()
    assert include_name("orders", "table", {}) is True  # type: ignore[operator]
    assert include_name("halyk_payments", "table", {}) is False  # type: ignore[operator]
    assert include_name("ix_orders_email", "index", {"table_name": "orders"}) is True  # type: ignore[operator]


# --- the site's pages ---------------------------------------------------------------------------


def test_every_docs_page_is_in_the_site_navigation():
    nav = set(re.findall(r"^  - [^:]+: ([\w-]+\.md)$",
                         (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), re.M))
    assert nav == {path.name for path in DOCS.glob("*.md")}


def test_the_changelog_page_includes_changes_md():
    assert '--8<-- "CHANGES.md"' in _page("changelog.md")


# --- going-live.md: every logger flask_halyk creates ---------------------------------------------


def _logger_names() -> set[str]:
    """The name of every ``logging.getLogger(...)`` in flask_halyk (``__name__`` is the
    module's dotted path)."""
    names: set[str] = set()
    package = ROOT / "flask_halyk"
    for path in package.rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "getLogger"):
                continue
            (argument,) = node.args
            if isinstance(argument, ast.Name) and argument.id == "__name__":
                names.add(module.removesuffix(".__init__"))
            else:
                assert isinstance(argument, ast.Constant), f"{path}: {ast.unparse(node)}"
                names.add(argument.value)
    return names


def test_every_logger_is_in_the_going_live_table():
    names = _logger_names()
    assert {"flask_halyk", "flask_halyk.postlink", "flask_halyk.ledger"} <= names
    monitor = _page("going-live.md").split("## What to monitor", 1)[1]
    rows = re.findall(r"^\| `([\w.]+)` \| (DEBUG|INFO|WARNING|ERROR)[^|]* \|", monitor, re.M)
    assert set(names) == {name for name, _ in rows}


def test_the_documented_levels_are_the_ones_logged():
    """Each (logger, level) row of the table is a level that logger's module uses."""
    calls: dict[str, set[str]] = {}
    for path in (ROOT / "flask_halyk").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found = re.search(r"""getLogger\((?:"([\w.]+)"|__name__)\)""", text)
        if not found:
            continue
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        name = found.group(1) or module
        levels = {"ERROR" if level in ("error", "exception") else level.upper()
                  for level in re.findall(r"\b(?:log|logger)\.(debug|info|warning|error|"
                                          r"exception)\(", text)}
        calls.setdefault(name, set()).update(levels)
    monitor = _page("going-live.md").split("## What to monitor", 1)[1]
    rows = re.findall(r"^\| `([\w.]+)` \| (DEBUG|INFO|WARNING|ERROR)[^|]* \|", monitor, re.M)
    documented: dict[str, set[str]] = {}
    for name, level in rows:
        documented.setdefault(name, set()).add(level)
    assert documented == calls
