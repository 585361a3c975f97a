"""Paying on the bank's own page (``halyk.pay``): the whole page goes there and comes back
through backLink / failureBackLink."""

from __future__ import annotations

import re

import pytest
from e2e_helpers import (
    APPROVED,
    BLOCKED,
    assert_reads_as_reloaded,
    pay_with_card,
    place_order,
    wait_for_status,
)

pytestmark = pytest.mark.browser


def test_redirect_payment_round_trip(page, live_shop, step):
    invoice_id = place_order(page, "dombra")
    order_url = page.url
    page.click("#pay-redirect")
    page.wait_for_url(re.compile(r"/halyk-sandbox/payform/"))
    step("payment-page")
    assert page.text_content("#invoice-id") == invoice_id
    pay_with_card(page, APPROVED)
    # backLink: the order page again, which waits for the ledger to learn of the payment.
    page.wait_for_url(order_url + "?returned=success")
    step("back")
    wait_for_status(page, "paid")
    assert live_shop.ledger(invoice_id).status == "paid"
    assert live_shop.order_by_invoice(invoice_id).fulfilled_at is not None
    page.wait_for_selector("#fulfilled")
    assert page.locator("#pay-redirect").count() == 0
    assert_reads_as_reloaded(page)


def test_redirect_payment_declined_comes_back_through_failure_back_link(page, live_shop):
    invoice_id = place_order(page, "tea")
    order_url = page.url
    page.click("#pay-redirect")
    page.wait_for_url(re.compile(r"/halyk-sandbox/payform/"))
    pay_with_card(page, BLOCKED)
    page.wait_for_url(order_url + "?returned=failure")
    wait_for_status(page, "failed")
    assert live_shop.ledger(invoice_id).status == "failed"
    assert page.is_visible("#retry") and page.locator("#pay-redirect").count() == 0
    assert_reads_as_reloaded(page)


def test_language_choice_reaches_the_payment(page, live_shop):
    page.goto("/")
    page.click("a[data-language=eng]")
    page.wait_for_selector("a[data-language=eng][aria-current]")
    assert page.text_content("h1") == "Catalogue"
    invoice_id = place_order(page, "tea")
    assert live_shop.ledger(invoice_id).language == "eng"
    page.click("#pay-redirect")
    page.wait_for_url(re.compile(r"/halyk-sandbox/payform/"))
    assert page.get_attribute("html", "lang") == "en"
