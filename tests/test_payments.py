from __future__ import annotations

import json
import re
import time
from decimal import Decimal

import pytest
from flask import Flask
from ledger_support import BACKENDS, backend_shop
from page_helpers import DISTINCT_SECRET, SHOP_TERMINAL, bank_params, close, make_shop
from sqlalchemy import event

from flask_halyk.checkout import Payment, create_payment, js_path
from flask_halyk.config import SHOP_INTERNAL_ORIGIN
from flask_halyk.errors import (
    ConfigurationError,
    HalykError,
    InvalidPayment,
    InvoiceIdInUse,
    TransportError,
)
from flask_halyk.postlink.verification import make_secret_hash, verify_postlink
from flask_halyk.sandbox import oauth as sandbox_oauth
from flask_halyk.schemas import PaymentObjectSchema


# `shop`, not `app`: pytest-flask would push a request context for `app`, and these tests choose
# theirs (a request at a given base URL, an app context alone, none at all).
@pytest.fixture
def shop(tmp_path):
    app = make_shop(tmp_path)
    yield app
    close(app)


def state_of(app: Flask):
    return app.extensions["halyk"]


def sandbox_of(app: Flask):
    return state_of(app).sandbox.extensions["halyk_sandbox"]


def sandbox_token(app: Flask, payment: Payment):
    token = sandbox_of(app).store.token(payment.token.access_token)
    assert token is not None, "the sandbox never issued this token"
    return token


def pay(app: Flask, **kwargs) -> Payment:
    kwargs.setdefault("description", "Order 42")
    return state_of(app).extension.create_payment(kwargs.pop("amount", 1500), **kwargs)


def test_token_request_reaches_the_sandbox_with_the_right_secret_hash(shop):
    with shop.test_request_context("/checkout", base_url="http://shop.test/"):
        payment = pay(shop, amount="1500.50")
    config = state_of(shop).config
    issued = sandbox_token(shop, payment)
    assert issued.invoice_id == payment.invoice_id
    assert issued.amount == Decimal("1500.50")
    assert issued.currency == "KZT"
    assert issued.merchant.terminal_id == SHOP_TERMINAL
    assert issued.secret_hash == make_secret_hash(
        config.postlink_secret, payment.invoice_id, Decimal("1500.5"), "KZT", SHOP_TERMINAL)
    # The embedded sandbox's postLinks go to the shop in-process, whatever the request's Host.
    assert issued.post_link == f"{SHOP_INTERNAL_ORIGIN}/halyk/postlink"
    assert issued.failure_post_link == f"{SHOP_INTERNAL_ORIGIN}/halyk/failure-postlink"


def test_payment_is_recorded_and_its_object_passes_the_schema(shop):
    with shop.test_request_context("/", base_url="http://shop.test/"):
        payment = pay(shop, amount=Decimal("99.90"), name="Arman Ali", email="a@b.kz",
                      phone="+77771234567", account_id="user-7", language="ENG",
                      data='{"order": 42}', invoice_id_alt="700001")
    record = state_of(shop).ledger.get(payment.invoice_id)
    assert record is not None and record.status == "new"
    assert record.amount == Decimal("99.90") and record.currency == "KZT"
    assert record.terminal == SHOP_TERMINAL and record.description == "Order 42"
    assert record.email == "a@b.kz" and record.account_id == "user-7"
    obj = payment.to_js()
    loaded = PaymentObjectSchema().load(obj)
    assert loaded["amount"] == Decimal("99.90") and obj["amount"] == 99.9
    assert obj["language"] == "eng"
    assert obj["invoiceIdAlt"] == "700001"
    assert obj["auth"] == payment.token.raw
    assert obj["terminal"] == SHOP_TERMINAL
    assert obj["data"] == '{"order": 42}'
    assert re.fullmatch(r"[0-9]{6,15}", payment.invoice_id)
    assert payment.amount == Decimal("99.90") and payment.currency == "KZT"
    # to_js hands out copies: a page cannot change the payment.
    obj["amount"] = 1
    assert payment.to_js()["amount"] == 99.9


def test_each_payment_gets_its_own_token_and_invoice(shop):
    with shop.test_request_context("/"):
        one, two = pay(shop), pay(shop)
    assert one.invoice_id != two.invoice_id
    assert one.token.access_token != two.token.access_token
    assert one.token.secret_hash != two.token.secret_hash


