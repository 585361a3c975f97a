"""A shop using flask-halyk, served on loopback, paid through a standalone sandbox over real HTTP
without a browser: token, payment page, card, postLink into the extension's own view, status.
Uses the plugin's fixtures the way a shop's tests would."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask, jsonify
from sandbox_helpers import open_page, pay
from werkzeug.serving import make_server

from flask_halyk import HalykEpay
from flask_halyk.ledger import PaymentStatus
from flask_halyk.sandbox import SandboxServer
from flask_halyk.state import get_state


def shop_app(tmp_path: Path, sandbox_url: str) -> Flask:
    app = Flask("shop", instance_path=str(tmp_path / "instance"))
    app.config.update(SECRET_KEY="shop key", HALYK_ENV="sandbox", HALYK_SANDBOX_URL=sandbox_url,
                      HALYK_DATABASE_URL=f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    halyk = HalykEpay(app)

    @app.post("/checkout/<int:amount>")
    def checkout(amount: int):  # type: ignore[no-untyped-def]
        payment = halyk.create_payment(amount, description="Заказ в тестовом магазине")
        return jsonify(payment.to_js())

    return app


@pytest.fixture
def shop(tmp_path: Path, halyk_sandbox: SandboxServer) -> Iterator[tuple[Flask, str]]:
    # Served in this process, not by pytest-flask's live_server (a forked copy): the test checks
    # the signals the shop sends when the postLink arrives, which halyk_signals hears only here.
    app = shop_app(tmp_path, halyk_sandbox.url)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["SERVER_NAME"] = f"127.0.0.1:{server.server_port}"  # where the sandbox posts
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    halyk_sandbox.sandbox.wait_for_postlinks(10)
    server.shutdown()
    server.server_close()
    get_state(app).client.close()


@pytest.mark.parametrize(("pan", "ledger", "bank"), [
    ("4405639704015096", PaymentStatus.PAID, "CHARGE"),
    ("4003032704547597", PaymentStatus.FAILED, "REJECT"),
])
def test_payment_reaches_the_shops_own_postlink_view(shop, halyk_sandbox, halyk_signals, pan,
                                                     ledger, bank):
    app, shop_url = shop
    payment = requests.post(f"{shop_url}/checkout/2500", timeout=10).json()
    assert payment["postLink"] == f"{shop_url}/halyk/postlink"
    page = open_page(halyk_sandbox.url, payment, short=False)
    assert page.status_code == 200, page.text
    assert pay(halyk_sandbox.url, page.text, pan).status_code == 200
    halyk_sandbox.sandbox.wait_for_postlinks(10)
    [delivery] = halyk_sandbox.deliveries
    assert delivery.status == 200 and not delivery.in_process
    expected = "postlink" if ledger is PaymentStatus.PAID else "failure-postlink"
    assert delivery.url == f"{shop_url}/halyk/{expected}"
    record = get_state(app).ledger.get(payment["invoiceId"])
    assert record is not None and record.status is ledger
    signal = "payment_succeeded" if ledger is PaymentStatus.PAID else "payment_failed"
    [event] = halyk_signals.named(signal)
    assert event.kwargs["postlink"]["id"] == halyk_sandbox.transactions[-1].id
    with app.app_context():
        status = get_state(app).client.status(payment["invoiceId"])
    assert str(status.status_name) == bank
