"""Steps a customer takes in the example shop, shared by the browser tests."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from examples.shop.i18n import text

#: The shop's languages by the page's <html lang>.
LANGUAGES = {"ru": "rus", "kk": "kaz", "en": "eng"}

APPROVED = "4405639704015096"
BLOCKED = "4003032704547597"
INSUFFICIENT_FUNDS = "4000000000004848"
THREE_DS = "4000000000003121"
THREE_DS_CODE = "123456"

# Next year's December: always in the future.
EXPIRY = f"12/{(date.today().year + 1) % 100:02d}"


def place_order(page: Any, product_id: str = "tea", name: str = "Arman Ali") -> str:
    """Check out one ``product_id``; returns the invoice id shown on the order page."""
    page.goto(f"/products/{product_id}/checkout")
    page.fill("input[name=name]", name)
    page.fill("input[name=email]", "arman@example.kz")
    page.click("#place-order")
    page.wait_for_url(re.compile(r"/orders/[^/?]+$"))
    invoice_id = page.get_attribute("#order", "data-invoice-id")
    assert invoice_id and invoice_id.isdigit(), f"no invoice id on the order page: {invoice_id!r}"
    assert shown_status(page) == "new"
    return invoice_id


def open_widget(page: Any) -> Any:
    """Click the widget button; returns the payment page inside the overlay's iframe."""
    page.click("#pay-widget")
    page.wait_for_selector(".widgetScreen iframe.iframeClass")
    frame = page.frame_locator(".widgetScreen iframe.iframeClass")
    frame.locator("#card-form").wait_for()
    return frame


def pay_with_card(form: Any, pan: str, holder: str = "ARMAN ALI") -> None:
    """Fill the payment page's card form (a page or an iframe) and submit it."""
    form.locator("input[name=pan]").fill(pan)
    form.locator("input[name=expiry]").fill(EXPIRY)
    form.locator("input[name=cvc]").fill("123")
    form.locator("input[name=holder]").fill(holder)
    form.locator("#pay").click()


def confirm_3ds(form: Any, code: str) -> None:
    """Answer the 3-D Secure step."""
    form.locator("input[name=code]").fill(code)
    form.locator("#confirm").click()


def wait_for_status(page: Any, status: str) -> None:
    """Wait until the order page shows ``status`` (it polls the ledger through the shop)."""
    page.wait_for_selector(f"#order[data-status='{status}']")
    assert shown_status(page) == status


def label(page: Any, key: str, **values: Any) -> str:
    """The shop's label ``key`` in the page's language."""
    return text(key, LANGUAGES[page.get_attribute("html", "lang")], **values)


def shown_status(page: Any) -> str:
    """The ledger status the order page shows, checked to read in the page's language."""
    status = page.get_attribute("#payment-status", "data-status")
    assert page.text_content("#payment-status") == label(page, f"status_{status}")
    return status


def assert_reads_as_reloaded(page: Any) -> str:
    """The page, updated in place by polling, reads exactly as the server renders it after a
    reload (no pay buttons once settled, the same final message); returns that text."""
    polled = page.inner_text("main")
    page.reload()
    reloaded = page.inner_text("main")
    assert polled == reloaded
    return reloaded