def test_given_invoice_id_is_used_and_never_twice(shop):
    with shop.test_request_context("/"):
        payment = pay(shop, invoice_id="000123456")
        assert payment.invoice_id == "000123456"
        before = len(sandbox_of(shop).store.tokens)
        with pytest.raises(InvoiceIdInUse):
            pay(shop, invoice_id="000123456")
    assert len(sandbox_of(shop).store.tokens) == before


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"amount": 0}, "amount"),
    ({"amount": "-5"}, "amount"),
    ({"amount": "10.123"}, "amount"),
    ({"amount": "lots"}, "amount"),
    ({"invoice_id": "12345"}, "invoice_id"),
    ({"invoice_id": "1234567890123456"}, "invoice_id"),
    ({"invoice_id": "12345a"}, "invoice_id"),
    ({"invoice_id_alt": "1"}, "invoice_id_alt"),
    ({"description": "Я" * 63}, "description"),
    ({"description": " "}, "description"),
    ({"email": "nope"}, "email"),
    ({"back_link": "done.html"}, "back_link"),
    ({"failure_back_link": "javascript:alert(1)"}, "failure_back_link"),
    ({"data": "{not json"}, "data"),
    ({"language": "de"}, "language"),
])
def test_invalid_input_records_and_sends_nothing(shop, kwargs, field):
    with shop.test_request_context("/"), pytest.raises(InvalidPayment) as info:
        pay(shop, **kwargs)
    assert field in info.value.messages
    assert isinstance(info.value, HalykError) and isinstance(info.value, ValueError)
    assert state_of(shop).ledger.query() == []
    assert sandbox_of(shop).store.tokens == {}


def test_back_links(shop):
    with shop.test_request_context("/", base_url="http://shop.test/"):
        default = pay(shop).to_js()
        relative = pay(shop, back_link="/orders/5/done").to_js()
        both = pay(shop, back_link="https://shop.test/ok", failure_back_link="/oops").to_js()
    assert default["backLink"] == default["failureBackLink"] == "http://shop.test/"
    assert relative["backLink"] == relative["failureBackLink"] == "http://shop.test/orders/5/done"
    assert both["backLink"] == "https://shop.test/ok"
    assert both["failureBackLink"] == "http://shop.test/oops"


def test_back_links_may_be_app_deep_links_and_the_sandbox_page_takes_them(shop):
    with shop.test_request_context("/", base_url="http://shop.test/"):
        payment = pay(shop, back_link="myapp://orders/{invoice_id}/paid",
                      failure_back_link="myapp://orders/{invoice_id}/failed")
    obj = payment.to_js()
    assert obj["backLink"] == f"myapp://orders/{payment.invoice_id}/paid"
    result = sandbox_of(shop).pay(obj)
    assert result.approved
    with shop.test_request_context("/"), pytest.raises(InvalidPayment):
        pay(shop, back_link="javascript:alert(1)")


def test_back_links_may_name_the_invoice_id_before_it_exists(shop):
    from flask import url_for

    @shop.get("/orders/by-invoice/<invoice>/done")
    def done(invoice):
        return invoice

    with shop.test_request_context("/", base_url="http://shop.test/"):
        payment = pay(shop, back_link="/orders/{invoice_id}/done?again={invoice_id}",
                      failure_back_link="https://shop.test/failed/{invoice_id}")
        # url_for percent-encodes the braces: the placeholder is recognised all the same.
        routed = pay(shop, back_link=url_for("done", invoice="{invoice_id}"))
        given = pay(shop, invoice_id="000777123", back_link="/paid/{invoice_id}")
        plain = pay(shop, back_link="/orders/7/done")
    obj, invoice = payment.to_js(), payment.invoice_id
    assert obj["backLink"] == f"http://shop.test/orders/{invoice}/done?again={invoice}"
    assert obj["failureBackLink"] == f"https://shop.test/failed/{invoice}"
    assert routed.to_js()["backLink"] == (
        f"http://shop.test/orders/by-invoice/{routed.invoice_id}/done")
    assert routed.to_js()["failureBackLink"] == routed.to_js()["backLink"]
    assert given.to_js()["backLink"] == "http://shop.test/paid/000777123"
    assert plain.to_js()["backLink"] == "http://shop.test/orders/7/done"
    # What the sandbox was asked for, and what the page gets, name this payment's invoice.
    assert sandbox_token(shop, payment).invoice_id == invoice


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"back_link": "/orders/{invoiceId}/done"}, "back_link"),
    ({"back_link": "/orders/{invoice_id"}, "back_link"),
    ({"failure_back_link": "/failed/{order}"}, "failure_back_link"),
    ({"failure_back_link": "/failed/}{invoice_id}"}, "failure_back_link"),
])
def test_other_braces_in_back_links_are_refused_before_anything_is_recorded(shop, kwargs, field):
    with shop.test_request_context("/"), pytest.raises(InvalidPayment) as info:
        pay(shop, **kwargs)
    assert "{invoice_id}" in str(info.value.messages[field])
    assert state_of(shop).ledger.query() == []
    assert sandbox_of(shop).store.tokens == {}


