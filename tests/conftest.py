"""Fixtures shared by the whole suite. The shop-facing ones live in flask_halyk.pytest_plugin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from page_helpers import close, make_app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """A shop app on the embedded sandbox with a SQLite ledger in tmp_path (pytest-flask's
    ``client`` and ``live_server`` use it)."""
    app = make_app(tmp_path)
    yield app
    close(app)
