"""Several merchants in one shop (issue 16 part B): HALYK_MERCHANTS, the merchant of a payment,
each bank call with its merchant's credentials, postLinks checked against the invoice's
merchant, and the embedded sandbox serving them all."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from ledger_support import BACKENDS, backend_shop, postlink_for, sandbox_of

from flask_halyk.config import DEFAULTS, TEST_CLIENT_ID, TEST_CLIENT_SECRET, resolve
from flask_halyk.epay import EpayClient
from flask_halyk.errors import ConfigurationError, InvalidPayment
from flask_halyk.ledger import EventVerdict, PaymentStatus
from flask_halyk.operations import cancel, charge, refund
from flask_halyk.postlink.verification import make_secret_hash
from flask_halyk.recovery import reconcile
from flask_halyk.sandbox.cli import _shop_merchants
from flask_halyk.state import get_state

S = PaymentStatus
GOOD_CARD = "4405639704015096"
USD_TERMINAL = "0b5f3c1e-7a2d-4e8f-9c6b-1d2e3f4a5b6c"
HOLD_TERMINAL = "5c6d7e8f-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
USD_SECRET = "usd-merchant-secret-value"
MERCHANTS = {
    "usd": {"CLIENT_ID": "shop-usd", "CLIENT_SECRET": USD_SECRET,
            "TERMINAL_ID": USD_TERMINAL, "CURRENCY": "USD"},
    "hold": {"CLIENT_ID": "shop-hold", "CLIENT_SECRET": "hold-merchant-secret",
             "TERMINAL_ID": HOLD_TERMINAL, "CURRENCY": "EUR", "TWO_STAGE": "true"},
}


def settings(**extra: Any) -> dict[str, Any]:
    return {"HALYK_ENV": "sandbox", "SECRET_KEY": "k", "HALYK_MERCHANTS": MERCHANTS, **extra}


# Config


def test_the_default_merchant_is_todays_settings() -> None:
    config = resolve({"SECRET_KEY": "k"})
    [default] = config.merchants
    assert (default.name, default.terminal_id, default.currency, default.two_stage) == (
        "default", config.terminal_id, "KZT", False)
    assert DEFAULTS["HALYK_MERCHANTS"] is None


def test_named_merchants_are_read_and_checked() -> None:
    config = resolve(settings(HALYK_TWO_STAGE=True))
    assert [m.name for m in config.merchants] == ["default", "usd", "hold"]
    usd, hold = config.merchant("usd"), config.merchant("hold")
    assert (usd.client_id, usd.terminal_id, usd.currency, usd.two_stage) == (
        "shop-usd", USD_TERMINAL, "USD", False)
    assert (hold.currency, hold.two_stage) == ("EUR", True)
    assert config.merchants[0].two_stage is True
    assert config.merchant_of_terminal(USD_TERMINAL.upper() + " ") == usd
    assert config.merchant_of_terminal("nope") is None
    # Secrets never in a repr.
    assert USD_SECRET not in repr(config.merchants) and USD_SECRET not in repr(usd)
    with pytest.raises(ConfigurationError, match="no merchant is called 'eur'"):
        config.merchant("eur")


@pytest.mark.parametrize(("merchants", "match"), [
    ("usd", "must be a dict of merchant name"),
    ({"USD": MERCHANTS["usd"]}, "'USD' is not a merchant name"),
    ({"default": MERCHANTS["usd"]}, "'default' is the merchant of HALYK_CLIENT_ID"),
    ({"usd": "x"}, r"HALYK_MERCHANTS\['usd'\]: must be a dict"),
    ({"usd": {**MERCHANTS["usd"], "API_URL": "https://x"}}, "unknown key.*API_URL"),
    ({"usd": {k: v for k, v in MERCHANTS["usd"].items() if k != "TERMINAL_ID"}},
     r"\['TERMINAL_ID'\]: required"),
    ({"usd": {**MERCHANTS["usd"], "CURRENCY": "dollars"}}, "three-letter currency"),
    ({"usd": {**MERCHANTS["usd"], "TWO_STAGE": "maybe"}}, r"\['TWO_STAGE'\].*True or False"),
    ({"usd": MERCHANTS["usd"], "usd2": {**MERCHANTS["usd"], "CLIENT_ID": "other"}},
     "merchants 'usd' and 'usd2' share the terminal"),
    ({"usd": {**MERCHANTS["usd"], "TERMINAL_ID": DEFAULTS["HALYK_TERMINAL_ID"] or
              "67e34d63-102f-4bd1-898e-370781d0074d"}}, "'default' and 'usd' share"),
])
def test_bad_merchants_are_refused_without_their_secrets(merchants: Any, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match) as caught:
        resolve(settings(HALYK_MERCHANTS=merchants))
    assert USD_SECRET not in str(caught.value)


def test_merchants_need_an_environment_and_prod_needs_real_secrets() -> None:
    with pytest.raises(ConfigurationError, match="HALYK_ENV: credentials are configured"):
        resolve({"SECRET_KEY": "k", "HALYK_MERCHANTS": MERCHANTS})
    prod = {"SECRET_KEY": "k", "HALYK_ENV": "prod", "HALYK_CLIENT_ID": "a",
            "HALYK_CLIENT_SECRET": "b", "HALYK_TERMINAL_ID": "c",
            "HALYK_EXTERNAL_URL": "https://shop.example.kz"}
    with pytest.raises(ConfigurationError, match=r"\['CLIENT_SECRET'\]: this is the vendor"):
        resolve({**prod, "HALYK_MERCHANTS": {"usd": {
            **MERCHANTS["usd"], "CLIENT_SECRET": TEST_CLIENT_SECRET}}})
    assert len(resolve({**prod, "HALYK_MERCHANTS": MERCHANTS}).merchants) == 3


# One app, several merchants, on SQLite and PostgreSQL


@pytest.fixture(params=BACKENDS)
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    with backend_shop(request.param, tmp_path, HALYK_ENV="sandbox",
                      HALYK_MERCHANTS=MERCHANTS) as app:
        yield app
        sandbox_of(app).wait_for_postlinks(10)
        for client in app.extensions["halyk"].clients.values():
            client.close()


def pay(app: Flask, amount: int = 100, **kwargs: Any) -> str:
    halyk = app.extensions["halyk"].extension
    with app.test_request_context("/"):
        payment = halyk.create_payment(amount, description="order", **kwargs)
    sandbox_of(app).pay(payment.to_js(), GOOD_CARD)
    return str(payment.invoice_id)


def test_one_client_per_merchant_each_with_its_credentials(shop: Flask) -> None:
    state = shop.extensions["halyk"]
    assert set(state.clients) == {"usd", "hold"}
    usd = state.clients["usd"]
    assert isinstance(usd, EpayClient) and usd is not state.client
    assert (usd.client_id, usd.terminal_id, usd.currency) == ("shop-usd", USD_TERMINAL, "USD")
    assert state.client_for(USD_TERMINAL) is usd
    assert state.client_for(state.config.terminal_id) is state.client
    with pytest.raises(ConfigurationError, match="no configured merchant has the terminal"):
        state.client_for("another-terminal")


def test_two_merchants_pay_refund_and_reconcile_side_by_side(shop: Flask) -> None:
    state = shop.extensions["halyk"]
    ledger, sandbox = state.ledger, sandbox_of(shop)
    kzt = pay(shop, 100)
    usd = pay(shop, 70, merchant="usd")
    by_currency = pay(shop, 9, currency="usd")
    for invoice, terminal, currency in ((kzt, state.config.terminal_id, "KZT"),
                                        (usd, USD_TERMINAL, "USD"),
                                        (by_currency, USD_TERMINAL, "USD")):
        record = ledger.get(invoice)
        assert (record.status, record.terminal, record.currency) == (S.PAID, terminal, currency)
        # The payment token was asked for with the merchant's own credentials.
        assert sandbox.latest_token(invoice).merchant.terminal_id == terminal
        [transaction] = [t for t in sandbox.store.snapshot_transactions()
                         if t.invoice_id == invoice]
        assert (transaction.terminal, transaction.currency) == (terminal, currency)
    with shop.app_context():
        # The sandbox refuses an operation on another terminal's transaction: each refund
        # only succeeds with its own merchant's service token.
        refund(get_state(), usd, Decimal(20))
        refund(get_state(), kzt)
    assert ledger.get(usd).status is S.PARTIALLY_REFUNDED
    assert ledger.get(kzt).status is S.REFUNDED
    assert ledger.get(by_currency).status is S.PAID
    refunded = {t.invoice_id: t.status for t in sandbox.store.snapshot_transactions()}
    assert refunded[kzt] == "REFUND" and refunded[by_currency] == "CHARGE"

    # Reconcile: postLinks dropped, each payment asked about with its merchant's token.
    sandbox.faults.drop_postlink = True
    lost_kzt, lost_usd = pay(shop, 5), pay(shop, 6, merchant="usd")
    assert ledger.get(lost_kzt).status is S.NEW and ledger.get(lost_usd).status is S.NEW
    with shop.app_context():
        report = reconcile(get_state(), timedelta(0))
    assert (report.checked, report.changed) == (2, 2)
    assert ledger.get(lost_kzt).status is S.PAID and ledger.get(lost_usd).status is S.PAID
    assert ledger.get(lost_usd).currency == "USD"


def test_a_two_stage_merchant_beside_a_one_stage_one(shop: Flask) -> None:
    ledger = shop.extensions["halyk"].ledger
    held = pay(shop, 30, merchant="hold")
    paid = pay(shop, 40)
    assert ledger.get(held).status is S.AUTHORIZED
    assert ledger.get(paid).status is S.PAID
    with shop.app_context():
        charge(get_state(), held, Decimal(10))
    assert ledger.get(held).status is S.PAID
    assert ledger.get(held).charged_amount == Decimal(10)
    other = pay(shop, 50, currency="EUR")
    with shop.app_context():
        cancel(get_state(), other)
    assert ledger.get(other).status is S.CANCELLED


def test_a_postlink_with_the_other_merchants_terminal_is_refused(shop: Flask) -> None:
    state = shop.extensions["halyk"]
    sandbox_of(shop).faults.drop_postlink = True
    invoice = pay(shop, 100)  # the default merchant's, still new
    body = postlink_for(shop, invoice, 100, terminal=USD_TERMINAL)
    # A hash that matches the other terminal (one of the shop's): only the invoice's own
    # merchant may report it.
    body["secret_hash"] = make_secret_hash(state.config.postlink_secret, invoice, 100, "KZT",
                                           USD_TERMINAL)
    answer = shop.test_client().post("/halyk/postlink", json=body)
    assert answer.status_code == 403
    [event] = state.ledger.events(invoice_id=invoice)
    assert event.verdict is EventVerdict.REJECTED and "terminal" in (event.reason or "")
    assert state.ledger.get(invoice).status is S.NEW
    # Its own merchant's postLink goes through.
    own = shop.test_client().post("/halyk/postlink", json=postlink_for(shop, invoice, 100))
    assert own.status_code == 200
    assert state.ledger.get(invoice).status is S.PAID


def test_the_currency_rule(shop: Flask) -> None:
    halyk = shop.extensions["halyk"].extension
    ledger = shop.extensions["halyk"].ledger
    before = len(ledger.query())
    with shop.test_request_context("/"):
        with pytest.raises(InvalidPayment, match="no merchant takes GBP"):
            halyk.create_payment(5, description="order", currency="GBP")
        with pytest.raises(InvalidPayment, match="three-letter"):
            halyk.create_payment(5, description="order", currency="pounds")
        with pytest.raises(InvalidPayment, match="'usd' takes USD, not KZT"):
            halyk.create_payment(5, description="order", merchant="usd", currency="KZT")
        with pytest.raises(ConfigurationError, match="no merchant is called 'gbp'"):
            halyk.create_payment(5, description="order", merchant="gbp")
        payment = halyk.create_payment(5, description="order", currency="KZT")
    assert payment.currency == "KZT" and payment.to_js()["terminal"] != USD_TERMINAL
    assert len(ledger.query()) == before + 1  # the refused ones recorded nothing


def test_a_currency_two_merchants_take_is_ambiguous(tmp_path: Path) -> None:
    twins = {"usd": MERCHANTS["usd"], "usd2": {
        "CLIENT_ID": "shop-usd2", "CLIENT_SECRET": "s2", "TERMINAL_ID": "t-usd-2",
        "CURRENCY": "USD"}}
    with backend_shop("sqlite", tmp_path, HALYK_ENV="sandbox", HALYK_MERCHANTS=twins) as app:
        halyk = app.extensions["halyk"].extension
        with app.test_request_context("/"):
            with pytest.raises(InvalidPayment, match=r"several merchants take USD \('usd', "
                                                     r"'usd2'\): name one"):
                halyk.create_payment(5, description="order", currency="USD")
            assert halyk.create_payment(5, description="order",
                                        merchant="usd2").to_js()["terminal"] == "t-usd-2"
        for client in app.extensions["halyk"].clients.values():
            client.close()


def test_a_card_saved_with_a_merchant_is_charged_and_synced_by_it(shop: Flask) -> None:
    state = shop.extensions["halyk"]
    halyk = state.extension
    with shop.test_request_context("/"):
        usd = halyk.create_payment(50, description="order", account_id="shopper-1",
                                   save_card=True, merchant="usd")
        kzt = halyk.create_payment(60, description="order", account_id="shopper-1",
                                   save_card=True)
    sandbox_of(shop).pay(usd.to_js(), GOOD_CARD)
    sandbox_of(shop).pay(kzt.to_js(), GOOD_CARD)
    with shop.app_context():
        # Each merchant lists its own card: the other's is not taken for gone.
        cards = {c.invoice_id: c for c in halyk.sync_cards("shopper-1")}
        assert set(cards) == {usd.invoice_id, kzt.invoice_id}
        paid = halyk.charge_card(cards[usd.invoice_id], 30, description="repeat",
                                 account_id="shopper-1")
    sandbox_of(shop).wait_for_postlinks(10)
    record = state.ledger.get(paid.invoice_id)
    assert (record.status, record.terminal, record.currency) == (S.PAID, USD_TERMINAL, "USD")
    assert sandbox_of(shop).transactions[-1].terminal == USD_TERMINAL


def test_flask_halyk_config_shows_each_merchant_with_secrets_masked(shop: Flask) -> None:
    result = shop.test_cli_runner().invoke(args=["halyk", "config"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert [(m["name"], m["currency"], m["two_stage"], m["client_secret"])
            for m in shown["merchants"]] == [("default", "KZT", False, "***"),
                                             ("usd", "USD", False, "***"),
                                             ("hold", "EUR", True, "***")]
    assert shown["merchants"][1]["terminal_id"] == USD_TERMINAL
    assert USD_SECRET not in result.output and "hold-merchant-secret" not in result.output


def test_flask_halyk_status_asks_with_the_payments_merchant(shop: Flask) -> None:
    invoice_id = pay(shop, merchant="usd")
    sandbox_of(shop).wait_for_postlinks(10)
    result = shop.test_cli_runner().invoke(args=["halyk", "status", invoice_id])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["resultCode"] == "100", answer
    assert answer["transaction"]["terminalID"].lower() == USD_TERMINAL


def test_the_standalone_sandbox_serves_every_merchant_of_the_shop(shop: Flask) -> None:
    merchants, shop_two_stage = _shop_merchants(shop)
    served = {m.terminal_id: m.two_stage for m in merchants}
    assert served[USD_TERMINAL] is False and served[HOLD_TERMINAL] is True
    assert served[shop.extensions["halyk"].config.terminal_id] is None  # the sandbox's mode
    assert shop_two_stage is False


def test_a_qr_payment_on_the_two_stage_merchant(shop: Flask) -> None:
    halyk, ledger = shop.extensions["halyk"].extension, shop.extensions["halyk"].ledger
    with shop.test_request_context("/checkout"):
        qr = halyk.create_qr_payment("70", description="Coffee", merchant="hold")
    assert qr.currency == "EUR"
    client = shop.test_client()
    assert client.get(qr.qrcode).status_code == 200
    client.post(qr.qrcode, data={"action": "pay"})
    sandbox_of(shop).sender.join()
    record = ledger.get(qr.invoice_id)
    assert (record.status, record.terminal) == (S.AUTHORIZED, HOLD_TERMINAL)
    with shop.test_request_context("/checkout"):
        polled = halyk.qr_status(qr.invoice_id)  # asked with the merchant's own token
    assert (polled.qr_status, polled.payment_status) == ("PAID", S.AUTHORIZED)


def test_one_client_id_with_two_terminals(tmp_path: Path) -> None:
    """One cabinet client may hold several terminals: the sandbox tells them apart by the
    terminal of the token request."""
    second = {"kzt2": {"CLIENT_ID": TEST_CLIENT_ID, "CLIENT_SECRET": TEST_CLIENT_SECRET,
                       "TERMINAL_ID": USD_TERMINAL, "CURRENCY": "USD"}}
    with backend_shop("sqlite", tmp_path, HALYK_ENV="sandbox", HALYK_MERCHANTS=second) as app:
        invoice = pay(app, 80, merchant="kzt2")
        record = app.extensions["halyk"].ledger.get(invoice)
        assert (record.status, record.terminal) == (S.PAID, USD_TERMINAL)
        assert sandbox_of(app).latest_token(invoice).merchant.terminal_id == USD_TERMINAL
        with app.app_context():
            refund(get_state(), invoice)
        assert app.extensions["halyk"].ledger.get(invoice).status is S.REFUNDED
        sandbox_of(app).wait_for_postlinks(10)
        for client in app.extensions["halyk"].clients.values():
            client.close()
