"""The whole flow over real HTTP: a shop served on loopback, the sandbox served on another port.

The shop's page is fetched over HTTP and read the way a browser's script would read it (the
script tag, the payment object); the payment page is opened with the object handed over as the
bank's payment-api.js does it; the sandbox then POSTs the postLink over HTTP to the URL that
create_payment put in the object, and the shop verifies it, records it and tells its receivers.
Nothing is in-process here but the assertions, except in the last test: the README's quickstart
as written, on the embedded sandbox it promises.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, render_template_string, request
from ledger_support import BACKENDS, LiveServer, database_url, postlink_for
from page_helpers import DISTINCT_SECRET, SHOP_TERMINAL, bank_params, js_value, scripts_of

from flask_halyk import HalykEpay, signals
from flask_halyk.ledger import EventVerdict, PaymentStatus
from flask_halyk.postlink.verification import make_secret_hash
from flask_halyk.sandbox import Merchant, SandboxServer, create_sandbox_app

GOOD_CARD = "4405639704015096"
DECLINED_CARD = "4003032704547597"
TIMEOUT = 10

PAGE = """{% from "halyk/macros.html" import halyk_script, halyk_widget %}<!doctype html>
<title>Pay {{ payment.invoice_id }}</title>
<button id="pay">Pay</button>
{{ halyk_script(nonce="n0nce", defer=True) }}
{{ halyk_widget(payment, button="#pay", auto=False, nonce="n0nce") }}"""


@dataclass
class Shop:
    """One shop app served on loopback, with what its receivers and signals heard."""

    app: Flask
    server: LiveServer
    succeeded: list[Any] = field(default_factory=list)
    failed: list[Any] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def state(self) -> Any:
        return self.app.extensions["halyk"]

    def status(self, invoice_id: str) -> PaymentStatus | None:
        record = self.state.ledger.get(invoice_id)
        return None if record is None else record.status


def make_shop(halyk: HalykEpay, name: str, bank_url: str, db_url: str, tmp_path: Path,
              **config: Any) -> tuple[Flask, LiveServer]:
    """The shop, served on loopback: its HALYK_EXTERNAL_URL is where it listens (the sandbox
    posts there; a request's Host never says where)."""
    app = Flask(name, instance_path=str(tmp_path / name))
    server = LiveServer(app)  # answers nothing until the app is set up below
    app.config.update(
        SECRET_KEY=f"{name}-secret-key", HALYK_ENV="sandbox", HALYK_SANDBOX_URL=bank_url,
        HALYK_CLIENT_ID="flow-shop", HALYK_CLIENT_SECRET=DISTINCT_SECRET,
        HALYK_TERMINAL_ID=SHOP_TERMINAL, HALYK_DATABASE_URL=db_url,
        HALYK_EXTERNAL_URL=server.url, **config)
    halyk.init_app(app)

    @app.post("/buy")
    def buy() -> str:
        payment = halyk.create_payment(
            request.form["amount"], request.form.get("invoice_id") or None,
            description=request.form["description"],
            back_link="/orders/{invoice_id}/done", failure_back_link="/orders/{invoice_id}/failed")
        return render_template_string(PAGE, payment=payment)

    return app, server


@pytest.fixture
def bank() -> Iterator[SandboxServer]:
    merchant = Merchant("flow-shop", DISTINCT_SECRET, SHOP_TERMINAL)
    with SandboxServer(create_sandbox_app(merchants=[merchant])) as server:
        yield server
        server.sandbox.wait_for_postlinks(5)


@pytest.fixture
def open_shop(bank: SandboxServer, tmp_path: Path) -> Iterator[Callable[..., Shop]]:
    """``open_shop(name, backend="sqlite", halyk=None, **config)``: a shop served on loopback.
    Several may share one HalykEpay (an app factory's extension object).

    Served by LiveServer in this process, not pytest-flask's live_server: a test may open
    several shops, and the tests count the signals each shop sends (in its serving process)."""
    shops: list[Shop] = []
    contexts: list[Any] = []
    receivers: list[tuple[Any, Any]] = []

    def open_(name: str = "flow", backend: str = "sqlite", halyk: HalykEpay | None = None,
              **config: Any) -> Shop:
        halyk = halyk or HalykEpay()
        context = database_url(backend, tmp_path / name)
        contexts.append(context)
        app, server = make_shop(halyk, name, bank.url, context.__enter__(), tmp_path, **config)
        shop = Shop(app, server)

        def heard(kind: list[Any]) -> Callable[..., None]:
            def receive(sender: Flask, **kwargs: Any) -> None:
                if sender is app:
                    kind.append(kwargs)
            return receive

        for signal, kind in ((signals.payment_succeeded, shop.succeeded),
                             (signals.payment_failed, shop.failed),
                             (signals.postlink_rejected, shop.rejected)):
            receive = heard(kind)
            signal.connect(receive, weak=False)
            receivers.append((signal, receive))
        shops.append(shop)
        return shop

    yield open_
    bank.sandbox.wait_for_postlinks(5)
    for signal, receive in receivers:
        signal.disconnect(receive)
    for shop in shops:
        shop.server.close()
        shop.state.client.close()
        shop.state.ledger.dispose()
    for context in reversed(contexts):
        context.__exit__(None, None, None)


def checkout(shop: Shop, amount: str = "1500", description: str = "Tea, 250 g",
             invoice_id: str = "") -> tuple[str, dict[str, Any]]:
    """Buy over HTTP: the page's HTML and the payment object its widget script carries."""
    page = requests.post(f"{shop.url}/buy", data={
        "amount": amount, "description": description, "invoice_id": invoice_id}, timeout=TIMEOUT)
    assert page.status_code == 200, page.text[:500]
    scripts = scripts_of(page.text).scripts
    assert len(scripts) == 2
    return page.text, js_value(scripts[1][1], "paymentObject")


def pay_on_the_payment_page(bank: SandboxServer, obj: dict[str, Any], pan: str) -> str:
    """What the customer does in the widget's iframe; returns the result page's HTML."""
    form = requests.get(f"{bank.url}/payform/", params={
        "params": bank_params(obj), "isShortForm": "true"}, timeout=TIMEOUT)
    assert form.status_code == 200, form.text[:500]
    match = re.search(r'name="checkout" value="([^"]+)"', form.text)
    assert match, form.text[:500]
    result = requests.post(f"{bank.url}/payform/pay", data={
        "checkout": match.group(1), "pan": pan, "expiry": "12/39", "cvc": "123",
        "holder": "ARMAN ALI"}, timeout=TIMEOUT)
    assert result.status_code == 200, result.text[:500]
    return result.text


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.parametrize("backend", BACKENDS)
def test_paid_over_http_is_verified_recorded_and_announced_once(
        bank: SandboxServer, open_shop: Callable[..., Shop], backend: str) -> None:
    halyk = HalykEpay()
    fulfilled: list[tuple[str, Any]] = []
    halyk.on_success(lambda payment, postlink: fulfilled.append((payment.invoice_id, postlink)))
    shop = open_shop(backend=backend, halyk=halyk)

    html, obj = checkout(shop, amount="1500.50")
    invoice = obj["invoiceId"]
    assert DISTINCT_SECRET not in html
    # The script tag names the bank's payment-api.js, which the bank serves.
    (script_attrs, _), _widget = scripts_of(html).scripts
    assert script_attrs["src"] == f"{bank.url}/payform/payment-api.js"
    assert requests.get(str(script_attrs["src"]), timeout=TIMEOUT).status_code == 200
    # The links point at this shop's blueprint, as the bank will reach it.
    assert obj["postLink"] == f"{shop.url}/halyk/postlink"
    assert obj["failurePostLink"] == f"{shop.url}/halyk/failure-postlink"
    assert obj["terminal"] == SHOP_TERMINAL and obj["currency"] == "KZT"
    # The token was asked for over HTTP, for this invoice alone, with our secret_hash.
    token = bank.sandbox.store.token(obj["auth"]["access_token"])
    assert token is not None and token.invoice_id == invoice
    assert token.secret_hash == make_secret_hash(
        shop.state.config.postlink_secret, invoice, Decimal("1500.50"), "KZT", SHOP_TERMINAL)
    assert shop.status(invoice) is PaymentStatus.NEW

    result = pay_on_the_payment_page(bank, obj, GOOD_CARD)
    assert f'href="{shop.url}/orders/{invoice}/done"' in result

    assert wait_until(lambda: shop.status(invoice) is PaymentStatus.PAID), bank.deliveries
    bank.sandbox.wait_for_postlinks(5)
    [delivery] = bank.deliveries
    assert delivery.url == f"{shop.url}/halyk/postlink"
    assert delivery.status == 200 and not delivery.in_process
    assert [invoice_id for invoice_id, _ in fulfilled] == [invoice]
    [signal] = shop.succeeded
    assert signal["payment"].invoice_id == invoice
    assert signal["payment"].amount == Decimal("1500.50")
    assert signal["postlink"]["id"] == delivery.body["id"]
    assert shop.failed == [] and shop.rejected == []
    [event] = shop.state.ledger.events(invoice_id=invoice)
    assert event.verdict is EventVerdict.APPLIED and event.remote_addr == "127.0.0.1"


def test_declined_over_http_reaches_the_failure_postlink(
        bank: SandboxServer, open_shop: Callable[..., Shop]) -> None:
    shop = open_shop()
    _, obj = checkout(shop, amount="700")
    invoice = obj["invoiceId"]
    result = pay_on_the_payment_page(bank, obj, DECLINED_CARD)
    assert f'href="{shop.url}/orders/{invoice}/failed"' in result
    assert wait_until(lambda: shop.status(invoice) is PaymentStatus.FAILED), bank.deliveries
    bank.sandbox.wait_for_postlinks(5)
    [delivery] = bank.deliveries
    assert delivery.url == f"{shop.url}/halyk/failure-postlink" and delivery.status == 200
    [signal] = shop.failed
    assert signal["payment"].invoice_id == invoice
    assert signal["postlink"]["reasonCode"] != 0
    assert shop.succeeded == [] and shop.rejected == []


def test_a_doubled_postlink_is_acknowledged_twice_and_announced_once(
        bank: SandboxServer, open_shop: Callable[..., Shop]) -> None:
    shop = open_shop()
    bank.faults.update({"duplicate_postlink": True})
    _, obj = checkout(shop)
    pay_on_the_payment_page(bank, obj, GOOD_CARD)
    assert wait_until(lambda: len(bank.deliveries) == 2), bank.deliveries
    assert [d.status for d in bank.deliveries] == [200, 200]
    assert len(shop.succeeded) == 1
    verdicts = [e.verdict for e in shop.state.ledger.events(invoice_id=obj["invoiceId"])]
    assert verdicts == [EventVerdict.APPLIED, EventVerdict.DUPLICATE]


def test_forged_postlinks_over_http_are_refused_without_a_signal(
        bank: SandboxServer, open_shop: Callable[..., Shop]) -> None:
    shop = open_shop()
    _, obj = checkout(shop, amount="1000")
    invoice = obj["invoiceId"]
    genuine = postlink_for(shop.app, invoice, 1000)
    forgeries = [
        {**genuine, "secret_hash": "A" * 32},
        postlink_for(shop.app, invoice, 1),          # a real hash, for another amount
        {**genuine, "amount": 10},                   # the amount lowered, the hash kept
        {k: v for k, v in genuine.items() if k != "secret_hash"},
    ]
    for body in forgeries:
        answer = requests.post(f"{shop.url}/halyk/postlink", json=body, timeout=TIMEOUT)
        assert answer.status_code == 403, (body, answer.text)
        assert answer.json()["error"]
    assert shop.status(invoice) is PaymentStatus.NEW
    assert shop.succeeded == [] and shop.failed == []
    assert [r["status"] for r in shop.rejected] == [403] * len(forgeries)
    # Not JSON at all, with a lying Content-Type: a 400 with a reason, never a 5xx.
    junk = requests.post(f"{shop.url}/halyk/postlink", data=b"\xff{", timeout=TIMEOUT,
                         headers={"Content-Type": "application/json"})
    assert junk.status_code == 400 and junk.json()["error"]
    # The genuine one still goes through afterwards.
    ok = requests.post(f"{shop.url}/halyk/postlink", json=genuine, timeout=TIMEOUT)
    assert ok.status_code == 200 and len(shop.succeeded) == 1


def test_status_recheck_over_http(bank: SandboxServer, open_shop: Callable[..., Shop],
                                  no_backoff_sleeps: None) -> None:
    shop = open_shop(HALYK_VERIFY_WITH_STATUS=True)
    _, obj = checkout(shop)
    invoice = obj["invoiceId"]
    bank.faults.update({"status_error": 503})
    pay_on_the_payment_page(bank, obj, GOOD_CARD)
    assert wait_until(lambda: len(bank.deliveries) == 1 and bank.deliveries[0].status
                      is not None), bank.deliveries
    [delivery] = bank.deliveries
    # The bank's status API is down: the success is not believed yet, and the bank is told to
    # try again; the event is kept.
    assert delivery.status == 503
    assert shop.status(invoice) is PaymentStatus.NEW and shop.succeeded == []
    [event] = shop.state.ledger.events(invoice_id=invoice)
    assert event.verdict is EventVerdict.DEFERRED
    bank.faults.reset()
    again = requests.post(f"{shop.url}/halyk/postlink", json=delivery.body, timeout=TIMEOUT)
    assert again.status_code == 200
    assert shop.status(invoice) is PaymentStatus.PAID and len(shop.succeeded) == 1


def test_status_recheck_refuses_a_success_the_bank_never_saw(
        bank: SandboxServer, open_shop: Callable[..., Shop]) -> None:
    shop = open_shop(HALYK_VERIFY_WITH_STATUS=True)
    _, obj = checkout(shop)
    invoice = obj["invoiceId"]
    # A genuine-looking success (the secret leaked, say) for an invoice nobody paid.
    body = postlink_for(shop.app, invoice, obj["amount"])
    answer = requests.post(f"{shop.url}/halyk/postlink", json=body, timeout=TIMEOUT)
    # The bank knows no transaction for it (resultCode 102): refused, not deferred.
    assert answer.status_code == 403, answer.text
    assert "status does not confirm" in answer.json()["error"]
    assert shop.status(invoice) is PaymentStatus.NEW and shop.succeeded == []
    [event] = shop.state.ledger.events(invoice_id=invoice)
    assert event.verdict is EventVerdict.REJECTED


def test_two_shops_in_one_process_keep_their_own_secrets(
        bank: SandboxServer, open_shop: Callable[..., Shop]) -> None:
    halyk = HalykEpay()  # one extension object, two apps (an app factory's pattern)
    heard: list[tuple[str, str]] = []
    halyk.on_success(lambda payment, postlink: heard.append(
        (postlink["terminal"] if postlink else "", payment.invoice_id)))
    one = open_shop("one", halyk=halyk)
    two = open_shop("two", halyk=halyk)
    assert one.state.config.postlink_secret != two.state.config.postlink_secret
    # The same invoice id, amount, currency and terminal in both ledgers: only the secret
    # tells the two payments' hashes apart.
    _, obj = checkout(one, amount="100", invoice_id="000424242")
    _, twin = checkout(two, amount="100", invoice_id="000424242")
    assert obj["auth"]["access_token"] != twin["auth"]["access_token"]
    pay_on_the_payment_page(bank, obj, GOOD_CARD)
    assert wait_until(lambda: one.status("000424242") is PaymentStatus.PAID), bank.deliveries
    bank.sandbox.wait_for_postlinks(5)
    [delivery] = bank.deliveries
    # Shop one's genuine postLink, replayed to shop two: refused there.
    replayed = requests.post(f"{two.url}/halyk/postlink", json=delivery.body, timeout=TIMEOUT)
    assert replayed.status_code == 403 and "secret_hash" in replayed.json()["error"]
    assert two.status("000424242") is PaymentStatus.NEW
    assert two.succeeded == [] and len(two.rejected) == 1
    assert len(one.succeeded) == 1 and heard == [(SHOP_TERMINAL, "000424242")]

