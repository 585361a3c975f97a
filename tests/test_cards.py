"""Saved cards end to end through the embedded sandbox: saving while paying, verification
without a charge, listing, syncing with the bank's list, removing, and charging a saved card,
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from ledger_support import (
    BACKENDS,
    SignalLog,
    close_shop,
    database_url,
    make_shop,
    postlink_for,
    sandbox_of,
)

from flask_halyk import (
    CardAccountMismatch,
    CardUnavailable,
    EpayTimeout,
    InvalidPayment,
    RecurringNotAllowed,
    SavedCard,
    ThreeDSecureRequired,
)
from flask_halyk.ledger import Change, PaymentStatus
from flask_halyk.recovery import reconcile
from flask_halyk.sandbox.cards import APPROVED_CARD, INSUFFICIENT_FUNDS_CARD
from flask_halyk.state import get_state

S = PaymentStatus
ACCOUNT = "shopper-1"


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def shop(db_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = make_shop(db_url, tmp_path)
    yield app
    sandbox_of(app).wait_for_postlinks(10)
    close_shop(app)


def halyk(app: Flask) -> Any:
    return app.extensions["halyk"].extension


def saved_card(app: Flask, *, account_id: str = ACCOUNT, pan: str = APPROVED_CARD,
               save: bool = True) -> str:
    """Pay 100 with ``save_card=True`` through the sandbox's page; the invoice id."""
    with app.test_request_context("/"):
        payment = halyk(app).create_payment(100, description="order", account_id=account_id,
                                            save_card=True)
    assert payment.to_js()["cardSave"] is True
    sandbox_of(app).pay(payment.to_js(), pan, save_card=save)
    return str(payment.invoice_id)


def test_a_payment_that_saves_the_card_keeps_it_for_the_account(
        shop: Flask, signal_log: SignalLog) -> None:
    invoice = saved_card(shop)
    with shop.app_context():
        [card] = halyk(shop).cards(ACCOUNT)
        assert halyk(shop).cards("someone-else") == []
    payment = shop.extensions["halyk"].ledger.get(invoice)
    assert payment.status is S.PAID and payment.card_id == card.card_id and payment.card_save
    assert (card.account_id, card.card_mask, card.card_type, card.issuer, card.invoice_id) == (
        ACCOUNT, "440563...5096", "VISA", "JSC HALYK BANK", invoice)
    assert card.is_active and card.can_pay and card.payment_available is None
    # No PAN, no CVC: only what the postLink said.
    assert "5096" in (card.card_mask or "") and APPROVED_CARD not in repr(card)
    assert len(signal_log.named("payment_succeeded")) == 1
    # card_saved follows payment_succeeded, once, for the payment that kept the card.
    [saved] = signal_log.named("card_saved")
    assert saved["payment"].invoice_id == invoice and saved["payment"].card_id == card.card_id
    assert [name for name, _, _ in signal_log.sent][-2:] == ["payment_succeeded", "card_saved"]


def test_a_card_id_the_shop_did_not_ask_to_keep_is_not_saved(shop: Flask,
                                                            signal_log: SignalLog) -> None:
    """Only a payment created with save_card keeps its card, whatever a postLink carries."""
    with shop.test_request_context("/"):
        payment = halyk(shop).create_payment(100, description="order", account_id=ACCOUNT)
    assert "cardSave" not in payment.to_js()
    body = postlink_for(shop, payment.invoice_id, 100, accountId=ACCOUNT,
                        cardId="22f2c5db-64d8-475f-8066-af3de3dc8233")
    assert shop.test_client().post("/halyk/postlink", json=body).status_code == 200
    record = shop.extensions["halyk"].ledger.get(payment.invoice_id)
    assert record.status is S.PAID and record.card_id == body["cardId"]
    assert not record.card_save
    with shop.app_context():
        assert halyk(shop).cards(ACCOUNT) == []
    assert signal_log.named("card_saved") == []


