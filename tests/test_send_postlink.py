"""``flask halyk send-postlink``: the sandbox's ``POST /_sandbox/pay`` (with the Flask test
client) pays an invoice's latest payment token on its page and delivers the real, signed
postLink; the command reaches it over HTTP in a running shop, and refuses outside the sandbox."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from ledger_support import SignalLog, close_shop, make_shop, sandbox_of
from werkzeug.serving import make_server

from flask_halyk.cli import EXIT_REFUSED, EXIT_USAGE, sandbox_pay_url
from flask_halyk.config import sandbox_admin_key
from flask_halyk.ledger import PaymentStatus
from flask_halyk.sandbox import create_sandbox_app
from flask_halyk.sandbox.cards import BLOCKED_CARD
from flask_halyk.sandbox.payer import PaymentPageError

KEY = "X-Halyk-Sandbox-Key"


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Flask]:
    app = make_shop(f"sqlite:///{tmp_path / 'halyk.sqlite3'}", tmp_path)
    yield app
    sandbox_of(app).wait_for_postlinks(10)
    close_shop(app)


def checkout(app: Flask, amount: int = 5000) -> str:
    halyk = app.extensions["halyk"].extension
    with app.test_request_context("/"):
        payment = halyk.create_payment(amount, description="order")
    return str(payment.invoice_id)


def admin_pay(app: Flask, body: dict[str, Any], key: str | None = "right") -> Any:
    headers = {}
    if key is not None:
        headers[KEY] = sandbox_admin_key(app.extensions["halyk"].config) if key == "right" \
            else key
    return sandbox_of(app).app.test_client().post("/_sandbox/pay", json=body, headers=headers)


def test_the_admin_endpoint_pays_the_token_and_delivers_its_signed_postlink(
        shop: Flask, signal_log: SignalLog) -> None:
    invoice = checkout(shop)
    answer = admin_pay(shop, {"invoice_id": invoice, "approved": True})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["approved"] is True and body["status"] == "CHARGE"
    assert [d["status"] for d in body["deliveries"]] == [200]
    assert "secret_hash" not in answer.get_data(as_text=True)
    sandbox = sandbox_of(shop)
    # The status API knows the transaction; the postLink carried the token's secret_hash.
    assert [t.id for t in sandbox.transactions if t.invoice_id == invoice] == \
        [body["transaction_id"]]
    token = next(t for t in sandbox.store.tokens.values() if t.invoice_id == invoice)
    assert [d.body["secret_hash"] for d in sandbox.deliveries] == [token.secret_hash]
    assert shop.extensions["halyk"].ledger.get(invoice).status is PaymentStatus.PAID
    assert len([s for s in signal_log.named("payment_succeeded")
                if s["payment"].invoice_id == invoice]) == 1
    again = admin_pay(shop, {"invoice_id": invoice, "approved": True})
    assert again.status_code == 409 and "already paid" in again.get_json()["error"]
    assert len(sandbox.deliveries) == 1


def test_a_declined_card_delivers_the_failure_postlink(shop: Flask,
                                                        signal_log: SignalLog) -> None:
    invoice = checkout(shop)
    answer = admin_pay(shop, {"invoice_id": invoice, "approved": False})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["approved"] is False
    assert answer.get_json()["status"] == "REJECT"
    assert [d.url.endswith("/failure-postlink") for d in sandbox_of(shop).deliveries] == [True]
    assert shop.extensions["halyk"].ledger.get(invoice).status is PaymentStatus.FAILED
    assert len(signal_log.named("payment_failed")) == 1


def test_the_admin_endpoint_refuses_with_reasons(shop: Flask) -> None:
    invoice = checkout(shop)
    missing = admin_pay(shop, {"invoice_id": invoice, "approved": True}, key=None)
    assert missing.status_code == 403 and KEY in missing.get_json()["error"]
    assert admin_pay(shop, {"invoice_id": invoice, "approved": True},
                     key="0" * 64).status_code == 403
    unknown = admin_pay(shop, {"invoice_id": "000000999999", "approved": True})
    assert unknown.status_code == 404
    assert "issued no payment token for invoice 000000999999" in unknown.get_json()["error"]
    assert admin_pay(shop, {"invoice_id": invoice}).status_code == 400
    assert sandbox_of(shop).transactions == []


def test_pay_invoice_in_a_shops_tests(shop: Flask) -> None:
    sandbox = sandbox_of(shop)
    with pytest.raises(PaymentPageError) as none:
        sandbox.pay_invoice("000000999999")
    assert none.value.status == 404
    invoice = checkout(shop, 1500)
    result = sandbox.pay_invoice(invoice, BLOCKED_CARD)
    assert not result.approved and result.reason_code == 465
    assert [d.status for d in result.deliveries] == [200]
    result = sandbox.pay_invoice(invoice)  # a declined invoice may be paid again
    assert result.approved and result.transaction.amount == 1500
    with pytest.raises(PaymentPageError) as paid:
        sandbox.pay_invoice(invoice)
    assert paid.value.status == 409
    assert shop.extensions["halyk"].ledger.get(invoice).status is PaymentStatus.PAID


def test_a_standalone_sandbox_serves_it_with_its_admin_routes_only() -> None:
    assert sandbox_of_app(create_sandbox_app()).post(
        "/_sandbox/pay", json={"invoice_id": "000000000001", "approved": True}
    ).status_code == 404
    assert sandbox_of_app(create_sandbox_app(admin_routes=False)).post(
        "/_sandbox/pay", json={}).status_code == 404  # the route itself: not served
    assert "/_sandbox/pay" not in {
        r.rule for r in create_sandbox_app(admin_routes=False).url_map.iter_rules()}


def sandbox_of_app(app: Flask) -> Any:
    return app.test_client()


@pytest.fixture
def running_shop(shop: Flask) -> Iterator[str]:
    """``shop`` served on loopback (threaded), as `flask run` would: its URL."""
    server = make_server("127.0.0.1", 0, shop, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_the_command_has_the_running_shops_sandbox_deliver_the_postlink(
        shop: Flask, running_shop: str, signal_log: SignalLog) -> None:
    paid, failed = checkout(shop), checkout(shop, 700)
    runner = shop.test_cli_runner()
    result = runner.invoke(args=["halyk", "send-postlink", paid, "--approved",
                                 "--app-url", running_shop])
    assert result.exit_code == 0, result.output
    assert f"invoice {paid}: paid in the sandbox, approved" in result.output
    assert "/halyk/postlink: HTTP 200" in result.output
    result = runner.invoke(args=["halyk", "send-postlink", failed, "--declined",
                                 "--app-url", running_shop])
    assert result.exit_code == 0, result.output
    assert "declined" in result.output and "/halyk/failure-postlink: HTTP 200" in result.output
    ledger = shop.extensions["halyk"].ledger
    assert ledger.get(paid).status is PaymentStatus.PAID
    assert ledger.get(failed).status is PaymentStatus.FAILED
    assert [s["payment"].invoice_id for s in signal_log.named("payment_succeeded")] == [paid]
    assert [s["payment"].invoice_id for s in signal_log.named("payment_failed")] == [failed]
    again = runner.invoke(args=["halyk", "send-postlink", paid, "--approved",
                                "--app-url", running_shop])
    assert again.exit_code == EXIT_REFUSED and "already paid" in again.output
    unknown = runner.invoke(args=["halyk", "send-postlink", "000000999999", "--approved",
                                  "--app-url", running_shop])
    assert unknown.exit_code == EXIT_REFUSED and "issued no payment token" in unknown.output
    assert len(sandbox_of(shop).deliveries) == 2


@pytest.mark.parametrize("env", ["test", "prod"])
def test_the_command_refuses_outside_the_sandbox(tmp_path: Path, env: str) -> None:
    app = make_shop(f"sqlite:///{tmp_path / 'halyk.sqlite3'}", tmp_path, HALYK_ENV=env,
                    HALYK_EXTERNAL_URL="https://shop.example.kz", HALYK_CLIENT_ID="shop",
                    HALYK_CLIENT_SECRET="s3cret", HALYK_TERMINAL_ID="t-1")
    try:
        result = app.test_cli_runner().invoke(
            args=["halyk", "send-postlink", "000000000001", "--approved"])
    finally:
        close_shop(app)
    assert result.exit_code == EXIT_USAGE
    assert f"only with HALYK_ENV='sandbox', not '{env}'" in result.output


def test_where_the_command_finds_the_sandbox(tmp_path: Path) -> None:
    app = make_shop(f"sqlite:///{tmp_path / 'a.sqlite3'}", tmp_path)
    external = make_shop(f"sqlite:///{tmp_path / 'b.sqlite3'}", tmp_path,
                         HALYK_SANDBOX_URL="http://127.0.0.1:8400/")
    named = make_shop(f"sqlite:///{tmp_path / 'c.sqlite3'}", tmp_path,
                      HALYK_EXTERNAL_URL="https://shop.test")
    try:
        with app.app_context():
            assert sandbox_pay_url(None) == "http://127.0.0.1:5000/halyk-sandbox/_sandbox/pay"
            assert sandbox_pay_url("http://h:8000/") == "http://h:8000/halyk-sandbox/_sandbox/pay"
        with external.app_context():
            assert sandbox_pay_url(None) == "http://127.0.0.1:8400/_sandbox/pay"
        with named.app_context():
            assert sandbox_pay_url(None) == "https://shop.test/halyk-sandbox/_sandbox/pay"
        assert app.test_cli_runner().invoke(
            args=["halyk", "send-postlink", "000000000001"]).exit_code == EXIT_USAGE
    finally:
        for shop in (app, external, named):
            close_shop(shop)
