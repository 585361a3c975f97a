"""Shared by the ledger, postLink and operations tests: databases (SQLite file, or a fresh
PostgreSQL schema per test), shop apps, postLink bodies, signal recorders, a live server."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine
from werkzeug.serving import make_server

from flask_halyk import signals
from flask_halyk.postlink.verification import make_secret_hash

PG_ENV = "HALYK_TEST_POSTGRES_URL"
SECRET_KEY = "ledger-tests-secret-key"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@contextmanager
def fresh_pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a schema made for this test alone."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    name = "halyk_t_" + uuid.uuid4().hex[:12]
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        admin.dispose()


@contextmanager
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty ledger database of ``backend``."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'halyk.sqlite3'}"
    else:
        with fresh_pg_url() as url:
            yield url


def ledger_of(app: Flask) -> Any:
    """The app's ledger."""
    return app.extensions["halyk"].ledger


def sandbox_of(app: Flask) -> Any:
    """The app's embedded sandbox (its faults, transactions, deliveries)."""
    return app.extensions["halyk"].sandbox.extensions["halyk_sandbox"]


def new_payment(app: Flask, amount: str = "100", invoice_id: str | None = None) -> str:
    """A payment recorded straight in the ledger (no token), as create_payment records it."""
    config = app.extensions["halyk"].config
    return str(ledger_of(app).create_payment(
        invoice_id=invoice_id, amount=Decimal(amount), currency=config.currency,
        terminal=config.terminal_id, description="order").invoice_id)


def make_shop(db_url: str, tmp_path: Path, **config: Any) -> Flask:
    """A shop app with flask-halyk on the embedded sandbox and its ledger at ``db_url``."""
    from flask_halyk.extension import HalykEpay

    app = Flask("shop", instance_path=str(tmp_path / "instance"))
    app.config.update(SECRET_KEY=SECRET_KEY, TESTING=True, HALYK_DATABASE_URL=db_url)
    app.config.update(config)
    HalykEpay(app)
    return app


def close_shop(app: Flask) -> None:
    state = app.extensions["halyk"]
    state.client.close()
    state.ledger.dispose()


@contextmanager
def backend_shop(backend: str, tmp_path: Path, **config: Any) -> Iterator[Flask]:
    """A shop (:func:`make_shop`) whose ledger is on ``backend`` (a :data:`BACKENDS` entry),
    closed when the block ends."""
    with database_url(backend, tmp_path) as url:
        app = make_shop(url, tmp_path, **config)
        try:
            yield app
        finally:
            close_shop(app)


def postlink_for(app: Flask, invoice_id: str, amount: Any, *, success: bool = True,
                 genuine: bool = True, **fields: Any) -> dict[str, Any]:
    """A postLink body as ePay sends it, for a payment of ``app``."""
    config = app.extensions["halyk"].config
    body: dict[str, Any] = {
        "id": fields.pop("id", str(uuid.uuid4())),
        "dateTime": "2024-07-29T10:50:56.765674319+05:00",
        "invoiceId": invoice_id,
        "amount": int(amount) if Decimal(str(amount)) == int(Decimal(str(amount))) else
        float(amount),
        "currency": config.currency,
        "terminal": config.terminal_id,
        "accountId": "shopper-1",
        "description": "order",
        "language": "RUS",
        "cardMask": "440563...5096",
        "cardType": "VISA",
        "issuer": "HALYK BANK",
        "reference": "411111111117",
        "secure": "no",
        "approvalCode": "157911" if success else "",
        "code": "ok" if success else "error",
        "reason": "success" if success else "Insufficient funds",
        "reasonCode": 0 if success else 484,
        "name": "CARD HOLDER",
        "email": "",
        "phone": "",
        "ip": "213.148.6.204",
    }
    body.update(fields)
    if genuine:
        body["secret_hash"] = make_secret_hash(
            config.postlink_secret, str(body["invoiceId"]), body["amount"], body["currency"],
            body["terminal"])
    else:
        body["secret_hash"] = "0" * 32
    return body


class SignalLog:
    """Every flask-halyk signal sent while connected: (name, sender, kwargs)."""

    NAMES = ("payment_succeeded", "payment_failed", "payment_refunded", "payment_charged",
             "payment_cancelled", "postlink_rejected", "card_saved", "subscription_renewed",
             "subscription_payment_failed", "subscription_cancelled")

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._receivers: list[tuple[Any, Any]] = []
        for name in self.NAMES:
            signal = getattr(signals, name)

            def receive(sender: Any, _name: str = name, **kwargs: Any) -> None:
                with self._lock:
                    self.sent.append((_name, sender, kwargs))

            signal.connect(receive, weak=False)
            self._receivers.append((signal, receive))

    def named(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for n, _, kwargs in self.sent if n == name]

    def disconnect(self) -> None:
        for signal, receive in self._receivers:
            signal.disconnect(receive)


class LiveServer:
    """``app`` served by a threaded werkzeug server on a free loopback port, in this process.

    Not pytest-flask's ``live_server``: that one serves a fork of the `app` fixture from another
    process, and the tests that use this one read what the served app did in memory (the
    signals it sent, the payments of its embedded sandbox) or serve several apps at once (the
    shop, the bank's stand-in, an attacker's receiver)."""

    def __init__(self, app: Flask) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
