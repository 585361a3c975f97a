"""Findings of the pre-launch security review, each with the attack it stops.

Each test plays the attacker against real HTTP servers on loopback where the attack needs them
(the shop, ePay's stand-in, the attacker's own receiver).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, render_template_string, request
from ledger_support import LiveServer, postlink_for
from page_helpers import DISTINCT_SECRET, SHOP_TERMINAL, bank_params, js_value, scripts_of
from werkzeug.middleware.proxy_fix import ProxyFix

from flask_halyk import HalykEpay, signals
from flask_halyk.config import resolve
from flask_halyk.errors import ConfigurationError
from flask_halyk.ledger import PaymentStatus
from flask_halyk.sandbox import Merchant, SandboxServer, create_sandbox_app

TIMEOUT = 10
DECLINED_CARD = "4003032704547597"
PAGE = """{% from "halyk/macros.html" import halyk_script, halyk_widget %}<!doctype html>
{{ halyk_script() }}{{ halyk_widget(payment) }}"""


def _wait(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


# --- a failure postLink's secret_hash must not buy a success ------------------------------------


@pytest.fixture
def bank() -> Iterator[SandboxServer]:
    merchant = Merchant("review-shop", DISTINCT_SECRET, SHOP_TERMINAL)
    with SandboxServer(create_sandbox_app(merchants=[merchant])) as server:
        yield server
        server.sandbox.wait_for_postlinks(5)


class Catcher:
    """The attacker's server: keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        app = Flask("catcher")

        @app.post("/<path:anything>")
        def catch(anything: str) -> str:
            self.bodies.append(json.loads(request.get_data()))
            return "ok"

        self.server = LiveServer(app)
        self.url = self.server.url


def _real_host_shop(bank_url: str, tmp_path: Path, **config: Any) -> tuple[Flask, LiveServer]:
    """A shop configured for ePay's real test hosts (here: the sandbox on loopback), served on
    loopback; its public origin (HALYK_EXTERNAL_URL) is where it is served unless ``config``
    says otherwise."""
    app = Flask("review", instance_path=str(tmp_path / "instance"))
    server = LiveServer(app)  # answers nothing until the app is set up below
    config.setdefault("HALYK_EXTERNAL_URL", server.url)
    app.config.update(
        SECRET_KEY="review-secret-key", HALYK_ENV="test",
        HALYK_TOKEN_URL=f"{bank_url}/oauth2/token", HALYK_API_URL=bank_url,
        HALYK_SCRIPT_URL=f"{bank_url}/payform/payment-api.js",
        HALYK_PAYFORM_URL=f"{bank_url}/payform/",
        HALYK_CLIENT_ID="review-shop", HALYK_CLIENT_SECRET=DISTINCT_SECRET,
        HALYK_TERMINAL_ID=SHOP_TERMINAL,
        HALYK_DATABASE_URL=f"sqlite:///{tmp_path / 'ledger.sqlite3'}", **config)
    halyk = HalykEpay(app)

    @app.post("/buy")
    def buy() -> str:
        return render_template_string(PAGE, payment=halyk.create_payment(
            "1500", description="Tea"))

    return app, server


def test_a_failed_attempt_does_not_hand_the_customer_a_forgeable_success(
        bank: SandboxServer, tmp_path: Path) -> None:
    # The payment object is in the customer's browser, and the vendor doc says ePay posts to
    # "the URL that is specified in postLink field" of it. Whether the bank prefers the links
    # of the token request (the sandbox does) is not published: where it follows the browser's,
    # a customer who points both links at a server of their own and fails a payment on purpose
    # receives this failure postLink, secret_hash included: the same hash a success carries.
    shop_app, shop = _real_host_shop(bank.url, tmp_path)
    succeeded: list[Any] = []

    def heard(sender: Flask, **kwargs: Any) -> None:
        if sender is shop_app:
            succeeded.append(kwargs)

    signals.payment_succeeded.connect(heard)
    try:
        invoice, stolen = _pay_and_intercept(bank, shop, DECLINED_CARD)
        assert stolen["code"] == "error" and stolen["secret_hash"]

        forged = {**stolen, "code": "ok", "reason": "success", "reasonCode": 0,
                  "approvalCode": "123456"}
        answer = requests.post(f"{shop.url}/halyk/postlink", json=forged, timeout=TIMEOUT)

        assert answer.status_code == 403, answer.text
        record = shop_app.extensions["halyk"].ledger.get(invoice)
        assert record.status is not PaymentStatus.PAID
        assert succeeded == []
    finally:
        signals.payment_succeeded.disconnect(heard)
        shop.close()
        shop_app.extensions["halyk"].client.close()
        shop_app.extensions["halyk"].ledger.dispose()


