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
    nonce = re.search(r"script-src [^;]*'nonce-([A-Za-z0-9_-]+)'", policy)
    assert nonce, policy
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert "unsafe-inline" not in directives["script-src"] and "unsafe-eval" not in policy
    assert directives["style-src"] == "'self' 'unsafe-inline'"  # the bank's <style> only
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


def widget_geometry(page):
    """The overlay's and the frame's computed style and boxes."""
    return page.evaluate("""() => {
        const screen = document.querySelector('.widgetScreen');
        const frame = screen.querySelector('iframe.iframeClass');
        const style = getComputedStyle(screen), box = frame.getBoundingClientRect();
        const cover = screen.getBoundingClientRect();
        return {position: style.position, zIndex: style.zIndex, display: style.display,
                cover: [cover.width, cover.height], frame: [box.width, box.height],
                border: getComputedStyle(frame).borderTopStyle,
                viewport: [window.innerWidth, window.innerHeight]}; }""")


def test_the_widget_is_styled_under_the_shop_strict_policy(page, live_shop, browser_log, step):
    # The example shop's policy (examples/shop/csp.py) with HalykEpay.csp_sources(): the
    # <style> the bank's script injects applies, so the overlay covers the page and the frame
    # has the bank's size (400 px wide, 90vh high).
    place_order(page, "tea")
    open_widget(page)
    step("widget")
    geometry = widget_geometry(page)
    width, height = geometry["viewport"]
    assert geometry["position"] == "fixed" and geometry["zIndex"] == "1000"
    assert geometry["display"] == "flex" and geometry["cover"] == [width, height]
    assert geometry["frame"] == [400, pytest.approx(height * 0.9, abs=1)]
    assert geometry["border"] == "none"
    assert violations(page) == [] and browser_log.csp_problems() == []


def test_without_unsafe_inline_styles_the_widget_is_a_bare_frame(page, live_shop):
    """The control for the test above: the same policy without style-src 'unsafe-inline'
    blocks the bank's <style>, and the widget is the unstyled 300x150 frame in the page."""

    def strict_styles(route):
        response = route.fetch()
        headers = dict(response.headers)
        headers["content-security-policy"] = headers["content-security-policy"].replace(
            "style-src 'self' 'unsafe-inline'", "style-src 'self'")
        route.fulfill(response=response, headers=headers)

    place_order(page, "tea")
    page.route(re.compile(r".*/orders/[^/?]+$"), strict_styles)
    page.reload()
    open_widget(page)
    page.wait_for_function("window.__cspViolations.length > 0")
    assert violations(page)[0]["directive"].startswith("style-src")
    geometry = widget_geometry(page)
    assert geometry["position"] == "static"
    assert [round(v) for v in geometry["frame"]] == [304, 154]  # 300x150 and a 2px border
