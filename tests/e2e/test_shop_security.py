"""The shop's pages under a strict Content-Security-Policy, and hostile text kept inert."""

from __future__ import annotations

import re

import pytest
from e2e_helpers import APPROVED, open_widget, pay_with_card, place_order, wait_for_status

pytestmark = pytest.mark.browser

HOSTILE = "</script><script>window.pwned=1</script>"


def violations(page):
    """CSP violations seen by the page and every frame in it."""
    found = []
    for frame in page.frames:
        try:
            found.extend(frame.evaluate("window.__cspViolations || []"))
        except Exception:  # a frame that navigated away meanwhile
            continue
    return found


def test_hostile_description_is_rendered_as_text(page, live_shop, step):
    page.goto("/")
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.text_content("#product-hostile .description") == HOSTILE

    # The same text travels in the payment object to the widget's inline script and to the
    # bank's page: it stays text there too.
    invoice_id = place_order(page, "hostile")
    step("order")
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.text_content("#order .description") == HOSTILE
    form = open_widget(page)
    step("widget")
    assert form.locator("#description").text_content() == HOSTILE
    pay_with_card(form, APPROVED)
    wait_for_status(page, "paid")
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert live_shop.ledger(invoice_id).description == HOSTILE
    # Nothing was even attempted: escaping held, so the CSP had nothing to block.
    assert violations(page) == []


def test_every_page_runs_under_the_strict_csp_without_violations(page, live_shop, browser_log):
    response = page.goto("/")
    policy = response.headers["content-security-policy"]
    nonce = re.search(r"script-src 'nonce-([A-Za-z0-9_-]+)'", policy)
    assert nonce, policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-src 'self'" in policy  # the embedded sandbox's payment page
    # Every script of the page carries this response's nonce.
    scripts = page.eval_on_selector_all("script", "s => s.map(e => e.nonce)")
    assert scripts and all(n == nonce.group(1) for n in scripts)

    # A second response gets a fresh nonce.
    again = page.goto("/").headers["content-security-policy"]
    assert again != policy

    place_order(page, "tea")
    form = open_widget(page)  # payment-api.js and the widget's inline script ran
    pay_with_card(form, APPROVED)
    wait_for_status(page, "paid")
    page.goto("/admin/")
    assert violations(page) == []
    assert browser_log.csp_problems() == []
    assert browser_log.errors == []


def test_the_violation_watch_sees_an_injected_script(page, live_shop, browser_log):
    """The control for the test above: a script without the nonce is blocked, and seen."""
    page.goto("/")
    page.evaluate(
        """() => { const s = document.createElement('script');
                   s.textContent = 'window.pwned = 1'; document.body.appendChild(s); }"""
    )
    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert violations(page)[0]["directive"].startswith("script-src")