def test_brace_problems_are_reported_with_the_other_problems(shop):
    with shop.test_request_context("/"), pytest.raises(InvalidPayment) as info:
        pay(shop, amount="0", back_link="/orders/{id}")
    assert {"amount", "back_link"} <= set(info.value.messages)


def test_percent_encoded_braces_that_are_not_the_placeholder_stay(shop):
    with shop.test_request_context("/", base_url="http://shop.test/"):
        obj = pay(shop, back_link="/search?q=%7Bx%7D&id={invoice_id}").to_js()
    assert obj["backLink"].startswith("http://shop.test/search?q=%7Bx%7D&id=")
    assert obj["backLink"].endswith(obj["invoiceId"])


def test_external_url_overrides_scheme_and_host(tmp_path, no_request_context):
    app = make_shop(tmp_path, HALYK_EXTERNAL_URL="https://shop.example.kz/")
    try:
        with app.test_request_context("/pay", base_url="http://10.0.0.5:8000/app"):
            obj = pay(app, back_link="/app/done").to_js()
        assert obj["postLink"] == "https://shop.example.kz/app/halyk/postlink"
        assert obj["failurePostLink"] == "https://shop.example.kz/app/halyk/failure-postlink"
        assert obj["backLink"] == "https://shop.example.kz/app/done"
        # Outside a request (a worker, a CLI command): the external URL is enough.
        with app.app_context():
            obj = pay(app).to_js()
        assert obj["postLink"] == "https://shop.example.kz/halyk/postlink"
    finally:
        close(app)


def test_outside_a_request_needs_a_public_url(shop, no_request_context):
    with shop.app_context(), pytest.raises(ConfigurationError) as info:
        pay(shop)
    assert info.value.key == "HALYK_EXTERNAL_URL"
    assert state_of(shop).ledger.query() == []
    shop.config["SERVER_NAME"] = "shop.kz"
    shop.config["PREFERRED_URL_SCHEME"] = "https"
    with shop.app_context():
        assert pay(shop).to_js()["postLink"] == "https://shop.kz/halyk/postlink"


def test_url_prefix_is_followed(tmp_path):
    app = make_shop(tmp_path, HALYK_URL_PREFIX="/payments/epay")
    try:
        with app.test_request_context("/", base_url="http://shop.test/"):
            obj = pay(app).to_js()
        assert obj["postLink"] == f"{SHOP_INTERNAL_ORIGIN}/payments/epay/postlink"
    finally:
        close(app)


def test_epay_failure_after_recording_leaves_a_new_record(tmp_path):
    # No retries: the failure, not the client's backoff between retries, is the subject.
    shop = make_shop(tmp_path, HALYK_RETRIES=0)
    try:
        sandbox_of(shop).faults.update({"token_error": 503})
        with shop.test_request_context("/"), pytest.raises(TransportError):
            pay(shop)
        records = state_of(shop).ledger.query()
        assert len(records) == 1 and records[0].status == "new"
        # Marked as having no known token: reconcile reckons its expiry from its creation.
        assert records[0].token_expires_at is None
    finally:
        close(shop)


def test_repr_hides_the_token_and_secrets(shop):
    with shop.test_request_context("/"):
        payment = pay(shop)
    text = repr(payment)
    assert payment.invoice_id in text
    assert payment.token.access_token not in text
    assert DISTINCT_SECRET not in text
    assert payment.token.secret_hash not in text


def test_create_payment_function_takes_the_state(shop):
    with shop.test_request_context("/"):
        payment = create_payment(state_of(shop), 10, description="Direct")
    assert payment.description == "Direct" and payment.amount == Decimal("10")


def test_from_js_rebuilds_the_payment_from_its_stored_object(shop):
    with shop.test_request_context("/", base_url="http://shop.test/"):
        payment = pay(shop, amount="99.90", name="Arman Ali", email="a@b.kz",
                      data={"order": 42}, language="kaz")
    stored = json.loads(json.dumps(payment.to_js()))  # as a shop keeps it: JSON in its database
    again = Payment.from_js(stored)
    assert again.to_js() == payment.to_js()
    assert again.invoice_id == payment.invoice_id
    assert again.amount == Decimal("99.90") and isinstance(again.amount, Decimal)
    assert (again.currency, again.description) == ("KZT", "Order 42")
    # Nothing is made up: the token response is only in the object, as the page needs it.
    assert again.token is None and again.record is None
    assert again.to_js()["auth"] == payment.token.raw
    assert payment.token.access_token not in repr(again)
    # A copy: changing the stored dict afterwards changes nothing.
    stored["amount"] = 1
    assert again.to_js()["amount"] == 99.9


