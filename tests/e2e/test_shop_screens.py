"""A purchase seen at a desktop's size and at a phone's: each step's screenshot is kept in
test-artifacts/screens/<size>/ (to look at), and what a customer must see without scrolling is
checked: the header on one row per part, the checkout's inputs styled, the widget's pay button
inside the screen and inside its frame."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import APPROVED, EXPIRY, wait_for_status

pytestmark = pytest.mark.browser

SCREENS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screens"
SIZES = {"desktop-1280x900": (1280, 900), "phone-390x844": (390, 844)}


def inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (inner["x"] >= outer["x"] - 0.5 and inner["y"] >= outer["y"] - 0.5
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 0.5
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 0.5)


@pytest.mark.parametrize("size", list(SIZES))
def test_a_purchase_fits_the_screen(browser: Any, live_shop: Any, size: str) -> None:
    width, height = SIZES[size]
    folder = SCREENS / size
    folder.mkdir(parents=True, exist_ok=True)
    screen = {"x": 0, "y": 0, "width": width, "height": height}
    context = browser.new_context(base_url=live_shop.url,
                                  viewport={"width": width, "height": height})
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto("/products/tea/checkout")
        # Each part of the header keeps its words on one line (the brand did not, on a phone).
        line = page.evaluate("parseFloat(getComputedStyle(document.body).lineHeight)")
        for part in ("header .brand", "header .languages"):
            assert page.locator(part).bounding_box()["height"] < 1.5 * line, part
        # The checkout's inputs are styled like its button, not the browser's bare boxes.
        name = page.locator("input[name=name]")
        assert name.evaluate("e => getComputedStyle(e).borderRadius") != "0px"
        assert name.bounding_box()["width"] >= min(0.6 * width, 300)
        page.screenshot(path=str(folder / "1-checkout.png"), full_page=True)

        page.fill("input[name=name]", "Arman Ali")
        page.fill("input[name=email]", "arman@example.kz")
        page.click("#place-order")
        page.wait_for_url(re.compile(r"/orders/[^/?]+$"))
        page.screenshot(path=str(folder / "2-order.png"), full_page=True)

        page.click("#pay-widget")
        frame_element = page.locator("iframe").first
        frame = page.frame_locator("iframe").first
        pay = frame.locator("#pay")
        pay.wait_for()
        page.screenshot(path=str(folder / "3-widget.png"))
        # Visible without scrolling: inside the screen and inside the widget's frame.
        box = pay.bounding_box()
        assert box is not None and inside(box, screen), (box, screen)
        assert inside(box, frame_element.bounding_box()), box
        assert frame.locator("input[name=expiry]").get_attribute("placeholder") == "ММ/ГГ"  # noqa: RUF001

        frame.locator("input[name=pan]").fill(APPROVED)
        frame.locator("input[name=expiry]").fill(EXPIRY)
        frame.locator("input[name=cvc]").fill("123")
        frame.locator("input[name=holder]").fill("ARMAN ALI")
        pay.click()
        wait_for_status(page, "paid")
        page.screenshot(path=str(folder / "4-paid.png"), full_page=True)
    finally:
        context.close()
    assert sorted(p.name for p in folder.glob("*.png")) == [
        "1-checkout.png", "2-order.png", "3-widget.png", "4-paid.png"]