def test_an_unticked_box_or_no_account_saves_nothing(shop: Flask,
                                                     signal_log: SignalLog) -> None:
    invoice = saved_card(shop, save=False)
    assert shop.extensions["halyk"].ledger.get(invoice).card_id is None
    with shop.app_context():
        assert halyk(shop).cards(ACCOUNT) == []
    assert len(signal_log.named("payment_succeeded")) == 1
    assert signal_log.named("card_saved") == []
    with shop.test_request_context("/"), pytest.raises(InvalidPayment) as refused:
        halyk(shop).create_payment(100, description="order", save_card=True)
    assert "account_id" in refused.value.messages


@pytest.mark.parametrize("recheck", [False, True], ids=["postlink", "status-recheck"])
def test_a_card_verification_is_verified_not_paid(db_url: str, tmp_path: Path,
                                                  signal_log: SignalLog, recheck: bool) -> None:
    app = make_shop(db_url, tmp_path, HALYK_VERIFY_WITH_STATUS=recheck)
    try:
        with app.test_request_context("/"):
            payment = halyk(app).verify_card(account_id=ACCOUNT, description="add a card")
        assert payment.amount == 0 and payment.to_js()["amount"] == 0
        result = sandbox_of(app).pay(payment.to_js(), APPROVED_CARD)
        assert result.status == "VERIFIED"
        record = app.extensions["halyk"].ledger.get(payment.invoice_id)
        assert record.status is S.VERIFIED and not record.is_paid and not record.can_refund
        with app.app_context():
            [card] = halyk(app).cards(ACCOUNT)
        assert card.card_id == record.card_id
        assert [kw["payment"].invoice_id for kw in signal_log.named("card_saved")] == [
            payment.invoice_id]
        assert signal_log.named("payment_succeeded") == []
    finally:
        sandbox_of(app).wait_for_postlinks(10)
        close_shop(app)


def test_amount_zero_without_save_card_is_refused(shop: Flask) -> None:
    with shop.test_request_context("/"), pytest.raises(InvalidPayment) as refused:
        halyk(shop).create_payment(0, description="order", account_id=ACCOUNT)
    assert "amount" in refused.value.messages


def test_charge_card_pays_once_with_the_saved_card(shop: Flask, signal_log: SignalLog) -> None:
    saved_card(shop)
    with shop.app_context():
        [card] = halyk(shop).cards(ACCOUNT)
        paid = halyk(shop).charge_card(card, Decimal("250.50"), description="repeat order",
                                       account_id=ACCOUNT, recurrent=True)
    sandbox_of(shop).wait_for_postlinks(10)
    ledger = shop.extensions["halyk"].ledger
    record = ledger.get(paid.invoice_id)
    assert record.status is S.PAID and record.amount == Decimal("250.50")
    assert record.card_id == card.card_id and record.account_id == ACCOUNT
    assert record.transaction_id and record.can_refund
    # The card still names the payment that saved it.
    assert ledger.card(card.card_id).invoice_id == card.invoice_id != paid.invoice_id
    sent = sandbox_of(shop).transactions[-1]
    assert (sent.status, sent.card_id, sent.payment["recurrent"]) == (
        "CHARGE", card.card_id, True)
    assert sent.payment["paymentType"] == "cardId"
    assert sent.payment["cardId"] == {"id": card.card_id}
    # The answer and the sandbox's postLink both reached the ledger: one change, one signal.
    kinds = sorted(e.kind for e in ledger.events(invoice_id=paid.invoice_id))
    assert kinds == ["card_payment", "postlink"]
    succeeded = [kw["payment"].invoice_id for kw in signal_log.named("payment_succeeded")]
    assert succeeded.count(paid.invoice_id) == 1


