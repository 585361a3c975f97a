from __future__ import annotations

import re
import uuid
from types import SimpleNamespace

import pytest
import requests
from flask import Flask, current_app, g, has_app_context, has_request_context, request
from page_helpers import close, make_app, make_shop
from sandbox_helpers import full_payment

from flask_halyk import signals
from flask_halyk.config import SHOP_INTERNAL_ORIGIN, resolve
from flask_halyk.ledger import PaymentStatus
from flask_halyk.postlink.verification import check_secret_hash
from flask_halyk.pytest_plugin import record_signals
from flask_halyk.sandbox import PaymentPageError, SandboxServer, cards
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


def test_documented_use_against_a_real_shop(app, client, halyk_postlink, halyk_signals):
    """docs/testing.md's postLink examples, run against HalykEpay's own postLink view and
    ledger, on pytest-flask's ``client`` (the request context it pushed gives the app)."""
    halyk = get_state(app).extension
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


def test_halyk_postlink_without_a_shop_is_a_clear_error(halyk_postlink, no_request_context):
    with pytest.raises(RuntimeError, match="pass app="):
        halyk_postlink("123456", 500)
    with pytest.raises(RuntimeError, match="not initialised"):
        halyk_postlink("123456", 500, app=Flask("bare"))


# pytest-flask's request context, as docs/testing.md says this suite lives with it.


def test_pytest_flask_pushes_a_request_context_for_app(app):
    assert has_request_context() and current_app._get_current_object() is app
    assert request.host_url == "http://localhost/"


def test_pytest_flask_pushes_the_live_apps_context_for_live_server(app, live_server):
    assert live_server.app is app and current_app._get_current_object() is app
    assert request.host_url == f"http://localhost.localdomain:{live_server.port}/"
    assert requests.get(live_server.url("/halyk-sandbox/payform/payment-api.js"),
                        timeout=10).status_code == 200


def test_client_requests_share_the_tests_app_context(app, client):
    @app.get("/count")
    def count() -> str:
        g.count = g.get("count", 0) + 1
        return str(g.count)

    assert [client.get("/count").get_data(as_text=True) for _ in range(2)] == ["1", "2"]


def test_client_keeps_the_last_requests_context(app, client):
    app.add_url_rule("/page", "page", lambda: "page")
    assert request.path == "/"
    client.get("/page?v=1")
    assert request.path == "/page" and request.args["v"] == "1"


def test_a_test_without_app_runs_outside_any_context(no_request_context, tmp_path):
    assert not has_app_context()


def test_halyk_postlink_signs_for_another_app_when_given(app, halyk_postlink, tmp_path):
    other = make_shop(tmp_path / "other", SECRET_KEY="another shop's secret key")
    try:
        body = halyk_postlink("123456", 500, app=other)
        assert check_secret_hash(get_state(other).config.postlink_secret, body)
        assert not check_secret_hash(get_state(app).config.postlink_secret, body)
        assert check_secret_hash(get_state(app).config.postlink_secret,
                                 halyk_postlink("123456", 500))
    finally:
        close(other)


# halyk_pay: the sandbox the test's shop uses.


@pytest.mark.parametrize(("pan", "status"), [(cards.APPROVED_CARD, PaymentStatus.PAID),
                                             (cards.BLOCKED_CARD, PaymentStatus.FAILED)])
def test_halyk_pay_on_the_embedded_sandbox(app, halyk_pay, halyk_signals, pan, status):
    halyk = get_state(app).extension
    payment = halyk.create_payment(1500, description="Tea")
    result = halyk_pay(payment, pan)
    [delivery] = result.deliveries
    assert delivery.in_process and delivery.status == 200
    # The embedded sandbox posts to the shop's fixed in-process origin, never a request's Host.
    assert delivery.url.startswith(f"{SHOP_INTERNAL_ORIGIN}/halyk/")
    assert halyk.ledger.get(payment.invoice_id).status is status
    assert len(halyk_signals) == 1
    if status is PaymentStatus.PAID:
        with pytest.raises(PaymentPageError, match="already paid"):
            halyk_pay(payment.to_js(), pan)


