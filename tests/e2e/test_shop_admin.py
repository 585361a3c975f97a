"""The back office: refunds from the admin page show in the customer's order status."""

from __future__ import annotations

import pytest
from e2e_helpers import (
    APPROVED,
    BLOCKED,
    label,
    open_widget,
    pay_with_card,
    place_order,
    shown_status,
    wait_for_status,
)

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
    assert shown_status(page) == "partially_refunded"
    assert page.text_content("#refunded-amount").strip() in ("400", "400.00")

    page.goto("/admin/")
    page.locator(f"#payment-{invoice_id} button.refund:not(.partial)").click()
    page.wait_for_selector(".flash.ok")
    page.goto(order_url)
    step("refunded")
    assert shown_status(page) == "refunded"
    record = live_shop.ledger(invoice_id)
    assert record.status == "refunded"
    assert record.refunded_amount == record.amount


def operations_offered(page, invoice_id):
    """The operation buttons the admin page shows on ``invoice_id``'s row."""
    page.goto("/admin/")
    row = page.locator(f"#payment-{invoice_id}")
    return {" ".join(sorted(b.get_attribute("class").split()))
            for b in row.locator(".operations button").all()}


def test_a_one_stage_payment_offers_refunds_only(page, live_shop):
    invoice_id = place_order(page, "baursak")
    assert operations_offered(page, invoice_id) == set()  # new: nothing to operate on yet
    page.go_back()
    pay_with_card(open_widget(page), APPROVED)
    wait_for_status(page, "paid")
    # A one-stage terminal's payment is charged already: no cancel, no charge.
    assert operations_offered(page, invoice_id) == {"refund", "partial refund"}
    page.locator(f"#payment-{invoice_id} input[name=amount]").fill("400")
    page.locator(f"#payment-{invoice_id} button.refund.partial").click()
    page.wait_for_selector(".flash.ok")
    assert operations_offered(page, invoice_id) == {"refund", "partial refund"}
    page.locator(f"#payment-{invoice_id} button.refund:not(.partial)").click()
    page.wait_for_selector(".flash.ok")
    assert live_shop.ledger(invoice_id).status == "refunded"
    assert operations_offered(page, invoice_id) == set()


def test_a_declined_payment_offers_nothing(page, live_shop):
    invoice_id = place_order(page, "tea")
    pay_with_card(open_widget(page), BLOCKED)
    wait_for_status(page, "failed")
    assert operations_offered(page, invoice_id) == set()


def test_an_operation_the_bank_refuses_is_shown_not_raised(page, live_shop):
    invoice_id = place_order(page, "tea")
    pay_with_card(open_widget(page), APPROVED)
    wait_for_status(page, "paid")
    page.goto("/admin/")
    # A one-stage terminal's payment is charged already: the page offers no cancel, and one
    # posted anyway (a stale page, a crafted request) is refused by the same rule, and shown.
    token = page.locator(f"#payment-{invoice_id} input[name=csrf_token]").first.input_value()
    response = page.request.post(f"/admin/payments/{invoice_id}/cancel",
                                 form={"csrf_token": token})
    assert response.ok and response.url.endswith("/admin/")
    refused = label(page, "operation_refused", invoice=invoice_id,
                    action=label(page, "action_cancel"), error=label(page, "refused_state"))
    assert refused in response.text()
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

    # The money is only held: charge or cancel it; nothing to refund yet.
    assert operations_offered(page, invoice_id) == {"charge", "cancel"}
    page.locator(f"#payment-{invoice_id} button.{action}").click()
    page.wait_for_selector(".flash.ok")
    step(action)
    # Charged: refund only. Cancelled: nothing.
    assert operations_offered(page, invoice_id) == (
        {"refund", "partial refund"} if outcome == "paid" else set()
    )
    page.goto(order_url)
    assert shown_status(page) == outcome
    assert live_shop.ledger(invoice_id).status == outcome