def test_a_declined_saved_card_fails_the_payment(shop: Flask, signal_log: SignalLog) -> None:
    saved_card(shop)
    with shop.app_context():
        [card] = halyk(shop).cards(ACCOUNT)
    # The bank no longer pays with it, and the ledger has not synced yet.
    next(iter(sandbox_of(shop).store.saved_cards.values())).payment_available = False
    with shop.app_context():
        failed = halyk(shop).charge_card(card.card_id, 100, description="renewal")
    assert failed.status is S.FAILED and failed.reason_code == 485
    sandbox_of(shop).wait_for_postlinks(10)
    assert [kw["payment"].invoice_id for kw in signal_log.named("payment_failed")] == [
        failed.invoice_id]
    with shop.app_context():
        [synced] = halyk(shop).sync_cards(ACCOUNT)
        assert synced.payment_available is False and not synced.can_pay
        before = len(sandbox_of(shop).transactions)
        with pytest.raises(CardUnavailable):
            halyk(shop).charge_card(synced, 100, description="renewal")
    assert len(sandbox_of(shop).transactions) == before


def test_what_a_shop_can_act_on_is_refused_before_the_bank(shop: Flask) -> None:
    saved_card(shop)
    ledger = shop.extensions["halyk"].ledger
    with shop.app_context():
        [card] = halyk(shop).cards(ACCOUNT)
        count = ledger.count()
        tokens = len(sandbox_of(shop).store.tokens)
        with pytest.raises(CardAccountMismatch):
            halyk(shop).charge_card(card, 100, description="x", account_id="intruder")
        with pytest.raises(CardAccountMismatch):
            halyk(shop).remove_card(card, account_id="intruder")
        assert ledger.count() == count and len(sandbox_of(shop).store.tokens) == tokens

        removed = halyk(shop).remove_card(card, account_id=ACCOUNT)
        assert not removed.is_active and removed.deactivated_at is not None
        assert halyk(shop).cards(ACCOUNT) == []
        assert not sandbox_of(shop).store.saved_cards[card.card_id].active
        with pytest.raises(CardUnavailable):
            halyk(shop).charge_card(card, 100, description="x")
        assert halyk(shop).remove_card(card).status == "deactivated"  # once is enough
        # The bank lists none any more: code 1373 is an empty list.
        assert halyk(shop).sync_cards(ACCOUNT) == []


def test_a_terminal_without_recurring_rights_or_with_3ds(shop: Flask) -> None:
    saved_card(shop)
    options = sandbox_of(shop).options
    ledger = shop.extensions["halyk"].ledger
    with shop.app_context():
        [card] = halyk(shop).cards(ACCOUNT)
        options.card_payments_allowed = False
        with pytest.raises(RecurringNotAllowed) as refused:
            halyk(shop).charge_card(card, 100, description="x")
        assert refused.value.code == 464 and refused.value.card_id == card.card_id
        options.card_payments_allowed = True
        options.card_payment_three_ds = True
        with pytest.raises(ThreeDSecureRequired) as step:
            halyk(shop).charge_card(card, 100, description="x",
                                    back_link="http://shop.test/orders/7")
    needed = step.value
    # The browser reaches the embedded sandbox's issuer page in the shop, under its prefix.
    assert needed.action == "/halyk-sandbox/payform/acs" and needed.pa_req and needed.md
    assert needed.term_url == "http://shop.test/orders/7"
    assert ledger.get(needed.invoice_id).status is S.NEW
    client = shop.test_client()
    page = client.post(needed.action, data={"PaReq": needed.pa_req, "MD": needed.md,
                                            "TermUrl": needed.term_url})
    assert page.status_code == 200 and b"acs-form" in page.data
    done = client.post("/halyk-sandbox/payform/acs/confirm",
                       data={"MD": needed.md, "code": "123456"})
    assert done.status_code == 200 and b'data-success="true"' in done.data
    assert b'action="http://shop.test/orders/7"' in done.data
    sandbox_of(shop).wait_for_postlinks(10)
    record = ledger.get(needed.invoice_id)
    assert record.status is S.PAID and record.card_id == card.card_id
    # Each step once.
    again = client.post("/halyk-sandbox/payform/acs/confirm",
                        data={"MD": needed.md, "code": "123456"})
    assert again.status_code == 404