def test_halyk_pay_takes_the_card_form_options(app, halyk_pay):
    payment = get_state(app).extension.create_payment(1500, description="Tea")
    result = halyk_pay(payment, cards.THREE_DS_CARD, secure_code="000000", wait=0)
    assert result.three_ds and result.reason_code == 473
    with pytest.raises(PaymentPageError) as refused:
        halyk_pay(payment, pan=cards.APPROVED_CARD, expiry="01/20")
    assert "expiry" in refused.value.errors


def test_halyk_pay_for_another_app_when_given(app, halyk_pay, tmp_path):
    other = make_shop(tmp_path / "other")
    try:
        with other.test_request_context():
            payment = get_state(other).extension.create_payment(900, description="Tea")
        assert halyk_pay(payment, app=other).deliveries[0].status == 200
        with other.app_context():
            assert get_state(other).ledger.get(payment.invoice_id).status is PaymentStatus.PAID
        with pytest.raises(PaymentPageError, match="token"):
            halyk_pay(payment)  # the app fixture's sandbox never issued that token
    finally:
        get_state(other).sandbox.extensions["halyk_sandbox"].wait_for_postlinks(10)
        close(other)


def test_halyk_pay_refuses_a_sandbox_it_cannot_reach(halyk_pay, tmp_path):
    with SandboxServer() as own:
        shop = make_app(tmp_path, HALYK_ENV="sandbox", HALYK_SANDBOX_URL=own.url,
                        HALYK_EXTERNAL_URL="http://127.0.0.1:9")  # where nothing listens
        try:
            with shop.test_request_context():
                payment = get_state(shop).extension.create_payment(900, description="Tea")
            with pytest.raises(RuntimeError, match=re.escape(f"talks to {own.url}")):
                halyk_pay(payment, app=shop)
            assert own.pay(payment.to_js(), wait=0).approved  # its own pay() does
        finally:
            close(shop)


def test_halyk_pay_refuses_the_embedded_sandbox_of_a_live_server(app, live_server, halyk_pay):
    payment = get_state(app).extension.create_payment(1500, description="Tea")
    with pytest.raises(RuntimeError, match=re.escape("HALYK_SANDBOX_URL=halyk_sandbox.url")):
        halyk_pay(payment)


class TestLiveServerOnHalykSandbox:
    """pytest-flask's live_server serving a shop that pays on halyk_sandbox."""

    @pytest.fixture
    def app(self, tmp_path, halyk_sandbox):
        app = make_app(tmp_path, HALYK_ENV="sandbox", HALYK_SANDBOX_URL=halyk_sandbox.url)

        @app.post("/checkout")
        def checkout() -> dict:
            return get_state(app).extension.create_payment(800, description="Tea").to_js()

        yield app
        close(app)

    def test_a_payment_made_in_the_tests_context_reaches_the_live_server(
            self, app, live_server, halyk_sandbox, halyk_pay):
        halyk = get_state(app).extension
        payment = halyk.create_payment(1500, description="Tea")
        # pytest-flask's SERVER_NAME, which nothing here resolves: the plugin routes it.
        name = f"localhost.localdomain:{live_server.port}"
        assert payment.to_js()["postLink"] == f"http://{name}/halyk/postlink"
        result = halyk_pay(payment)
        assert [(d.url, d.status, d.in_process) for d in result.deliveries] == [
            (f"http://{name}/halyk/postlink", 200, False)]
        assert halyk_sandbox.sandbox.sender.route(f"https://{name}/x") == live_server.url("/x")
        # the live server's process wrote the ledger file this process reads
        assert halyk.ledger.get(payment.invoice_id).status is PaymentStatus.PAID

    def test_a_payment_made_by_the_live_server(self, app, live_server, halyk_pay,
                                               halyk_signals):
        payment_object = requests.post(live_server.url("/checkout"), timeout=10).json()
        # Built from pytest-flask's SERVER_NAME, not the request's Host; the plugin routes it.
        origin = f"http://localhost.localdomain:{live_server.port}"
        assert payment_object["postLink"] == f"{origin}/halyk/postlink"
        result = halyk_pay(payment_object, cards.BLOCKED_CARD)
        assert [(d.url, d.status) for d in result.deliveries] == [
            (f"{origin}/halyk/failure-postlink", 200)]
        ledger = get_state(app).ledger
        assert ledger.get(payment_object["invoiceId"]).status is PaymentStatus.FAILED
        assert len(halyk_signals) == 0  # sent in the live server's process


