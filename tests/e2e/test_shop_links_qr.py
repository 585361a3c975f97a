"""Payment links and QR payments in a browser: the operator bills a customer from the example
shop's dashboard (under its strict CSP), the customer pays the link in a second browser context
(their own browser), and a QR shown by the dashboard is paid from the sandbox's scan page (their
phone). The rest is tested with Flask's test client (tests/test_links.py, tests/test_qr.py)."""

from __future__ import annotations

import re

import pytest
from e2e_helpers import APPROVED, pay_with_card
from test_shop_security import violations

pytestmark = pytest.mark.browser


def test_a_link_and_a_qr_from_the_dashboard_are_paid_by_the_customer(
        page, browser, live_shop, browser_log, step):
    page.goto("/admin/bill")
    page.fill("input[name=amount]", "5 400")
    page.fill("input[name=description]", "Baursak, a dozen")
    page.fill("input[name=phone]", "+77011234567")
    page.click("form.bill button[type=submit]")
    page.wait_for_selector("dd.payment-link a")
    step("link-sent")
    invoice_id = page.url.rstrip("/").rsplit("/", 1)[1]
    link = page.get_attribute("dd.payment-link a", "href")
    assert link is not None and link.startswith(live_shop.url)

    customer = browser.new_context(viewport={"width": 420, "height": 800})
    try:
        own = customer.new_page()
        own.goto(link)
        pay_with_card(own, APPROVED)
        # The result page sends the customer back to the shop (the link's back link).
        own.wait_for_url(f"{live_shop.url}/")
        live_shop.sandbox.wait_for_postlinks(10)
        assert str(live_shop.ledger(invoice_id).status) == "paid"
        # The QR: the dashboard shows it, the customer's phone opens its link (the sandbox's
        # scan page stands for the Homebank app) and pays.
        page.goto("/admin/qr")
        page.fill("input[name=amount]", "1 200")
        page.fill("input[name=description]", "Tea to go")
        page.click("form.qr button[type=submit]")
        page.wait_for_selector(".halyk-qr svg")
        step("qr-shown")
        qr_invoice = page.get_attribute(".halyk-qr", "data-invoice-id")
        phone_link = page.get_attribute("a.halyk-qr-homebank", "href")
        assert qr_invoice and phone_link
        own.goto(phone_link)
        own.click("#qr-pay")
        own.wait_for_selector("#qr-outcome.ok")
    finally:
        customer.close()

    page.click("a.halyk-qr-check")
    page.wait_for_selector("dl.payment[data-status='paid']")
    assert re.search(r"PAID", page.text_content(".notice.ok") or "")
    assert str(live_shop.ledger(qr_invoice).status) == "paid"
    assert violations(page) == []
    assert browser_log.csp_problems() == []
    assert browser_log.errors == []