def test_sync_keeps_the_bank_list_and_drops_what_it_no_longer_lists(shop: Flask) -> None:
    saved_card(shop)
    saved_card(shop, pan="5522042705066736")
    saved_card(shop, account_id="shopper-2")
    with shop.app_context():
        first, second = halyk(shop).cards(ACCOUNT)
        assert (first.card_type, second.card_type) == ("VISA", "MASTERCARD")
        sandbox_of(shop).store.saved_cards[second.card_id].active = False
        [kept] = halyk(shop).sync_cards(ACCOUNT)
        assert kept.card_id == first.card_id and kept.payment_available is True
        assert [c.status for c in shop.extensions["halyk"].ledger.cards(
            ACCOUNT, include_inactive=True)] == ["active", "deactivated"]
        assert len(halyk(shop).cards("shopper-2")) == 1
        assert isinstance(kept, SavedCard)


def test_a_declined_payment_saves_no_card(shop: Flask) -> None:
    invoice = saved_card(shop, pan=INSUFFICIENT_FUNDS_CARD)
    assert shop.extensions["halyk"].ledger.get(invoice).status is S.FAILED
    with shop.app_context():
        assert halyk(shop).cards(ACCOUNT) == []


def test_a_charge_whose_answer_was_lost_is_settled_by_reconcile(
        shop: Flask, signal_log: SignalLog, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bank charged, its answer and its postLink never came: the payment stays ``new``,
    the error says so, and reconcile records it once."""
    saved_card(shop)
    sandbox_of(shop).wait_for_postlinks(10)
    state = shop.extensions["halyk"]
    real = state.client.card_payment

    def lost(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)  # the bank did it...
        raise EpayTimeout("ePay did not answer the payment with a saved card", deadline=1)

    monkeypatch.setattr(state.client, "card_payment", lost)
    sandbox_of(shop).faults.drop_postlink = True
    with shop.app_context():
        [card] = halyk(shop).cards(ACCOUNT)
        with pytest.raises(EpayTimeout):
            halyk(shop).charge_card(card, 300, description="renewal")
    [pending] = [p for p in state.ledger.query() if p.status is S.NEW]
    assert pending.amount == Decimal(300) and pending.account_id == ACCOUNT
    with shop.app_context():
        report = reconcile(get_state(), older_than=timedelta(0))
        assert report.changes == {pending.invoice_id: Change.SUCCEEDED}
        assert reconcile(get_state(), older_than=timedelta(0)).changes == {}
    record = state.ledger.get(pending.invoice_id)
    assert record.status is S.PAID and record.card_id == card.card_id
    succeeded = [kw["payment"].invoice_id for kw in signal_log.named("payment_succeeded")]
    assert succeeded.count(pending.invoice_id) == 1


def test_a_card_saved_receiver_that_raises_is_run_again_by_reprocess(shop: Flask) -> None:
    """With only a card_saved receiver connected, the paid payment's event still goes
    through the receivers' claim: a receiver that raised leaves it failed for reprocess."""
    from flask_halyk import card_saved
    from flask_halyk.ledger import EventVerdict
    from flask_halyk.recovery import reprocess
    from flask_halyk.state import get_state

    calls: list[str] = []

    def receiver(sender: Any, payment: Any, **extra: Any) -> None:
        calls.append(payment.invoice_id)
        if len(calls) == 1:
            raise RuntimeError("the mail server is down")

    card_saved.connect(receiver, shop)
    try:
        invoice = saved_card(shop)
        sandbox_of(shop).wait_for_postlinks(10)
        ledger = shop.extensions["halyk"].ledger
        [event] = ledger.attention_events().events
        assert (event.invoice_id, event.verdict) == (invoice, EventVerdict.FAILED)
        with shop.app_context():
            assert reprocess(get_state(shop)).applied == 1
        assert calls == [invoice, invoice]
        assert ledger.attention_events().events == []
    finally:
        card_saved.disconnect(receiver, shop)