@pytest.mark.parametrize(("change", "field"), [
    ({"amount": "10.123"}, "amount"),
    ({"amount": None}, "amount"),
    ({"invoiceId": "12ab56"}, "invoiceId"),
    ({"backLink": "javascript:alert(1)"}, "backLink"),
    ({"auth": {"expires_in": 7200}}, "auth"),
    ({"auth": "a bare token string"}, "auth"),
    ({"unexpected": 1}, "unexpected"),
])
def test_from_js_refuses_what_the_schema_refuses(shop, change, field):
    with shop.test_request_context("/"):
        obj = pay(shop).to_js()
    access_token = obj["auth"]["access_token"]
    with pytest.raises(InvalidPayment) as info:
        Payment.from_js({**obj, **change})
    assert field in info.value.messages  # the object's own names
    assert access_token not in str(info.value)


@pytest.mark.parametrize("junk", [None, "[]", [], 42])
def test_from_js_refuses_what_is_not_an_object(junk):
    with pytest.raises(InvalidPayment):
        Payment.from_js(junk)


def test_js_path():
    assert js_path(None) is None
    assert js_path("onPaid") == "onPaid"
    assert js_path("$shop._x.on_paid2") == "$shop._x.on_paid2"
    for bad in ["", "a.", ".a", "a-b", "a(b)", "a;b", "1a", "a" * 201]:
        with pytest.raises(HalykError):
            js_path(bad)


# --- the whole round trip: the bank's postLink carries a hash verify_postlink accepts -----------

def _pay_in_sandbox(app: Flask, payment: Payment, pan: str) -> None:
    client = app.test_client()
    page = client.get("/halyk-sandbox/payform/", query_string={
        "params": bank_params(payment.to_js()), "isShortForm": "true"})
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    checkout = re.search(r'name="checkout" value="([^"]+)"', page.get_data(as_text=True))
    assert checkout, page.get_data(as_text=True)[:500]
    answer = client.post("/halyk-sandbox/payform/pay", data={
        "checkout": checkout.group(1), "pan": pan, "expiry": "12/39", "cvc": "123",
        "holder": "ARMAN ALI"})
    assert answer.status_code < 500


def _wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_paid_in_the_sandbox_the_postlink_is_genuine(shop):
    succeeded = []
    state_of(shop).extension.on_success(lambda payment, postlink: succeeded.append(
        (payment, postlink)))
    with shop.test_request_context("/"):
        payment = pay(shop, amount="250.00")
    _pay_in_sandbox(shop, payment, "4405639704015096")
    assert _wait_for(lambda: succeeded), sandbox_of(shop).deliveries
    record, postlink = succeeded[0]
    assert record.invoice_id == payment.invoice_id
    assert verify_postlink(state_of(shop).config, postlink, record) is None
    assert postlink["secret_hash"] == payment.token.secret_hash


def test_declined_in_the_sandbox_the_failure_postlink_is_genuine(shop):
    failed = []
    state_of(shop).extension.on_failure(lambda payment, postlink: failed.append(
        (payment, postlink)))
    with shop.test_request_context("/"):
        payment = pay(shop, amount=700)
    _pay_in_sandbox(shop, payment, "4003032704547597")
    assert _wait_for(lambda: failed), sandbox_of(shop).deliveries
    record, postlink = failed[0]
    assert record.invoice_id == payment.invoice_id and record.status == "failed"
    assert verify_postlink(state_of(shop).config, postlink, record) is None


def test_terminal_currency_language_and_secret_come_from_config(tmp_path):
    app = make_shop(tmp_path, HALYK_LANGUAGE="kaz", HALYK_CURRENCY="usd",
                    HALYK_POSTLINK_SECRET="explicit postlink secret")
    try:
        with app.test_request_context("/", base_url="http://shop.test/"):
            payment = pay(app, amount="12.50")
            spoken = pay(app, language="ENG")
        obj = payment.to_js()
        assert (obj["terminal"], obj["currency"], obj["language"]) == (SHOP_TERMINAL, "USD", "kaz")
        assert spoken.to_js()["language"] == "eng"  # an argument wins over the default
        record = state_of(app).ledger.get(payment.invoice_id)
        assert record is not None and (record.currency, record.terminal) == ("USD", SHOP_TERMINAL)
        issued = sandbox_token(app, payment)
        assert issued.currency == "USD" and issued.amount == Decimal("12.50")
        # HALYK_POSTLINK_SECRET keys the hash, not SECRET_KEY.
        assert issued.secret_hash == make_secret_hash(
            b"explicit postlink secret", payment.invoice_id, "12.5", "USD", SHOP_TERMINAL)
    finally:
        close(app)


