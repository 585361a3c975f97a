"""The back office in a browser: the example shop mounts flask-halyk's dashboard at /admin/
under its strict Content-Security-Policy (Talisman, nonces); an operator refunds a sandbox
payment in part, is told exactly why a refund over what is left is refused, refunds the rest,
and the customer's order says so. The rest of the dashboard is tested with Flask's test client
(tests/test_dashboard.py)."""

from __future__ import annotations

import pytest
from e2e_helpers import (
    APPROVED,
    open_widget,
    pay_with_card,
    place_order,
    shown_status,
    wait_for_status,
)
from test_shop_security import violations

pytestmark = pytest.mark.browser


def refund(page, invoice_id, amount):
    """From the payment's page: Refund…, the confirmation page, the amount, confirm."""
    page.goto(f"/admin/payments/{invoice_id}")
    page.click("a.button.refund")
    page.wait_for_selector("form.confirm")
    page.fill("input[name=amount]", amount)
    page.click("form.confirm button[type=submit]")


def test_refunds_from_the_dashboard_with_confirmation_and_the_exact_refusal(
        page, live_shop, browser_log, step):
    invoice_id = place_order(page, "baursak")  # 2 400 tenge
    order_url = page.url
    pay_with_card(open_widget(page), APPROVED)
    wait_for_status(page, "paid")

    page.goto("/admin/")
    assert page.get_attribute(f"#payment-{invoice_id}", "data-status") == "paid"
    refund(page, invoice_id, "400")
    page.wait_for_selector(".notice.ok")
    step("partial-refund")
    assert page.get_attribute("dl.payment", "data-status") == "partially_refunded"
    assert live_shop.ledger(invoice_id).refunded_amount == 400

    refund(page, invoice_id, "5000")
    refusal = page.text_content(".refusal").replace("\u00a0", " ")
    step("refused")
    # In the shop's language (Russian by default), as the dashboard's catalog words it.
    assert refusal == "Нельзя вернуть 5 000 ₸: осталось только 2 000 ₸."
    assert live_shop.ledger(invoice_id).refunded_amount == 400

    refund(page, invoice_id, "")  # empty: all that is left
    page.wait_for_selector(".notice.ok")
    assert page.get_attribute("dl.payment", "data-status") == "refunded"
    page.goto(order_url)
    assert shown_status(page) == "refunded"
    assert page.is_hidden("#fulfilled")  # no "your order is on its way" once refunded
    assert violations(page) == []
    assert browser_log.csp_problems() == []
    assert browser_log.errors == []
