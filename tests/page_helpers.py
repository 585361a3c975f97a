"""Helpers shared by test_macros.py and test_payments.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from flask_halyk.extension import HalykEpay

DISTINCT_SECRET = "S3cr3t-Never-Shown-0xC0FFEE"
SHOP_TERMINAL = "11111111-2222-3333-4444-555555555555"


def make_shop(tmp_path: Path, **config: Any) -> Flask:
    """A shop app with flask-halyk on the embedded sandbox, a SQLite ledger in tmp_path and, by
    default, its own credentials with a distinctive client secret."""
    app = Flask("shop", instance_path=str(tmp_path / "instance"))
    app.config.update(
        SECRET_KEY="test-secret-key",
        TESTING=True,
        HALYK_DATABASE_URL=f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
    )
    if "HALYK_ENV" not in config:
        config = {"HALYK_ENV": "sandbox", "HALYK_CLIENT_ID": "shop-client",
                  "HALYK_CLIENT_SECRET": DISTINCT_SECRET, "HALYK_TERMINAL_ID": SHOP_TERMINAL,
                  **config}
    app.config.update(config)
    HalykEpay(app)
    return app


def close(app: Flask) -> None:
    app.extensions["halyk"].client.close()


def make_app(tmp_path: Path, **config: Any) -> Flask:
    """A bare shop app with no HALYK_* settings at all (embedded sandbox, test merchant) but the
    ledger in tmp_path, plus ``config``."""
    app = Flask("shop", instance_path=str(tmp_path / "instance"))
    app.config.update(
        SECRET_KEY="test-secret-key",
        TESTING=True,
        HALYK_DATABASE_URL=f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
    )
    app.config.update(config)
    HalykEpay(app)
    return app
