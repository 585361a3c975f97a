"""Sandbox.pay / SandboxServer.pay: a payment object paid through the real payment page routes,
without a browser, for a shop's tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from page_helpers import close, make_shop
from sandbox_helpers import get_token, payment_object

from flask_halyk import HalykEpay
from flask_halyk.config import SHOP_INTERNAL_ORIGIN
from flask_halyk.ledger import PaymentStatus
from flask_halyk.sandbox import (
    CARDS,
    PaymentPageError,
    PaymentResult,
    Sandbox,
    SandboxServer,
    cards,
)
from flask_halyk.state import get_state


def _object(server: SandboxServer, receiver, invoice_id: str = "100001", amount: int = 100,
            token_amount: str | None = None, **extra):
    links = {"postLink": f"{receiver.url}/ok", "failurePostLink": f"{receiver.url}/fail"}
    auth = get_token(server.url, invoice_id, token_amount or str(amount), **links).json()
    return payment_object(auth, invoice_id, amount, **{**links, **extra})


def test_approved_card_pays_and_the_postlink_is_delivered(sandbox, receiver):
    result = sandbox.pay(_object(sandbox, receiver))
    assert isinstance(result, PaymentResult)
    assert result.approved and result.reason_code == 0 and result.reason == "success"
    assert result.status == "CHARGE" and not result.three_ds
    [transaction] = sandbox.transactions
    assert result.transaction is transaction and result.transaction_id == transaction.id
    assert transaction.card_mask == "440563...5096" and transaction.holder == "TEST CARDHOLDER"
    [delivery] = result.deliveries
    assert delivery.status == 200 and delivery.url == f"{receiver.url}/ok"
    [(path, body, _)] = receiver.bodies
    assert path == "ok" and body["id"] == result.transaction_id and body["code"] == "ok"


@pytest.mark.parametrize("pan", [*(p for p, b in CARDS.items() if not b.three_ds),
                                 cards.UNLISTED_CARD])
def test_every_card_gives_its_documented_answer(sandbox, receiver, pan):
    expected = cards.behaviour(pan)
    result = sandbox.pay(_object(sandbox, receiver), pan, holder="Arman Ali")
    assert (result.approved, result.reason_code) == (expected.approved, expected.reason_code)
    assert result.status == ("CHARGE" if expected.approved else "REJECT")
    assert sandbox.transactions[-1].holder == "ARMAN ALI"
    [(path, body, _)] = receiver.bodies
    assert path == ("ok" if expected.approved else "fail")
    assert body["reasonCode"] == expected.reason_code


def test_named_cards_are_the_table(sandbox):
    assert cards.APPROVED_CARD in CARDS and CARDS[cards.APPROVED_CARD].approved
    assert CARDS[cards.BLOCKED_CARD].reason_code == 465
    assert CARDS[cards.THREE_DS_CARD].three_ds
    assert cards.UNLISTED_CARD not in CARDS and cards.luhn_valid(cards.UNLISTED_CARD)


def test_declined_card(sandbox, receiver):
    result = sandbox.pay(_object(sandbox, receiver), cards.INSUFFICIENT_FUNDS_CARD)
    assert not result.approved and result.reason_code == 484 and result.status == "REJECT"
    assert result.reason == "insufficient funds"
    assert [d.url for d in result.deliveries] == [f"{receiver.url}/fail"]


def test_three_ds_with_the_right_code(sandbox, receiver):
    result = sandbox.pay(_object(sandbox, receiver), cards.THREE_DS_CARD,
                         secure_code=cards.THREE_DS_CODE)
    assert result.approved and result.three_ds and result.status == "CHARGE"
    assert result.transaction.secure == "yes"
    assert receiver.bodies[0][1]["secure"] == "yes"


def test_three_ds_passes_by_default(sandbox, receiver):
    assert sandbox.pay(_object(sandbox, receiver), cards.THREE_DS_CARD).approved


def test_three_ds_with_a_wrong_code(sandbox, receiver):
    result = sandbox.pay(_object(sandbox, receiver), cards.THREE_DS_CARD, secure_code="000000")
    assert not result.approved and result.three_ds
    assert result.reason_code == 473 and result.status == "REJECT"
    assert [p for p, _, _ in receiver.bodies] == ["fail"]


def test_a_token_for_another_amount_is_refused_as_the_page_refuses_it(sandbox, receiver):
    obj = _object(sandbox, receiver, amount=200, token_amount="100")
    with pytest.raises(PaymentPageError) as refused:
        sandbox.pay(obj)
    assert refused.value.status == 400 and refused.value.errors == {}
    assert refused.value.message == "the amount differs from the token's"
    assert sandbox.transactions == [] and sandbox.deliveries == []


@pytest.mark.parametrize(("change", "message"), [
    ({"auth": {"access_token": "NOSUCHTOKEN"}}, "the payment is expired: unknown token"),
    ({"invoiceId": "100002"}, "the token was issued for another invoice"),
    ({"postLink": "javascript:alert(1)"},
     "postLink must not be a javascript:, data: or vbscript: link"),
])
def test_other_page_refusals(sandbox, receiver, change, message):
    with pytest.raises(PaymentPageError, match=re.escape(message)):
        sandbox.pay({**_object(sandbox, receiver), **change})
    assert sandbox.transactions == []


def test_a_paid_invoice_cannot_be_paid_again(sandbox, receiver):
    obj = _object(sandbox, receiver)
    assert sandbox.pay(obj).approved
    with pytest.raises(PaymentPageError, match="already paid"):
        sandbox.pay(obj)
    assert len(sandbox.transactions) == 1


def test_a_declined_invoice_may_be_paid_again(sandbox, receiver):
    obj = _object(sandbox, receiver)
    assert not sandbox.pay(obj, cards.BLOCKED_CARD).approved
    assert sandbox.pay(obj).approved
    assert [t.status for t in sandbox.transactions] == ["REJECT", "CHARGE"]


def test_the_card_form_is_validated(sandbox, receiver):
    obj = _object(sandbox, receiver, language="eng")
    with pytest.raises(PaymentPageError) as refused:
        sandbox.pay(obj, "4405639704015097", expiry="01/20", cvc="12", holder="")
    assert refused.value.status == 400
    assert set(refused.value.errors) == {"pan", "expiry", "cvc", "holder"}
    assert "expiry" in refused.value.message
    assert sandbox.transactions == []
    assert sandbox.pay(obj).approved


def test_two_stage_terminal_authorises(two_stage, receiver):
    result = two_stage.pay(_object(two_stage, receiver))
    assert result.approved and result.status == "AUTH"


def test_a_dropped_postlink_shows_in_the_result(sandbox, receiver):
    sandbox.faults.drop_postlink = True
    result = sandbox.pay(_object(sandbox, receiver))
    assert result.approved
    [delivery] = result.deliveries
    assert delivery.status is None and delivery.error == "dropped by fault switch"
    assert receiver.bodies == []


def test_a_sandbox_outside_an_app_says_so():
    with pytest.raises(RuntimeError, match="create_sandbox_app"):
        Sandbox().pay({})


# The embedded sandbox: the documented get_state(app).sandbox.extensions["halyk_sandbox"].


@pytest.fixture
def shop(tmp_path: Path):
    app = make_shop(tmp_path)
    yield app
    get_state(app).sandbox.extensions["halyk_sandbox"].wait_for_postlinks(10)
    close(app)


@pytest.mark.parametrize(("pan", "status"), [(cards.APPROVED_CARD, PaymentStatus.PAID),
                                             (cards.BLOCKED_CARD, PaymentStatus.FAILED)])
def test_embedded_sandbox_pays_into_the_shops_ledger(shop, pan, status):
    halyk: HalykEpay = get_state(shop).extension
    with shop.test_request_context("/"):
        payment = halyk.create_payment(1500, description="Tea")
    result = get_state(shop).sandbox.extensions["halyk_sandbox"].pay(payment.to_js(), pan)
    [delivery] = result.deliveries
    # No server listens: only the in-process delivery a browser on the shop's origin gets.
    assert delivery.in_process and delivery.status == 200
    with shop.app_context():
        assert halyk.ledger.get(payment.invoice_id).status is status


def test_embedded_a_postlink_changed_in_the_object_still_reaches_the_shop(shop):
    halyk: HalykEpay = get_state(shop).extension
    with shop.test_request_context("/", base_url="https://shop.example"):
        payment = halyk.create_payment(1500, description="Tea")
    tampered = {**payment.to_js(), "postLink": "http://127.0.0.1:9/steal"}
    result = get_state(shop).sandbox.extensions["halyk_sandbox"].pay(tampered)
    [delivery] = result.deliveries
    # The shop's fixed in-process origin, whatever the request's Host (https://shop.example).
    assert delivery.url == f"{SHOP_INTERNAL_ORIGIN}/halyk/postlink"
    assert delivery.in_process and delivery.status == 200
    with shop.app_context():
        assert halyk.ledger.get(payment.invoice_id).status is PaymentStatus.PAID


# docs/testing.md's live recipe: pytest-flask's live_server serving a shop that pays on the
# plugin's halyk_sandbox, paid with halyk_sandbox.pay().


class TestLiveShop:
    @pytest.fixture
    def app(self, tmp_path, halyk_sandbox):
        app = Flask("shop", instance_path=str(tmp_path / "instance"))
        app.config.update(SECRET_KEY="test", HALYK_ENV="sandbox",
                          HALYK_SANDBOX_URL=halyk_sandbox.url,
                          HALYK_DATABASE_URL=f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
        HalykEpay(app)
        yield app
        get_state(app).client.close()

    def test_documented_recipe(self, app, live_server, halyk_sandbox):
        halyk: HalykEpay = get_state(app).extension
        payment_object = halyk.create_payment(1500, description="Tea").to_js()
        # The links follow SERVER_NAME (pytest-flask's localhost.localdomain:PORT), never a
        # request's Host; the plugin routes that name to the live server.
        url = f"http://{app.config['SERVER_NAME']}"
        assert payment_object["postLink"] == f"{url}/halyk/postlink"
        result = halyk_sandbox.pay(payment_object, cards.APPROVED_CARD)
        assert result.approved and result.status == "CHARGE"
        assert [(d.url, d.status, d.in_process) for d in result.deliveries] == [
            (f"{url}/halyk/postlink", 200, False)]
        with app.app_context():
            assert halyk.ledger.get(payment_object["invoiceId"]).status.value == "paid"
        with pytest.raises(PaymentPageError, match="already paid"):
            halyk_sandbox.pay(payment_object)


def test_documented_embedded_recipe(app):
    """The embedded sandbox's own pay(), on the suite's `app` (no HALYK_* settings at all), as
    docs/testing.md names it (get_state(app).sandbox.extensions["halyk_sandbox"])."""
    halyk: HalykEpay = get_state(app).extension
    with app.test_request_context():
        payment = halyk.create_payment(1500, description="Tea")
    sandbox = get_state(app).sandbox.extensions["halyk_sandbox"]
    result = sandbox.pay(payment.to_js(), cards.APPROVED_CARD)
    assert result.approved and result.deliveries[0].status == 200
    with app.app_context():
        assert halyk.ledger.get(payment.invoice_id).status.value == "paid"
