from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
import requests
from flask import Flask
from sandbox_helpers import full_payment

from flask_halyk import HalykEpay, signals
from flask_halyk.config import resolve
from flask_halyk.ledger import PaymentStatus
from flask_halyk.postlink.verification import check_secret_hash
from flask_halyk.pytest_plugin import record_signals
from flask_halyk.state import get_state


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


VENDOR_KEYS = {
    "accountId", "amount", "approvalCode", "cardId", "cardMask", "cardType", "code", "currency",
    "dateTime", "description", "email", "id", "invoiceId", "invoiceIdAlt", "ip", "ipCity",
    "ipCountry", "ipDistrict", "ipLatitude", "ipLongitude", "ipRegion", "issuer", "language",
    "name", "phone", "reason", "reasonCode", "reference", "secure", "secureDetails", "terminal",
    "tokenRecipient"}


def test_halyk_postlink_bodies_have_the_bank_shape(halyk_postlink):
    app = _shop()
    for success in (True, False):
        body = halyk_postlink("123456", 500, app=app, success=success)
        assert VENDOR_KEYS | {"secret_hash"} == set(body)
        assert str(uuid.UUID(body["id"])) == body["id"]
    assert halyk_postlink("123456", 1, app=app)["id"] != body["id"]


def test_documented_use_against_a_real_shop(tmp_path, halyk_postlink, halyk_signals):
    """docs/testing.md's examples, run against HalykEpay's own postLink view and ledger."""
    app = Flask("shop", instance_path=str(tmp_path))
    app.config.update(SECRET_KEY="k", HALYK_DATABASE_URL=f"sqlite:///{tmp_path / 'l.sqlite3'}")
    halyk = HalykEpay(app)
    client = app.test_client()
    with app.test_request_context():
        payment = halyk.create_payment(500, "123456", description="Order 1")
        forged = client.post("/halyk/postlink", json=halyk_postlink("123456", 500, genuine=False))
        assert forged.status_code == 403
        tampered = client.post("/halyk/postlink", json=halyk_postlink("123456", 500, amount=5))
        assert tampered.status_code == 403
        assert halyk.ledger.get("123456").status is PaymentStatus.NEW
        genuine = client.post("/halyk/postlink", json=halyk_postlink("123456", 500))
        assert genuine.status_code == 200
    [event] = halyk_signals.named("payment_succeeded")
    assert event.kwargs["postlink"]["invoiceId"] == payment.invoice_id == "123456"
    assert len(halyk_signals.named("postlink_rejected")) == 2
    with app.app_context():
        assert halyk.ledger.get("123456").status is PaymentStatus.PAID
    get_state(app).client.close()


def test_fixtures_reach_a_shops_tests_through_the_entry_point(pytester):
    """A shop's test file with no conftest gets the fixtures from the installed plugin."""
    pytester.makepyfile(test_shop="""
        import requests

        def test_fixtures(halyk_sandbox, halyk_postlink, halyk_signals):
            assert requests.post(halyk_sandbox.url + "/oauth2/token",
                                 timeout=10).status_code == 400
            assert callable(halyk_postlink) and len(halyk_signals) == 0
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_halyk_postlink_without_a_shop_is_a_clear_error(halyk_postlink):
    with pytest.raises(RuntimeError, match="pass app="):
        halyk_postlink("123456", 500)
    with pytest.raises(RuntimeError, match="not initialised"):
        halyk_postlink("123456", 500, app=Flask("bare"))
