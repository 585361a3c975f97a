"""The back office: refunds from the admin page show in the customer's order status."""

from __future__ import annotations

import re

import pytest
from e2e_helpers import APPROVED, open_widget, pay_with_card, place_order, wait_for_status

pytestmark = pytest.mark.browser


def test_partial_then_full_refund_from_the_admin_page(page, live_shop, step):
    invoice_id = place_order(page, "baursak")  # 2 400 tenge
    order_url = page.url
    pay_with_card(open_widget(page), APPROVED)
    wait_for_status(page, "paid")

    page.goto("/admin/")
    row = page.locator(f"#payment-{invoice_id}")
    assert row.get_attribute("data-status") == "paid"
    row.locator("input[name=amount]").fill("400")
    row.locator("button.refund.partial").click()
    page.wait_for_selector(".flash.ok")
    step("partial-refund")
    assert page.locator(f"#payment-{invoice_id}").get_attribute("data-status") == (
        "partially_refunded"
    )

    page.goto(order_url)
    assert page.text_content("#payment-status") == "partially_refunded"
    assert page.text_content("#refunded-amount").strip() in ("400", "400.00")

    page.goto("/admin/")
    page.locator(f"#payment-{invoice_id} button.refund:not(.partial)").click()
    page.wait_for_selector(".flash.ok")
    page.goto(order_url)
    step("refunded")
    assert page.text_content("#payment-status") == "refunded"
    record = live_shop.ledger(invoice_id)
    assert record.status == "refunded"
    assert record.refunded_amount == record.amount


def test_an_operation_the_bank_refuses_is_shown_not_raised(page, live_shop):
    invoice_id = place_order(page, "tea")
    pay_with_card(open_widget(page), APPROVED)
    wait_for_status(page, "paid")
    page.goto("/admin/")
    # A one-stage terminal's payment is charged already: cancel is refused by the bank.
    page.locator(f"#payment-{invoice_id} button.cancel").click()
    page.wait_for_selector(".flash.error")
    assert re.search(r"cancel of invoice \d+ refused", page.text_content(".flash.error"))
    assert live_shop.ledger(invoice_id).status == "paid"


@pytest.fixture
def two_stage(shop_config):
    # A postLink does not say whether the money was only held: HALYK_TWO_STAGE tells the ledger
    # a success is authorized, not paid (and makes the embedded sandbox's terminal two-stage).
    shop_config["HALYK_TWO_STAGE"] = True
    return shop_config


@pytest.mark.parametrize(("action", "outcome"), [("charge", "paid"), ("cancel", "cancelled")])
def test_two_stage_payment_charged_or_cancelled_from_the_admin_page(
    two_stage, page, live_shop, step, action, outcome
):
    invoice_id = place_order(page, "tea")
    order_url = page.url
    pay_with_card(open_widget(page), APPROVED)
    wait_for_status(page, "authorized")
    assert live_shop.order_by_invoice(invoice_id).fulfilled_at is not None

    page.goto("/admin/")
    page.locator(f"#payment-{invoice_id} button.{action}").click()
    page.wait_for_selector(".flash.ok")
    step(action)
    page.goto(order_url)
    assert page.text_content("#payment-status") == outcome
    assert live_shop.ledger(invoice_id).status == outcome
