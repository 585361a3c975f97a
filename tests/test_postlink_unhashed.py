"""A postLink without ``secret_hash`` (the vendor's two examples carry none): believed when, and
only as far as, the bank's status answer confirms it, whatever HALYK_VERIFY_WITH_STATUS says.
Both ways through the embedded sandbox (its ``options.postlink_secret_hash`` switch), and bodies
made up by hand for the refusals."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from page_helpers import close, make_shop

from flask_halyk.ledger import PaymentStatus as S
from flask_halyk.sandbox import cards

BLOCKED = cards.BLOCKED_CARD


@pytest.fixture(params=[False, True], ids=["recheck-off", "recheck-on"])
def shop(tmp_path, request):
    app = make_shop(tmp_path, HALYK_VERIFY_WITH_STATUS=request.param)
    yield app
    sandbox_of(app).wait_for_postlinks(10)
    close(app)


def sandbox_of(app: Flask):
    return app.extensions["halyk"].sandbox.extensions["halyk_sandbox"]


def create(app: Flask, amount: int = 100):
    with app.test_request_context("/"):
        return app.extensions["halyk"].extension.create_payment(amount, description="order")


@pytest.mark.parametrize("echoed", [True, False], ids=["with-hash", "without-hash"])
def test_a_paid_invoice_is_paid_with_or_without_secret_hash(shop, echoed):
    sandbox_of(shop).options.postlink_secret_hash = echoed
    payment = create(shop)
    result = sandbox_of(shop).pay(payment.to_js())
    [delivery] = result.deliveries
    assert ("secret_hash" in delivery.body) is echoed and delivery.status == 200
    record = shop.extensions["halyk"].ledger.get(payment.invoice_id)
    assert record.status is S.PAID and record.transaction_id == result.transaction_id


@pytest.mark.parametrize("echoed", [True, False], ids=["with-hash", "without-hash"])
def test_a_declined_invoice_fails_with_or_without_secret_hash(shop, echoed):
    sandbox_of(shop).options.postlink_secret_hash = echoed
    payment = create(shop)
    result = sandbox_of(shop).pay(payment.to_js(), BLOCKED)
    [delivery] = result.deliveries
    assert not result.approved and delivery.status == 200
    assert shop.extensions["halyk"].ledger.get(payment.invoice_id).status is S.FAILED


def body_for(shop: Flask, payment, *, success: bool, **fields):
    config = shop.extensions["halyk"].config
    return {"id": str(uuid.uuid4()), "invoiceId": payment.invoice_id, "amount": 100,
            "currency": "KZT", "terminal": config.terminal_id,
            "code": "ok" if success else "error", "reason": "x",
            "reasonCode": 0 if success else 465, **fields}


def post(shop: Flask, body):
    return shop.test_client().post("/halyk/postlink", json=body)


def test_an_unhashed_success_the_bank_does_not_know_is_refused(shop):
    payment = create(shop)  # not paid: the bank's status says "not found"
    answer = post(shop, body_for(shop, payment, success=True))
    assert answer.status_code == 403
    assert shop.extensions["halyk"].ledger.get(payment.invoice_id).status is S.NEW


def test_an_unhashed_failure_of_a_paid_invoice_is_refused(shop):
    sandbox_of(shop).options.postlink_secret_hash = False
    payment = create(shop)
    sandbox_of(shop).pay(payment.to_js())
    answer = post(shop, body_for(shop, payment, success=False))
    assert answer.status_code == 403 and "does not confirm" in answer.get_json()["error"]
    assert shop.extensions["halyk"].ledger.get(payment.invoice_id).status is S.PAID


def test_a_wrong_secret_hash_is_still_forged(shop):
    payment = create(shop)
    sandbox_of(shop).faults.drop_postlink = True
    sandbox_of(shop).pay(payment.to_js())
    answer = post(shop, body_for(shop, payment, success=True, secret_hash="0" * 32))
    assert answer.status_code == 403 and "secret_hash does not match" in \
        answer.get_json()["error"]


def test_an_unhashed_postlink_waits_when_the_status_api_is_down(shop, no_backoff_sleeps):
    sandbox_of(shop).options.postlink_secret_hash = False
    sandbox_of(shop).faults.drop_postlink = True
    payment = create(shop)
    sandbox_of(shop).pay(payment.to_js())
    sandbox_of(shop).faults.status_error = 503
    answer = post(shop, body_for(shop, payment, success=True))
    assert answer.status_code == 503
    assert shop.extensions["halyk"].ledger.get(payment.invoice_id).status is S.NEW