def _pay(bank: SandboxServer, shop: LiveServer, pan: str) -> str:
    """Buy at the shop, pay its payment object on the bank's page with ``pan``; the invoice."""
    page = requests.post(f"{shop.url}/buy", timeout=TIMEOUT)
    obj = js_value(scripts_of(page.text).scripts[1][1], "paymentObject")
    form = requests.get(f"{bank.url}/payform/", params={
        "params": bank_params(obj), "isShortForm": "true"}, timeout=TIMEOUT)
    checkout = re.search(r'name="checkout" value="([^"]+)"', form.text)
    assert checkout, form.text[:300]
    requests.post(f"{bank.url}/payform/pay", data={
        "checkout": checkout.group(1), "pan": pan, "expiry": "12/39", "cvc": "123",
        "holder": "MALLORY"}, timeout=TIMEOUT)
    return str(obj["invoiceId"])


def _pay_and_intercept(bank: SandboxServer, shop: LiveServer, pan: str) -> tuple[str, Any]:
    """Pay, and take the postLink the bank meant for the shop before the shop sees it: what a
    customer holds where the bank posts to the links in the customer's browser."""
    bank.faults.drop_postlink = True  # recorded with its body, never delivered
    invoice = _pay(bank, shop, pan)
    assert _wait(lambda: len(bank.deliveries) == 1), bank.deliveries
    return invoice, bank.deliveries[0].body


