"""Fixtures shared by the whole suite. The shop-facing ones live in flask_halyk.pytest_plugin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

DISTINCT_SECRET = "S3cr3t-Never-Shown-0xC0FFEE"


def make_app(tmp_path: Path, **config: Any) -> Flask:
    """A bare shop app with flask-halyk on the embedded sandbox and a SQLite ledger in tmp_path."""
    from flask_halyk import HalykEpay

    app = Flask("shop", instance_path=str(tmp_path / "instance"))
    app.config.update(
        SECRET_KEY="test-secret-key",
        TESTING=True,
        HALYK_DATABASE_URL=f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
    )
    app.config.update(config)
    HalykEpay(app)
    return app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = make_app(tmp_path)
    yield app
    app.extensions["halyk"].client.close()
