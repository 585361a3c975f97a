"""Fixtures shared by the whole suite. The shop-facing ones live in flask_halyk.pytest_plugin."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, has_app_context, has_request_context
from hypothesis import settings
from ledger_support import SignalLog
from page_helpers import close, make_app, marked_options

# pytester runs a shop's own test file in a child pytest (the plugin's entry point at work, the
# browser harness's artefacts); pytest allows this only in the top-level conftest.
pytest_plugins = ["pytester"]


@pytest.fixture
def signal_log() -> Iterator[SignalLog]:
    """Every flask-halyk signal sent during the test, with its keyword arguments."""
    log = SignalLog()
    yield log
    log.disconnect()


@pytest.fixture
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """A shop app on the embedded sandbox with a SQLite ledger in tmp_path, plus the settings
    of ``@pytest.mark.options``. pytest-flask's ``client``, ``live_server`` and ``config`` use
    it, and pytest-flask pushes ``app.test_request_context()`` for every test that has it
    (docs/testing.md, "pytest-flask's request context")."""
    app = make_app(tmp_path, **marked_options(request))
    yield app
    close(app)


@pytest.fixture
def no_backoff_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bank client's retries without its sleeps between them (every attempt still made):
    for a test whose subject is what follows when every attempt fails, not the wait."""
    from flask_halyk.epay import transport

    monkeypatch.setattr(transport, "_sleep", lambda seconds: None)


@pytest.fixture
def no_request_context() -> None:
    """For a test whose subject is code run outside any request (or app) context: it fails the
    test if one is pushed when the test starts. Such a test builds its app under another name
    than ``app``, which would have pytest-flask push ``app.test_request_context()``."""
    if has_app_context() or has_request_context():
        pytest.fail("this test must run outside any request or app context, but one is pushed "
                    "(pytest-flask pushes app.test_request_context() for tests that use `app`, "
                    "`client` or `live_server`: build the app under another fixture name)")


CHROMIUM = os.environ.get("HALYK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium for the whole session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        pytest.fail(f"playwright is not installed ({exc}): pip install -e '.[test]'")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"no Chromium at {CHROMIUM}: apt-get install chromium (or set HALYK_CHROMIUM); "
            "the browser tests need a real browser and never download one."
        )
    manager = sync_playwright().start()
    try:
        instance = manager.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except Exception as exc:
        manager.stop()
        pytest.fail(f"Chromium at {CHROMIUM} did not start: {exc}")
    yield instance
    # A Chromium that is gone already (killed from outside, crashed) is not asked to close:
    # Playwright would wait for its answer for ever, and the worker never end its session.
    if instance.is_connected():
        instance.close()
    manager.stop()


# Tests never assert on time, hypothesis's per-example deadline included: on two busy cores
# (two xdist workers, Chromium, PostgreSQL) an example's first run may take 10x its usual time.
settings.register_profile("halyk", deadline=None)
# CI explores the same examples on every run, so that a landing never hangs on a lucky draw;
# locally hypothesis keeps exploring new ones (and its database replays what failed).
settings.register_profile("ci", parent=settings.get_profile("halyk"), derandomize=True,
                          database=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "halyk")