def test_a_confirmed_success_records_the_banks_transaction_not_the_senders(
        bank: SandboxServer, tmp_path: Path) -> None:
    # A customer who paid for real, with the postLink pointed at themselves, forwards it with
    # another transaction id: the status API confirms the payment, but refunds and charges must
    # go to the bank's transaction, not to an id the sender chose.
    shop_app, shop = _real_host_shop(bank.url, tmp_path)
    try:
        invoice, genuine = _pay_and_intercept(bank, shop, "4405639704015096")
        assert genuine["code"] == "ok"
        forwarded = {**genuine, "id": "00000000-0000-0000-0000-000000000000",
                     "cardMask": "999999...9999"}
        answer = requests.post(f"{shop.url}/halyk/postlink", json=forwarded, timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text
        record = shop_app.extensions["halyk"].ledger.get(invoice)
        assert record.status is PaymentStatus.PAID
        [transaction] = bank.transactions
        assert record.transaction_id == transaction.id == genuine["id"]
        assert record.card_mask == transaction.card_mask
    finally:
        shop.close()
        shop_app.extensions["halyk"].client.close()
        shop_app.extensions["halyk"].ledger.dispose()


def test_a_confirmed_success_for_another_amount_is_refused(
        bank: SandboxServer, tmp_path: Path) -> None:
    # The status API is the last word: if the bank's paid transaction for this invoice is for
    # another sum than the order's, it is not this order's payment.
    shop_app, shop = _real_host_shop(bank.url, tmp_path)
    try:
        invoice, genuine = _pay_and_intercept(bank, shop, "4405639704015096")
        [transaction] = bank.transactions
        transaction.amount = transaction.amount / 100  # what the bank says was paid
        answer = requests.post(f"{shop.url}/halyk/postlink", json=genuine, timeout=TIMEOUT)
        assert answer.status_code == 403, answer.text
        assert "does not match the order: amount" in answer.json()["error"]
        record = shop_app.extensions["halyk"].ledger.get(invoice)
        assert record.status is PaymentStatus.NEW
    finally:
        shop.close()
        shop_app.extensions["halyk"].client.close()
        shop_app.extensions["halyk"].ledger.dispose()


# --- what errors may say ---------------------------------------------------------------------


def _client(httpserver: Any, secret: str = DISTINCT_SECRET) -> Any:
    from flask_halyk.epay import EpayClient

    return EpayClient(client_id="review-shop", client_secret=secret, terminal_id=SHOP_TERMINAL,
                      token_url=httpserver.url_for("/oauth2/token"),
                      api_url=httpserver.url_for("/"), retries=0)


def test_a_malformed_token_answer_does_not_put_the_token_in_the_error(httpserver: Any) -> None:
    from flask_halyk.errors import InvalidResponse

    token = "LIVE_ACCESS_TOKEN_4F7Q2Z"
    httpserver.expect_request("/oauth2/token", method="POST").respond_with_json(
        {"access_token": token, "refresh_token": "LIVE_REFRESH_9X", "expires_in": "soon",
         "token_type": "Bearer"})
    with _client(httpserver) as client, pytest.raises(InvalidResponse) as caught:
        client.payment_token("100000123", "1500", secret_hash="H" * 32)
    for text in (str(caught.value), repr(caught.value), str(caught.value.body)):
        assert token not in text and "LIVE_REFRESH_9X" not in text
    assert "expires_in" in str(caught.value)


@pytest.mark.parametrize("echo", ["form", "form-lower", "path"])
def test_an_echoed_client_secret_is_scrubbed_in_its_url_encoded_spellings(
        httpserver: Any, echo: str) -> None:
    # Some OAuth servers' error pages quote the request they refused; the body was form-encoded.
    from urllib.parse import quote, urlencode

    from flask_halyk.errors import HalykError

    secret = "p@ss+w/rd=Xy z%1"
    spelled = {"form": urlencode({"client_secret": secret}),
               "form-lower": urlencode({"client_secret": secret}).lower(),
               "path": "client_secret=" + quote(secret, safe="")}[echo]
    httpserver.expect_request("/oauth2/token", method="POST").respond_with_data(
        f"<html><body>Bad request: {spelled}</body></html>", status=400,
        content_type="text/html")
    with _client(httpserver, secret) as client, pytest.raises(HalykError) as caught:
        client.service_token()
    encoded = spelled.partition("=")[2]
    for text in (str(caught.value), str(getattr(caught.value, "body", ""))):
        assert secret not in text and encoded not in text, text
    assert "client_secret=***" in str(caught.value)


# --- CLI ---------------------------------------------------------------------------------------


def test_flask_halyk_config_shows_no_credentials(tmp_path: Path) -> None:
    from flask_halyk.cli import halyk_cli

    app = Flask("cli", instance_path=str(tmp_path / "instance"))
    app.config.update(
        SECRET_KEY="k", HALYK_ENV="test", HALYK_EXTERNAL_URL="https://shop.example.kz",
        HALYK_CLIENT_ID="review-shop",
        HALYK_CLIENT_SECRET=DISTINCT_SECRET, HALYK_TERMINAL_ID=SHOP_TERMINAL,
        HALYK_POSTLINK_SECRET="postlink-key-never-shown",
        HALYK_TOKEN_URL="https://epay.example/oauth2/token?key=query-key-never-shown",
        HALYK_DATABASE_URL="postgresql+psycopg://shop:db-pass-never-shown@127.0.0.1:1/shop")
    HalykEpay(app)
    result = app.test_cli_runner().invoke(halyk_cli, ["config"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    for secret in (DISTINCT_SECRET, "postlink-key-never-shown", "query-key-never-shown",
                   "db-pass-never-shown"):
        assert secret not in result.output
    assert shown["database_url"].startswith("postgresql+psycopg://shop:***@127.0.0.1")
    assert shown["token_url"] == "https://epay.example/oauth2/token"


@pytest.mark.parametrize("key", ["HALYK_TOKEN_URL", "HALYK_API_URL", "HALYK_SCRIPT_URL",
                                 "HALYK_PAYFORM_URL", "HALYK_EXTERNAL_URL"])
def test_a_url_with_credentials_is_refused_without_showing_them(key: str) -> None:
    # requests turns user:password@ into a Basic header that replaces the bearer token: every
    # API call would fail with 401, far from the setting that caused it.
    config = {"HALYK_ENV": "test", "HALYK_CLIENT_ID": "c", "HALYK_CLIENT_SECRET": DISTINCT_SECRET,
              "HALYK_TERMINAL_ID": SHOP_TERMINAL, "HALYK_EXTERNAL_URL": "https://shop.example.kz",
              key: "https://proxyuser:proxy-pass-never-shown@epay.example/path"}
    with pytest.raises(ConfigurationError) as info:
        resolve(config)
    assert key in str(info.value) and "credentials" in str(info.value)
    assert "proxy-pass-never-shown" not in str(info.value)


# --- the example shop --------------------------------------------------------------------------


@pytest.fixture
def example_shop(tmp_path: Path) -> Iterator[Flask]:
    from examples.shop import create_app

    app = create_app({"SECRET_KEY": "unit",
                      "HALYK_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
                      "SHOP_DATABASE": str(tmp_path / "shop.sqlite3")})
    yield app
    app.extensions["halyk"].client.close()
    app.extensions["halyk"].ledger.dispose()


@pytest.mark.parametrize("target", [
    "/\\evil.example/", "\\/evil.example/", "/\\/evil.example", "/\t/evil.example/",
    "/%09/evil.example", "/\n/evil.example", "https://evil.example/", "//evil.example",
    "/ /evil.example", "/\x00/evil.example",
])
def test_language_switch_has_no_open_redirect_through_browser_url_quirks(
        example_shop: Flask, target: str) -> None:
    # Browsers read "\" as "/" and drop tabs and newlines in URLs: "/\evil.example" is
    # "//evil.example", another site.
    from urllib.parse import quote, urljoin, urlsplit

    response = example_shop.test_client().get(f"/language/eng?next={quote(target)}")
    assert response.status_code == 302
    location = response.headers["Location"]
    browser_sees = "".join(c for c in location if c not in "\t\n\r").replace("\\", "/")
    assert urlsplit(urljoin("http://shop.test/", browser_sees)).hostname == "shop.test", location


def test_language_switch_still_returns_to_a_page_of_the_site(example_shop: Flask) -> None:
    response = example_shop.test_client().get("/language/eng?next=/products/tea/checkout?x=1")
    assert response.headers["Location"] == "/products/tea/checkout?x=1"


def _shop_on_real_hosts(tmp_path: Path, **config: Any) -> Flask:
    from examples.shop import create_app

    return create_app({"SECRET_KEY": "unit", "HALYK_ENV": "test",
                       "HALYK_EXTERNAL_URL": "https://shop.example.kz",
                       "HALYK_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
                       "SHOP_DATABASE": str(tmp_path / "shop.sqlite3"), **config})


def test_the_example_back_office_is_closed_with_real_hosts_and_no_staff_password(
        tmp_path: Path) -> None:
    app = _shop_on_real_hosts(tmp_path)
    try:
        client = app.test_client()
        assert client.get("/admin/").status_code == 403  # the dashboard's rule: no staff
        assert client.get("/").status_code == 200
    finally:
        app.extensions["halyk"].client.close()


def test_the_example_back_office_asks_for_the_staff_password(tmp_path: Path) -> None:
    import base64

    def basic(password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"staff:{password}".encode())
                .decode()}

    app = _shop_on_real_hosts(tmp_path, SHOP_ADMIN_PASSWORD="correct horse")
    try:
        client = app.test_client()
        refused = client.get("/admin/")
        assert refused.status_code == 401 and "Basic" in refused.headers["WWW-Authenticate"]
        assert client.get("/admin/", headers=basic("wrong")).status_code == 401
        assert client.get("/admin/", headers=basic("correct horse")).status_code == 200
    finally:
        app.extensions["halyk"].client.close()


def test_the_example_back_office_stays_open_on_the_sandbox_demo(example_shop: Flask) -> None:
    assert example_shop.test_client().get("/admin/").status_code == 200


# --- the postLink blueprint ------------------------------------------------------------------


@pytest.fixture
def sandbox_shop(tmp_path: Path) -> Iterator[Flask]:
    from page_helpers import make_shop

    app = make_shop(tmp_path)
    yield app
    app.extensions["halyk"].client.close()
    app.extensions["halyk"].ledger.dispose()


def test_stored_events_keep_no_credentials_from_the_request_headers(sandbox_shop: Flask) -> None:
    client = sandbox_shop.test_client()
    client.post("/halyk/postlink", data=b'{"not": "a postlink"}', headers={
        "Content-Type": "application/json", "Authorization": "Bearer STOLEN-BEARER-1",
        "Cookie": "session=STOLEN-COOKIE-2", "Proxy-Authorization": "Basic STOLEN-PROXY-3",
        "X-Api-Key": "STOLEN-KEY-4", "X-Forwarded-For": "203.0.113.9"})
    [event] = sandbox_shop.extensions["halyk"].ledger.events()
    stored = dict((name.lower(), value) for name, value in event.headers)
    assert "STOLEN" not in json.dumps(event.headers)
    assert stored["authorization"] == stored["proxy-authorization"] == "[redacted]"
    assert stored["x-forwarded-for"] == "203.0.113.9"  # what an investigation needs stays


def test_stored_event_headers_are_bounded(sandbox_shop: Flask) -> None:
    client = sandbox_shop.test_client()
    many = {f"X-Junk-{i}": "v" * 5000 for i in range(200)}
    client.post("/halyk/postlink", data=b"{}", headers={"Content-Type": "application/json",
                                                        **many})
    [event] = sandbox_shop.extensions["halyk"].ledger.events()
    assert len(json.dumps(event.headers)) < 40_000


def test_a_refusal_logged_with_control_characters_cannot_forge_log_lines(
        sandbox_shop: Flask, caplog: pytest.LogCaptureFixture) -> None:
    state = sandbox_shop.extensions["halyk"]
    state.config = replace(state.config, postlink_allowed_ips=(ip_network("10.0.0.1"),))
    sandbox_shop.wsgi_app = ProxyFix(sandbox_shop.wsgi_app, x_for=1)  # type: ignore[method-assign]
    with sandbox_shop.test_request_context():
        payment = state.ledger.create_payment(invoice_id=None, amount=1500, currency="KZT",
                                              terminal=state.config.terminal_id,
                                              description="tea")
    body = postlink_for(sandbox_shop, payment.invoice_id, 1500)
    forged_ip = "1.2.3.4\x1b[2K\x08\x08INFO all good\x9bfake"
    with caplog.at_level("WARNING", logger="flask_halyk.postlink"):
        answer = sandbox_shop.test_client().post(
            "/halyk/postlink", json=body, headers={"X-Forwarded-For": forged_ip})
    assert answer.status_code == 403
    [line] = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in line), repr(line)
    assert "all good" in line  # escaped, not dropped: the log still shows what was sent


def test_the_sandbox_does_not_follow_a_redirect_with_a_postlink(
        bank: SandboxServer, tmp_path: Path) -> None:
    # A 307 keeps method and body: following it would hand the secret_hash to another host.
    catcher = Catcher()
    redirector = Flask("redirector")

    @redirector.post("/halyk/<path:link>")
    def elsewhere(link: str) -> tuple[str, int, dict[str, str]]:
        return "", 307, {"Location": f"{catcher.url}/steal"}

    hop = LiveServer(redirector)
    # The shop's public URL (where the bank posts) answers with a redirect.
    shop_app, shop = _real_host_shop(bank.url, tmp_path, HALYK_EXTERNAL_URL=hop.url)
    try:
        _pay(bank, shop, DECLINED_CARD)
        assert _wait(lambda: len(bank.deliveries) == 1)
        bank.sandbox.wait_for_postlinks(5)
        assert bank.deliveries[0].status == 307
        assert catcher.bodies == []
    finally:
        for server in (shop, hop, catcher.server):
            server.close()
        shop_app.extensions["halyk"].client.close()
        shop_app.extensions["halyk"].ledger.dispose()