def test_fixtures_work_without_pytest_flask(pytester, monkeypatch):
    """A shop with no pytest-flask: the plugin imports without it, halyk_postlink and halyk_pay
    take the shop's own `app` fixture, and nothing pushes a request context."""
    blocker = pytester.mkdir("blocker") / "pytest_flask"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('pytest-flask is not installed')\n")
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "blocker"))
    pytester.makepyfile(test_shop="""
        import sys

        import pytest
        from flask import Flask, has_request_context

        from flask_halyk import HalykEpay
        from flask_halyk.sandbox import cards

        halyk = HalykEpay()


        @pytest.fixture
        def app(tmp_path):
            app = Flask("shop", instance_path=str(tmp_path))
            app.config.update(SECRET_KEY="k",
                              HALYK_DATABASE_URL=f"sqlite:///{tmp_path / 'l.sqlite3'}")
            halyk.init_app(app)
            return app


        def test_no_pytest_flask(app):
            with pytest.raises(ImportError, match="not installed"):
                import pytest_flask  # noqa: F401
            assert "pytest_flask.plugin" not in sys.modules and not has_request_context()


        def test_the_fixtures_take_the_app_fixture(app, halyk_postlink, halyk_pay,
                                                   halyk_signals):
            with app.test_request_context():
                payment = halyk.create_payment(500, description="Tea")
            client = app.test_client()
            forged = halyk_postlink(payment.invoice_id, 500, genuine=False)
            assert client.post("/halyk/postlink", json=forged).status_code == 403
            result = halyk_pay(payment, cards.APPROVED_CARD)
            assert result.deliveries[0].status == 200
            with app.app_context():
                assert halyk.ledger.get(payment.invoice_id).status.value == "paid"
            assert [e.name for e in halyk_signals] == ["postlink-rejected",
                                                       "payment-succeeded"]


        def test_halyk_sandbox(halyk_sandbox):
            assert halyk_sandbox.url.startswith("http://127.0.0.1:")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:flask")
    result.assert_outcomes(passed=3)


# halyk_saved_card and halyk_charge_due: a subscription renewed in one line.


def test_a_subscription_renewed_in_one_line(app, halyk_saved_card, halyk_charge_due,
                                           halyk_signals):
    from flask_halyk import Plan

    halyk = get_state(app).extension
    card = halyk_saved_card("club-1")
    assert card.account_id == "club-1" and card.is_active
    subscription = halyk.subscribe("club-1", card, Plan.monthly(4900), trial_days=30)
    assert halyk_charge_due().renewed == []  # the trial runs
    report = halyk_charge_due(at=subscription.next_charge_at)
    assert report.renewed == [subscription.id]
    [renewed] = halyk_signals.named("subscription_renewed")
    assert renewed.kwargs["payment"].status is PaymentStatus.PAID
    assert halyk.ledger.now() < subscription.next_charge_at  # the clock put back
    with pytest.raises(RuntimeError, match="did not save"):
        halyk_saved_card("club-2", cards.BLOCKED_CARD)
