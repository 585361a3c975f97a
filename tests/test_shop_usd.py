"""The example shop sells in tenge and in dollars: a product priced in USD is paid on the
shop's USD merchant (the embedded sandbox serves both), its ledger row names that merchant's
terminal, and the dashboard refunds it through that merchant. Flask's test client only."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask

from flask_halyk.ledger import PaymentStatus

ROOT = Path(__file__).resolve().parents[1]
# `examples` is not installed with the package: the shop is imported from the checkout.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
NBSP = "\u00a0"


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Flask]:
    from examples.shop import create_app

    app = create_app({"SECRET_KEY": "unit",
                      "HALYK_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
                      "SHOP_DATABASE": str(tmp_path / "shop.sqlite3")})
    yield app
    state = app.extensions["halyk"]
    state.sandbox.extensions["halyk_sandbox"].wait_for_postlinks(10)
    for client in (state.client, *state.clients.values()):
        client.close()
    state.ledger.dispose()


def token_of(html: str) -> str:
    found = TOKEN.search(html)
    assert found is not None, "no CSRF token in the page"
    return found.group(1)


def test_money_in_each_currency_and_language() -> None:
    from examples.shop.i18n import money

    assert money(Decimal(45000), "rus") == f"45{NBSP}000{NBSP}₸"
    assert money(Decimal(120), "eng", currency="USD") == "$120.00"
    assert money(Decimal(120), "rus", currency="USD") == f"120,00{NBSP}$"
    assert money(Decimal("1234.5"), "kaz", currency="USD") == f"1{NBSP}234,50{NBSP}$"


def test_a_usd_order_is_paid_on_the_usd_merchant_and_refunded_from_the_dashboard(
        shop: Flask) -> None:
    from examples.shop.app import SANDBOX_MERCHANTS

    usd_terminal = SANDBOX_MERCHANTS["usd"]["TERMINAL_ID"]
    state = shop.extensions["halyk"]
    sandbox = state.sandbox.extensions["halyk_sandbox"]
    client = shop.test_client()
    client.get("/language/eng")
    catalogue = client.get("/").get_data(as_text=True)
    assert "$120.00" in catalogue and f"45,000{NBSP}₸" not in catalogue
    assert f"45{NBSP}000{NBSP}₸" in catalogue  # the tenge dombra, beside the dollar one

    form = client.get("/products/dombra-export/checkout").get_data(as_text=True)
    assert "$120.00" in form and "Paid in US dollars" in form
    placed = client.post("/products/dombra-export/checkout", data={
        "csrf_token": token_of(form), "quantity": "1", "name": "Arman Ali",
        "email": "arman@example.kz", "phone": "", "language": "eng"})
    assert placed.status_code == 302, placed.get_data(as_text=True)
    ref = placed.headers["Location"].rsplit("/", 1)[1]
    order = shop.extensions["shop_store"].get(ref)
    assert order.payment_object["currency"] == "USD"
    assert order.payment_object["terminal"] == usd_terminal

    sandbox.pay(order.payment_object)
    record = state.ledger.get(order.invoice_id)
    assert (record.status, record.terminal, record.currency, record.amount) == (
        PaymentStatus.PAID, usd_terminal, "USD", Decimal(120))
    assert sandbox.latest_token(order.invoice_id).merchant.terminal_id == usd_terminal
    assert "$120.00" in client.get(f"/orders/{ref}").get_data(as_text=True)

    # The back office (open on the sandbox) refunds it with the USD merchant's token: the
    # sandbox refuses an operation on another terminal's transaction.
    page = client.get(f"/admin/payments/{order.invoice_id}/refund").get_data(as_text=True)
    done = client.post(f"/admin/payments/{order.invoice_id}/refund",
                       data={"csrf_token": token_of(page), "amount": "20"})
    assert done.status_code == 302, done.get_data(as_text=True)
    record = state.ledger.get(order.invoice_id)
    assert (record.status, record.refunded_amount) == (
        PaymentStatus.PARTIALLY_REFUNDED, Decimal(20))
    [transaction] = [t for t in sandbox.store.snapshot_transactions()
                     if t.invoice_id == order.invoice_id]
    assert (transaction.terminal, transaction.currency) == (usd_terminal, "USD")
    shown = client.get(f"/orders/{ref}").get_data(as_text=True)
    assert "$20.00" in shown and "partially_refunded" in shown


def test_the_dashboard_names_each_payments_merchant(shop: Flask) -> None:
    sandbox = shop.extensions["halyk"].sandbox.extensions["halyk_sandbox"]
    halyk = shop.extensions["halyk"].extension
    with shop.test_request_context("/"):
        tenge = halyk.create_payment(45000, description="dombra")
        dollars = halyk.create_payment(120, description="dombra", currency="USD")
    sandbox.pay(dollars.to_js())
    client = shop.test_client()
    client.get("/language/eng")
    page = client.get(f"/admin/payments/{dollars.invoice_id}").get_data(as_text=True)
    assert "<dt>Merchant</dt>" in page and '<dd class="merchant">usd</dd>' in page
    page = client.get(f"/admin/payments/{tenge.invoice_id}").get_data(as_text=True)
    assert '<dd class="merchant">default</dd>' in page
    listing = client.get("/admin/").get_data(as_text=True)
    assert "<th>Merchant</th>" in listing
    rows = re.findall(r'/payments/(\d+)".*?<td class="merchant">(\w+)</td>', listing, re.S)
    assert dict(rows) == {str(tenge.invoice_id): "default", str(dollars.invoice_id): "usd"}
    client.get("/language/rus")
    assert "<th>Мерчант</th>" in client.get("/admin/").get_data(as_text=True)


def test_a_shop_with_no_usd_merchant_does_not_sell_in_dollars(tmp_path: Path) -> None:
    from examples.shop import create_app

    app = create_app({"SECRET_KEY": "unit", "HALYK_ENV": "sandbox", "HALYK_MERCHANTS": None,
                      "HALYK_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
                      "SHOP_DATABASE": str(tmp_path / "shop.sqlite3")})
    try:
        client = app.test_client()
        assert "dombra-export" not in client.get("/").get_data(as_text=True)
        assert client.get("/products/dombra-export/checkout").status_code == 404
        assert client.get("/products/dombra/checkout").status_code == 200
    finally:
        app.extensions["halyk"].client.close()
        app.extensions["halyk"].ledger.dispose()
