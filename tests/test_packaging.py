"""The installable package, checked statically (nothing is built): setup.cfg's metadata and
dependencies, the files the wheel and the sdist carry, the version written once, tox."""

from __future__ import annotations

import configparser
import glob
import re
from pathlib import Path

import pytest
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "flask_halyk"


def _setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg", encoding="utf-8")
    return parser


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


def _data_files(package: Path) -> list[Path]:
    """Every file under the package that is not Python source or bytecode."""
    return [
        path
        for path in package.rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    ]


def _matched(package: Path, pattern: str) -> set[Path]:
    # As setuptools' build_py expands package_data: glob relative to the package directory,
    # "*" within one directory, "**" across them, hidden files never.
    found = glob.glob(str(package / pattern), recursive=True)
    return {Path(name) for name in found if Path(name).is_file()}


def unshipped(package: Path, patterns: list[str]) -> list[str]:
    """The package's data files that no package_data pattern matches (a wheel would lack them)."""
    matched = set().union(*(_matched(package, pattern) for pattern in patterns))
    return sorted(path.relative_to(package).as_posix()
                  for path in _data_files(package) if path not in matched)


# --- the wheel's files ---------------------------------------------------------------------------


def test_every_data_file_ships_in_the_wheel():
    """py.typed, the macros, and the sandbox's templates and static files are all matched by
    package_data, so that a wheel built from setup.cfg carries them."""
    patterns = _lines(_setup_cfg()["options.package_data"]["flask_halyk"])
    names = {path.relative_to(PACKAGE).as_posix() for path in _data_files(PACKAGE)}
    assert {"py.typed", "templates/halyk/macros.html", "sandbox/static/payment-api.js",
            "sandbox/templates/payform.html", "translations/flask_halyk.pot",
            "translations/kk/LC_MESSAGES/flask_halyk.po"} <= names
    assert unshipped(PACKAGE, patterns) == []


def test_every_package_data_pattern_matches_a_file():
    for pattern in _lines(_setup_cfg()["options.package_data"]["flask_halyk"]):
        assert _matched(PACKAGE, pattern), f"{pattern} matches nothing"


