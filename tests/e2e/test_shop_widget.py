"""Paying with ePay's widget (overlay + iframe) in a real browser, on the embedded sandbox."""

from __future__ import annotations

import pytest
from e2e_helpers import (
    APPROVED,
    BLOCKED,
    INSUFFICIENT_FUNDS,
    THREE_DS,
    THREE_DS_CODE,
    assert_reads_as_reloaded,
    confirm_3ds,
    label,
    open_widget,
    pay_with_card,
    place_order,
    shown_status,
    wait_for_status,
)

pytestmark = pytest.mark.browser


def test_widget_payment_with_an_approving_card(page, live_shop, step, browser_log):
    invoice_id = place_order(page, "tea")
    step("order")
    form = open_widget(page)
    step("widget-open")
    assert form.locator("#invoice-id").text_content() == invoice_id
    pay_with_card(form, APPROVED)

    # callBk fired with success: the shop's callback shows it, and the overlay is gone. (The
    # hint may be replaced by the ledger's word already: it need not be visible any more.)
    page.wait_for_selector("#widget-result[data-success='true']", state="attached")
    assert page.text_content("#widget-result") == label(page, "hint_success")
    assert page.locator(".widgetScreen").count() == 0
    step("callback")
    # The status comes from the ledger, which only the postLink updates.
    wait_for_status(page, "paid")
    step("paid")
    # Settled: the page shows it as a reload would, without one.
    page.wait_for_selector("#fulfilled")
    assert not page.is_visible("#widget-result")
    assert page.text_content("#status-message") == label(page, "message_paid")
    assert page.is_visible("#status-message")
    assert page.locator(".pay").count() == 0
    assert not page.is_visible("#retry")
    assert_reads_as_reloaded(page)

    record = live_shop.ledger(invoice_id)
    assert record.status == "paid"
    assert record.card_mask == "440563...5096"
    assert record.transaction_id
    # The on_success receiver fulfilled the order, once.
    assert live_shop.order_by_invoice(invoice_id).fulfilled_at is not None
    page.reload()
    assert shown_status(page) == "paid"
    assert page.is_visible("#fulfilled")
    assert page.locator("#pay-widget").count() == 0
    assert browser_log.errors == []
    # Not even a missing favicon: the console a developer opens is clean.
    assert [m for m in browser_log.console if m.startswith("error:")] == []


@pytest.mark.parametrize(
    ("pan", "reason_code", "reason_key"),
    [(BLOCKED, 465, "reason_card_blocked"),
     (INSUFFICIENT_FUNDS, 484, "reason_insufficient_funds")],
    ids=["blocked", "insufficient-funds"],
)
def test_widget_payment_declined(page, live_shop, step, pan, reason_code, reason_key):
    invoice_id = place_order(page, "baursak")
    form = open_widget(page)
    pay_with_card(form, pan)
    page.wait_for_selector("#widget-result[data-success='false']", state="attached")
    assert page.text_content("#widget-result") == label(page, "hint_failure")
    step("callback")
    wait_for_status(page, "failed")
    # Settled without a reload: the decline and the retry, no pay buttons, no hint.
    page.wait_for_selector("#retry")
    assert page.text_content("#status-message").startswith(label(page, "message_failed") + ": ")
    # Why, in the page's language (the bank's own reason text is English).
    assert page.text_content("#status-message") == (
        f"{label(page, 'message_failed')}: {label(page, reason_key)}.")
    assert not page.is_visible("#widget-result")
    assert page.locator("#pay-widget, #pay-redirect").count() == 0
    assert_reads_as_reloaded(page)
    step("failed")
    assert page.is_visible("#retry")
    assert not page.is_visible("#fulfilled")

    record = live_shop.ledger(invoice_id)
    assert record.status == "failed"
    assert record.reason_code == reason_code
    assert not record.is_paid
    assert live_shop.order_by_invoice(invoice_id).fulfilled_at is None


def test_widget_3d_secure_step_passed(page, live_shop, step):
    invoice_id = place_order(page, "tea")
    form = open_widget(page)
    pay_with_card(form, THREE_DS)
    form.locator("#secure3d-form").wait_for()
    step("3ds")
    confirm_3ds(form, THREE_DS_CODE)
    page.wait_for_selector("#widget-result[data-success='true']", state="attached")
    wait_for_status(page, "paid")
    assert live_shop.ledger(invoice_id).status == "paid"


def test_widget_3d_secure_wrong_code_fails(page, live_shop, step):
    invoice_id = place_order(page, "tea")
    form = open_widget(page)
    pay_with_card(form, THREE_DS)
    form.locator("#secure3d-form").wait_for()
    confirm_3ds(form, "000000")
    page.wait_for_selector("#widget-result[data-success='false']", state="attached")
    step("callback")
    wait_for_status(page, "failed")
    assert page.text_content("#status-message") == (
        f"{label(page, 'message_failed')}: {label(page, 'reason_secure_code')}.")
    record = live_shop.ledger(invoice_id)
    assert record.status == "failed"
    assert record.reason_code == 473
    assert live_shop.order_by_invoice(invoice_id).fulfilled_at is None


def test_retry_after_a_decline_gets_a_new_invoice_and_pays(page, live_shop):
    first = place_order(page, "tea")
    pay_with_card(open_widget(page), BLOCKED)
    wait_for_status(page, "failed")
    page.click("#retry")  # offered as soon as the ledger says failed, without a reload
    page.wait_for_selector("#order[data-status='new']")
    second = page.get_attribute("#order", "data-invoice-id")
    assert second and second != first
    pay_with_card(open_widget(page), APPROVED)
    wait_for_status(page, "paid")
    assert live_shop.ledger(first).status == "failed"
    assert live_shop.ledger(second).status == "paid"


def test_the_order_is_paid_by_the_postlink_not_by_the_widgets_callback(page, live_shop, step):
    """The bank's postLink is lost: the widget says success, yet the order stays unpaid and
    unfulfilled, until the shop learns the outcome from the bank itself (reconcile)."""
    live_shop.sandbox.faults.drop_postlink = True
    invoice_id = place_order(page, "tea")
    pay_with_card(open_widget(page), APPROVED)
    page.wait_for_selector("#widget-result[data-success='true']")
    assert page.text_content("#widget-result") == label(page, "hint_success")
    # Several polls of the shop go by (one a second): the ledger has heard nothing, so the
    # page keeps waiting, whatever the callback said. No race: the postLink is never sent.
    page.wait_for_function("() => new Promise(done => setTimeout(() => done(true), 3000))")
    step("callback-only")
    assert shown_status(page) == "new"
    assert page.is_visible("#widget-result")
    assert live_shop.ledger(invoice_id).status == "new"
    assert live_shop.order_by_invoice(invoice_id).fulfilled_at is None

    # The shop asks ePay (flask halyk reconcile): the page, still polling, shows paid.
    result = live_shop.app.test_cli_runner().invoke(
        args=["halyk", "reconcile", "--older-than", "0s"])
    assert result.exit_code == 0, result.output
    assert f"{invoice_id} " in result.output
    wait_for_status(page, "paid")
    assert live_shop.ledger(invoice_id).status == "paid"
    page.wait_for_selector("#fulfilled")
    assert_reads_as_reloaded(page)