def test_generated_invoice_ids_are_digits_with_unique_last_six(shop):
    with shop.test_request_context("/"):
        ids = [pay(shop, amount=10 + n).invoice_id for n in range(25)]
    assert all(re.fullmatch(r"[0-9]{6,15}", invoice) for invoice in ids)
    assert len({invoice[-6:] for invoice in ids}) == len(ids)


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_checkout_and_one_commit_per_payment_and_the_row_complete_before_the_bank_call(
        backend, tmp_path, monkeypatch):
    """The payment's row is written once, before the token request (its commit may overlap the
    request, but is through before create_payment returns); nothing is written after the call
    on the happy path, and the token's expiry is in the row all the same."""
    with backend_shop(backend, tmp_path) as shop:
        ledger = state_of(shop).ledger
        with shop.test_request_context("/"):
            pay(shop)  # the schema made, the sandbox's blueprints warm
            work: list[str] = []
            seen_at_token: list[object] = []
            event.listen(ledger.engine, "checkout", lambda *_: work.append("checkout"))
            event.listen(ledger.engine, "commit", lambda *_: work.append("commit"))
            real_token = state_of(shop).client.payment_token

            def token(invoice_id, *args, **kwargs):
                seen_at_token.append(list(work))
                return real_token(invoice_id, *args, **kwargs)

            monkeypatch.setattr(state_of(shop).client, "payment_token", token)
            payment = pay(shop)
        assert work == ["checkout", "commit"]
        assert seen_at_token[0][:1] == ["checkout"]  # the row was made before the bank call
        record = ledger.get(payment.invoice_id)  # another connection: committed
        assert record is not None and record.status == "new"
        assert payment.record == record
        assert record.token_expires_at == payment.token.expires_at


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_token_of_another_lifetime_is_noted_after_the_call(backend, tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox_oauth, "TOKEN_LIFETIME", 1200)
    with backend_shop(backend, tmp_path) as shop:
        with shop.test_request_context("/"):
            payment = pay(shop)
        record = state_of(shop).ledger.get(payment.invoice_id)
        assert payment.token.expires_in == 1200
        assert record.token_expires_at == payment.token.expires_at == payment.record \
            .token_expires_at


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failed_token_request_leaves_the_row_with_no_known_token(backend, tmp_path):
    with backend_shop(backend, tmp_path, HALYK_RETRIES=0) as shop:
        sandbox_of(shop).faults.update({"token_error": 503})
        with shop.test_request_context("/"), pytest.raises(TransportError):
            pay(shop)
        [record] = state_of(shop).ledger.query()
        assert record.status == "new" and record.token_expires_at is None


def test_a_commit_that_fails_after_the_token_request_fails_the_payment(tmp_path, monkeypatch):
    """Whatever the backend, create_payment hands out no payment whose row is not committed."""
    from flask_halyk.errors import LedgerUnavailable
    from flask_halyk.ledger import payments as ledger_payments

    shop = make_shop(tmp_path)
    try:
        def unrecorded(self):
            raise LedgerUnavailable("the commit failed", reason="test")

        monkeypatch.setattr(ledger_payments.PendingPayment, "durable", unrecorded)
        with shop.test_request_context("/"), pytest.raises(LedgerUnavailable):
            pay(shop)
    finally:
        close(shop)


@pytest.mark.postgres
def test_without_a_background_thread_the_commit_is_made_at_once(tmp_path, monkeypatch):
    """At interpreter shutdown no thread can be started: the row is committed in the caller."""
    from flask_halyk.ledger import payments as ledger_payments

    def no_thread(*args):
        raise RuntimeError("cannot schedule new futures after interpreter shutdown")

    monkeypatch.setattr(ledger_payments, "in_background", no_thread)
    with backend_shop("postgres", tmp_path) as shop:
        with shop.test_request_context("/"):
            payment = pay(shop)
        record = state_of(shop).ledger.get(payment.invoice_id)
        assert record is not None and record.token_expires_at == payment.token.expires_at
