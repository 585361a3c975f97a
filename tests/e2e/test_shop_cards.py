"""Saved cards and the tea club in a browser, as one customer's story on one live shop: a card
saved while paying (the bank's page shows the "save the card" box), a repeat order in one
click, the tea club joined, its renewals run by ``charge-due`` (the plugin's
``halyk_charge_due``, at the ledger's due time rather than by waiting): approved; declined,
then recovered by dunning after the customer changes the card; cancelled at the end of the
month paid; and the card removed. The cases behind each step are tested without a browser in
tests/test_cards.py and tests/test_subscriptions.py."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from e2e_helpers import APPROVED, LANGUAGES, label, pay_with_card, wait_for_status
from test_shop_security import violations

from examples.shop.i18n import when
from flask_halyk.sandbox.cards import APPROVED_MASTERCARD

pytestmark = pytest.mark.browser


def _pay_saving_the_card(page: Any, pan: str) -> str:
    """Order tea with "remember my card" ticked and pay on the bank's page, its "save the
    card" box left ticked; returns the invoice id."""
    page.goto("/products/tea/checkout")
    page.fill("input[name=name]", "Arman Ali")
    page.fill("input[name=email]", "arman@example.kz")
    page.check("input[name=save_card]")
    page.click("#place-order")
    page.wait_for_url(re.compile(r"/orders/[^/?]+$"))
    invoice_id = page.get_attribute("#order", "data-invoice-id")
    assert invoice_id
    page.click("#pay-redirect")
    page.wait_for_url(re.compile(r"/halyk-sandbox/payform/"))
    assert page.is_checked("#save-card")
    pay_with_card(page, pan)
    page.wait_for_url(re.compile(r"returned=success"))
    wait_for_status(page, "paid")
    return invoice_id


def _club(live_shop: Any) -> Any:
    """The shop's only subscription, as the ledger has it now."""
    [sub] = live_shop.app.extensions["halyk"].ledger.subscriptions()
    return sub


def test_a_saved_card_pays_again_and_runs_the_tea_club(
        page, live_shop, browser_log, step, halyk_charge_due):
    app = live_shop.app
    sandbox = live_shop.sandbox
    first = _pay_saving_the_card(page, APPROVED)
    paid = live_shop.ledger(first)
    assert paid.card_id and paid.account_id
    page.goto("/account/cards")
    assert page.locator("#saved-cards li").count() == 1
    mask = page.text_content("#saved-cards .card-mask")
    assert mask == paid.card_mask
    step("card-saved")

    # One click: the same checkout, charged to the saved card by the shop's server.
    page.goto("/products/tea/checkout")
    page.fill("input[name=name]", "Arman Ali")
    page.fill("input[name=email]", "arman@example.kz")
    page.click("button.saved-card")
    page.wait_for_url(re.compile(r"/orders/[^/?]+$"))
    wait_for_status(page, "paid")
    repeat = live_shop.ledger(page.get_attribute("#order", "data-invoice-id"))
    assert repeat.card_id == paid.card_id and repeat.invoice_id != first
    step("repeat-order")

    # The tea club: joined with the card; the first month charged by charge-due.
    page.goto("/account/cards")
    page.click("#tea-club button[type=submit]")
    page.wait_for_selector("p.flash.info")
    assert page.text_content("p.flash.info") == label(page, "tea_club_joined")
    sub = _club(live_shop)
    assert (sub.status, sub.card_id, sub.period_index) == ("active", paid.card_id, 0)
    report = halyk_charge_due(app=app, at=sub.next_charge_at)
    assert report.renewed == [sub.id]
    renewed = _club(live_shop)
    assert renewed.period_index == 1 and renewed.next_charge_at > sub.next_charge_at
    page.reload()
    assert page.text_content("#tea-club-status").strip() == label(
        page, "tea_club_status", date=_when(app, renewed.next_charge_at, page))
    step("club-renewed")

    # The next month is declined (the bank's fault switch: insufficient funds), and the page
    # says it will be tried again; the customer saves a second card and pays the club with it;
    # the next run, at the retry's time, renews with the new card.
    sandbox.faults.card_decline = 484
    report = halyk_charge_due(app=app, at=renewed.next_charge_at)
    assert report.failed == [sub.id]
    past_due = _club(live_shop)
    assert (past_due.status, past_due.attempts) == ("past_due", 1)
    page.reload()
    assert page.text_content("#tea-club-status").strip() == label(
        page, "tea_club_past_due", date=_when(app, past_due.next_charge_at, page))
    sandbox.faults.card_decline = None
    second = live_shop.ledger(_pay_saving_the_card(page, APPROVED_MASTERCARD))
    assert second.card_id and second.card_id != paid.card_id
    page.goto("/account/cards")
    page.click(".use-for-club")
    page.wait_for_selector("p.flash.info")
    assert page.text_content("p.flash.info") == label(
        page, "tea_club_card_changed", mask=second.card_mask)
    assert _club(live_shop).card_id == second.card_id
    report = halyk_charge_due(app=app, at=past_due.next_charge_at)
    assert report.renewed == [sub.id]
    recovered = _club(live_shop)
    assert (recovered.status, recovered.attempts, recovered.period_index) == ("active", 0, 2)
    renewals = [t for t in sandbox.transactions if t.payment.get("recurrent")]
    assert [(t.status, t.card_id or None) for t in renewals] == [
        ("CHARGE", paid.card_id), ("REJECT", None), ("CHARGE", second.card_id)]
    step("club-recovered")

    # Leaving: the month paid is kept, then charge-due ends the subscription, charging nothing.
    page.reload()
    page.click("#tea-club form button[type=submit]")
    page.wait_for_selector("p.flash.info")
    assert page.text_content("#tea-club-status").strip() == label(
        page, "tea_club_ends", date=_when(app, recovered.next_charge_at, page))
    report = halyk_charge_due(app=app, at=recovered.next_charge_at + timedelta(minutes=1))
    assert report.cancelled == [sub.id] and report.renewed == []
    assert _club(live_shop).status == "cancelled"
    assert len([t for t in sandbox.transactions if t.payment.get("recurrent")]) == 3

    # Removing the first card: deactivated at the bank, gone from the page.
    page.goto("/account/cards")
    assert page.locator("#saved-cards li").count() == 2
    page.locator("#saved-cards li", has_text=paid.card_mask).locator(
        "button", has_text=label(page, "remove_card")).click()
    page.wait_for_selector("p.flash.info")
    assert page.locator("#saved-cards li").count() == 1
    assert page.text_content("#saved-cards .card-mask") == second.card_mask
    assert sandbox.store.saved_cards[paid.card_id].active is False
    step("card-removed")
    assert violations(page) == []
    assert browser_log.csp_problems() == []
    assert browser_log.errors == []


def _when(app: Any, moment: Any, page: Any) -> str:
    """A date as the shop writes it in the page's language."""
    with app.test_request_context("/"):
        return when(moment, LANGUAGES[page.get_attribute("html", "lang")])