def test_an_unmatched_data_file_is_reported(tmp_path):
    # The check above can fail: a file in a new sub-folder is not matched by "static/*" (nor by
    # "*.html" one folder up), unlike fnmatch, whose "*" would wrongly cross the "/".
    for name in ("py.typed", "static/app.js", "static/img/logo.png", "templates/a/b.html",
                 "__pycache__/x.cpython-311.pyc", "module.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    patterns = ["py.typed", "static/*", "templates/*.html"]
    assert unshipped(tmp_path, patterns) == ["static/img/logo.png", "templates/a/b.html"]
    assert unshipped(tmp_path, [*patterns, "static/**/*", "templates/**/*.html"]) == []


# --- the sdist's files ---------------------------------------------------------------------------


def _manifest() -> list[list[str]]:
    text = (ROOT / "MANIFEST.in").read_text(encoding="utf-8")
    return [line.split() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_the_sdist_leaves_the_tests_and_the_repository_tooling_out():
    pruned = {words[1] for words in _manifest() if words[0] == "prune"}
    assert {"tests", "examples", "benchmarks", "docs", ".ci"} <= pruned
    assert not any(words[0] in ("graft", "recursive-include") and words[1].split("/")[0] in pruned
                   for words in _manifest())


def test_the_sdist_carries_the_license_changes_readme_and_package_data():
    included = {name for words in _manifest() if words[0] == "include" for name in words[1:]}
    assert {"LICENSE", "CHANGES.md", "README.md", "flask_halyk/py.typed"} <= included
    for name in included:
        assert (ROOT / name).is_file(), name
    recursive = {words[1] for words in _manifest() if words[0] == "recursive-include"}
    assert {"flask_halyk/templates", "flask_halyk/sandbox/templates",
            "flask_halyk/sandbox/static", "flask_halyk/translations"} <= recursive


# --- metadata ------------------------------------------------------------------------------------


def test_the_version_is_written_once():
    cfg = _setup_cfg()
    assert cfg["metadata"]["version"].strip() == "attr: flask_halyk.__version__"
    source = (PACKAGE / "__init__.py").read_text(encoding="utf-8")
    # A plain literal line: setuptools reads it without importing the package.
    versions = re.findall(r'^__version__ = "([0-9]+\.[0-9]+\.[0-9]+[a-z0-9.]*)"$', source,
                          flags=re.MULTILINE)
    assert len(versions) == 1
    changes = (ROOT / "CHANGES.md").read_text(encoding="utf-8")
    assert f"Version {versions[0]}" in changes


def test_the_license_is_mit_and_ships():
    metadata = _setup_cfg()["metadata"]
    assert metadata["license"].strip() == "MIT"
    assert metadata["license_files"].strip() == "LICENSE"
    assert "License :: OSI Approved :: MIT License" in _lines(metadata["classifiers"])
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 the flask-halyk authors" in text


@pytest.mark.parametrize("name", ["Documentation", "Changes", "Source"])
def test_project_urls(name):
    urls = dict(line.split(" = ", 1) for line in _lines(_setup_cfg()["metadata"]["project_urls"]))
    assert urls[name].startswith("https://github.com/flask-halyk/flask-halyk")


# --- dependencies and tooling --------------------------------------------------------------------


def test_dependencies_are_declared_with_lower_bounds_only():
    requires = _lines(_setup_cfg()["options"]["install_requires"])
    names = {re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0].lower() for line in requires}
    assert {"flask", "requests", "marshmallow", "wtforms", "blinker"} <= names
    for line in requires:
        assert re.fullmatch(r"[A-Za-z0-9_.-]+(\[[a-z,]+\])?>=[0-9][0-9.]*", line), line


def test_marshmallow_lower_bound_is_one_the_schemas_run_on():
    # The schemas subclass the generic fields.Field[T]: marshmallow 3 fails at import.
    requires = _lines(_setup_cfg()["options"]["install_requires"])
    bound = next(line for line in requires if line.lower().startswith("marshmallow"))
    assert int(bound.split(">=")[1].split(".")[0]) >= 4


def test_pyproject_only_names_the_build_backend():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    tables = re.findall(r"^\[([^\]]+)\]", text, flags=re.MULTILINE)
    assert tables == ["build-system"]
    assert 'build-backend = "setuptools.build_meta"' in text


def test_extras_and_the_test_command_are_declared():
    cfg = _setup_cfg()
    extras = cfg["options.extras_require"]
    for name in ("test", "lint", "typing"):
        assert name in extras, name
    test_extra = {re.split(r"[<>=\[]", line, maxsplit=1)[0].lower()
                  for line in _lines(extras["test"])}
    assert {"pytest", "pytest-httpserver", "responses", "hypothesis"} <= test_extra
    tox = configparser.ConfigParser()
    tox.read(ROOT / "tox.ini", encoding="utf-8")
    assert {"py", "lint", "typing"} <= {e.strip() for e in tox["tox"]["envlist"].split(",")}
    assert "ruff check flask_halyk" in tox["testenv:lint"]["commands"]
    assert tox["testenv:typing"]["commands"].strip() == "mypy"
    assert cfg["mypy"]["strict"] == "True"
    assert "flask_halyk" in [f.strip() for f in cfg["mypy"]["files"].split(",")]


def _requirement(line: str) -> tuple[str, str, str]:
    """``Name[extra]>=1.2`` as (normalised name, operator, version)."""
    match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[a-z,]+\])?\s*(==|>=)\s*([0-9][0-9.]*)", line)
    assert match, line
    return re.sub(r"[-_.]+", "-", match.group(1)).lower(), match.group(2), match.group(3)


def _floors() -> dict[str, str]:
    text = (ROOT / ".ci" / "floors.txt").read_text(encoding="utf-8")
    pins = [_requirement(line.split("#")[0].strip()) for line in text.splitlines()
            if line.split("#")[0].strip()]
    assert all(operator == "==" for _, operator, _ in pins)
    return {name: version for name, _, version in pins}


def test_the_floors_file_pins_every_requirement_to_its_bound():
    cfg = _setup_cfg()
    lines = (_lines(cfg["options"]["install_requires"])
             + _lines(cfg["options.extras_require"]["test"]))
    floors = _floors()
    for name, operator, bound in map(_requirement, lines):
        assert operator == ">=", name
        assert name in floors, f"{name} is not in .ci/floors.txt"
        assert Version(floors[name]) == Version(bound), f"{name}: {floors[name]} is not {bound}"
    assert set(floors) == {name for name, _, _ in map(_requirement, lines)}


def test_the_floors_run_in_tox_and_in_ci():
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini", encoding="utf-8")
    floors = tox["testenv:floors"]
    assert "-c {toxinidir}/.ci/floors.txt" in floors["install_command"]
    assert floors["extras"].strip() == "test"
    assert '-m "not browser"' in floors["commands"]
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -q -c .ci/floors.txt -e \".[test]\"" in run
    assert '.venv-floors/bin/python -m pytest -m "not browser and not postgres"' in run
