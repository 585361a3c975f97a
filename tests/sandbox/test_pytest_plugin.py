from __future__ import annotations

from types import SimpleNamespace

import requests
from flask import Flask
from sandbox_helpers import full_payment

from flask_halyk import signals
from flask_halyk.config import resolve
from flask_halyk.pytest_plugin import record_signals
from flask_halyk.verification import check_secret_hash


def test_halyk_sandbox_fixture(halyk_sandbox):
    assert halyk_sandbox.url.startswith("http://127.0.0.1:")
    assert requests.get(f"{halyk_sandbox.url}/_sandbox/transactions", timeout=10).json() == []
    full_payment(halyk_sandbox.url)
    assert len(halyk_sandbox.transactions) == 1
    halyk_sandbox.faults.token_error = 500
    assert requests.post(f"{halyk_sandbox.url}/oauth2/token", timeout=10).status_code == 500


def test_halyk_sandbox_fixture_is_fresh_per_test(halyk_sandbox):
    assert not halyk_sandbox.transactions and halyk_sandbox.faults.token_error is None


def _shop() -> Flask:
    app = Flask("shop")
    app.config["SECRET_KEY"] = "shop secret key for tests"
    app.extensions["halyk"] = SimpleNamespace(config=resolve(app.config))
    return app


def test_halyk_postlink_genuine_and_forged(halyk_postlink):
    app = _shop()
    config = app.extensions["halyk"].config
    genuine = halyk_postlink("123456", 500, app=app)
    assert genuine["code"] == "ok" and genuine["reasonCode"] == 0
    assert genuine["terminal"] == config.terminal_id and genuine["currency"] == "KZT"
    assert check_secret_hash(config.postlink_secret, genuine)
    forged = halyk_postlink("123456", 500, app=app, genuine=False)
    assert not check_secret_hash(config.postlink_secret, forged)
    with app.app_context():
        failed = halyk_postlink("123457", "12.50", success=False, reasonCode=484)
    assert failed["code"] == "error" and failed["reasonCode"] == 484 and failed["amount"] == 12.5
    assert check_secret_hash(config.postlink_secret, failed)
    tampered = dict(genuine, amount=1)
    assert not check_secret_hash(config.postlink_secret, tampered)


def test_halyk_signals_records_every_signal(halyk_signals):
    app = Flask("shop")
    signals.payment_succeeded.send(app, payment="P", postlink={"a": 1})
    signals.postlink_rejected.send(app, reason="forged", status=403, body=b"", event_id=1)
    assert [e.name for e in halyk_signals] == ["payment-succeeded", "postlink-rejected"]
    [event] = halyk_signals.named("payment_succeeded")
    assert event.sender is app and event.kwargs == {"payment": "P", "postlink": {"a": 1}}


def test_signal_recorder_disconnects_after_use():
    before = {name: len(getattr(signals, name).receivers) for name in signals.__all__}
    with record_signals() as recorder:
        signals.payment_failed.send("x", payment=None, postlink=None)
        assert len(recorder) == 1
    signals.payment_failed.send("y", payment=None, postlink=None)
    assert len(recorder) == 1
    assert before == {name: len(getattr(signals, name).receivers) for name in signals.__all__}
