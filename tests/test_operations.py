"""Refund, cancel, charge, reconcile and the status re-check, against the embedded sandbox:
real tokens, the real payment page, postLinks delivered by the sandbox itself."""

from __future__ import annotations

import json
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

from flask_halyk.errors import (
    ApiError,
    HalykError,
    LedgerUnavailable,
    OperationNotRecorded,
    PaymentNotFound,
    PaymentStateError,
)
from flask_halyk.ledger import EventVerdict, PaymentStatus
from flask_halyk.ledger.tables import SCHEMA_VERSION
from flask_halyk.operations import cancel, charge, refund
from flask_halyk.recovery import reconcile
from flask_halyk.state import get_state

S = PaymentStatus
GOOD_CARD = "4405639704015096"
DECLINED_CARD = "4003032704547597"


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


@pytest.fixture(params=[False, True], ids=["postlink", "status-recheck"])
def two_stage_shop(db_url: str, tmp_path: Path, request: pytest.FixtureRequest
                   ) -> Iterator[Flask]:
    # Authorised either way: from HALYK_TWO_STAGE alone, or from the bank's AUTH on re-check.
    app = make_shop(db_url, tmp_path, HALYK_TWO_STAGE=True,
                    HALYK_VERIFY_WITH_STATUS=request.param)
    yield app
    sandbox_of(app).wait_for_postlinks(10)
    close_shop(app)


def pay(app: Flask, amount: int = 100, pan: str = GOOD_CARD) -> str:
    """Create a payment and pay it through the sandbox's own payment page; wait for the
    sandbox's postLink (if it sends one)."""
    halyk = app.extensions["halyk"].extension
    with app.test_request_context("/"):
        payment = halyk.create_payment(amount, description="order")
    sandbox_of(app).pay(payment.to_js(), pan)
    return str(payment.invoice_id)


def test_the_sandbox_postlink_pays_and_refunds_add_up(shop: Flask, signal_log: SignalLog) -> None:
    invoice = pay(shop)
    state = shop.extensions["halyk"]
    assert state.ledger.get(invoice).status is S.PAID
    assert len(signal_log.named("payment_succeeded")) == 1
    with shop.app_context():
        with pytest.raises(PaymentStateError, match="only 100") as over:
            refund(get_state(), invoice, 150)
        # The same reason in parts, for a back office to word in its own language.
        refusal = over.value.refusal
        assert (refusal.code, refusal.operation, refusal.status, refusal.amount, refusal.left) \
            == ("over_left", "refund", S.PAID, Decimal(150), Decimal(100))
        refund(get_state(), invoice, 30)
        assert state.ledger.get(invoice).status is S.PARTIALLY_REFUNDED
        refund(get_state(), invoice)  # the rest
        payment = state.ledger.get(invoice)
        assert payment.status is S.REFUNDED and payment.refunded_amount == Decimal(100)
        with pytest.raises(PaymentStateError):
            refund(get_state(), invoice, 10)
        with pytest.raises(PaymentNotFound):
            refund(get_state(), "999999999")
    amounts = [kw["amount"] for kw in signal_log.named("payment_refunded")]
    assert amounts == [Decimal(30), Decimal(70)]


def test_declined_card_fails_and_cannot_be_refunded(shop: Flask, signal_log: SignalLog) -> None:
    invoice = pay(shop, pan=DECLINED_CARD)
    assert shop.extensions["halyk"].ledger.get(invoice).status is S.FAILED
    assert len(signal_log.named("payment_failed")) == 1
    with shop.app_context(), pytest.raises(PaymentStateError):
        refund(get_state(), invoice)


def test_two_stage_charge_and_cancel(two_stage_shop: Flask, signal_log: SignalLog) -> None:
    app = two_stage_shop
    ledger = app.extensions["halyk"].ledger
    charged, voided = pay(app), pay(app)
    assert ledger.get(charged).status is S.AUTHORIZED
    assert ledger.get(voided).status is S.AUTHORIZED
    assert len(signal_log.named("payment_succeeded")) == 2
    with app.app_context():
        charge(get_state(), charged)
        assert ledger.get(charged).charged_amount == Decimal(100)
        assert ledger.get(charged).status is S.PAID
        with pytest.raises(PaymentStateError):
            charge(get_state(), charged)
        cancel(get_state(), voided)
        assert ledger.get(voided).status is S.CANCELLED
        with pytest.raises(PaymentStateError) as again:
            cancel(get_state(), voided)
        assert (again.value.refusal.code, again.value.refusal.status) == ("state", S.CANCELLED)
    assert len(signal_log.named("payment_charged")) == 1
    assert len(signal_log.named("payment_cancelled")) == 1


def test_the_bank_refusal_is_an_api_error_and_nothing_is_recorded(two_stage_shop: Flask) -> None:
    invoice = pay(two_stage_shop)
    ledger = two_stage_shop.extensions["halyk"].ledger
    with two_stage_shop.app_context():
        # Charged at the bank behind the ledger's back: the ledger still says authorised, so
        # the cancel goes to ePay, which refuses it (CHARGE, not AUTH).
        get_state().client.charge(ledger.get(invoice).transaction_id)
        with pytest.raises(ApiError):
            cancel(get_state(), invoice)
    assert ledger.get(invoice).status is S.AUTHORIZED


def test_the_ledger_refuses_what_it_offers_not(shop: Flask) -> None:
    # One rule for the operations and for what a payment offers: a one-stage payment is taken,
    # so it offers no cancel or charge, and cancel() and charge() refuse it without asking ePay.
    invoice = pay(shop)
    payment = shop.extensions["halyk"].ledger.get(invoice)
    assert payment.status is S.PAID
    assert (payment.can_refund, payment.can_cancel, payment.can_charge) == (True, False, False)
    with shop.app_context():
        for operation in (cancel, charge):
            with pytest.raises(PaymentStateError, match="only an authorised, uncharged"):
                operation(get_state(), invoice)
    assert shop.extensions["halyk"].ledger.get(invoice).status is S.PAID


def test_reconcile_recovers_a_dropped_postlink_once(shop: Flask, signal_log: SignalLog) -> None:
    sandbox_of(shop).faults.drop_postlink = True
    lost = pay(shop)
    declined = pay(shop, pan=DECLINED_CARD)
    never_paid = shop.extensions["halyk"].ledger.create_payment(
        invoice_id=None, amount=Decimal(5), currency="KZT",
        terminal=shop.extensions["halyk"].config.terminal_id).invoice_id
    ledger = shop.extensions["halyk"].ledger
    assert ledger.get(lost).status is S.NEW
    seen: list[tuple[str, str]] = []
    with shop.app_context():
        assert reconcile(get_state(), timedelta(hours=1)).checked == 0
        report = reconcile(get_state(), timedelta(0),
                           progress=lambda p, outcome: seen.append((p.invoice_id, outcome)))
        assert (report.checked, report.changed, report.not_found) == (3, 2, 1)
        again = reconcile(get_state(), timedelta(0))
        assert (again.checked, again.changed) == (1, 0)
    assert ledger.get(lost).status is S.PAID and ledger.get(lost).transaction_id
    assert ledger.get(declined).status is S.FAILED
    assert ledger.get(never_paid).status is S.NEW
    assert {invoice for invoice, _ in seen} == {lost, declined, never_paid}
    [succeeded] = signal_log.named("payment_succeeded")
    assert succeeded["payment"].invoice_id == lost and succeeded["postlink"] is None
    [event] = ledger.events(invoice_id=lost)
    assert event.kind == "status" and event.verdict is EventVerdict.APPLIED
    assert json.loads(event.body)["transaction"]["statusName"] == "CHARGE"
    # The postLink the bank finally delivers changes nothing and fires nothing.
    config = shop.extensions["halyk"].config
    late = shop.test_client().post("/halyk/postlink", json=postlink_for(
        shop, lost, 100, id=ledger.get(lost).transaction_id))
    assert late.status_code == 200
    assert len(signal_log.named("payment_succeeded")) == 1
    assert config.currency == "KZT"


def test_reconcile_counts_an_unreachable_bank_and_retries_later(shop: Flask,
                                                                no_backoff_sleeps: None) -> None:
    sandbox_of(shop).faults.drop_postlink = True
    invoice = pay(shop)
    sandbox_of(shop).faults.status_error = 503
    with shop.app_context():
        report = reconcile(get_state(), timedelta(0))
    assert report.errors == 1 and shop.extensions["halyk"].ledger.get(invoice).status is S.NEW
    sandbox_of(shop).faults.status_error = None
    runner = shop.test_cli_runner()
    result = runner.invoke(args=["halyk", "reconcile", "--older-than", "0s"])
    assert result.exit_code == 0, result.output
    assert invoice in result.output and "1 changed" in result.output
    assert shop.extensions["halyk"].ledger.get(invoice).status is S.PAID


def test_init_db_command(shop: Flask) -> None:
    result = shop.test_cli_runner().invoke(args=["halyk", "init-db"])
    assert result.exit_code == 0 and f"schema version {SCHEMA_VERSION}" in result.output


def test_status_recheck_believes_only_what_the_bank_says(db_url: str, tmp_path: Path,
                                                         signal_log: SignalLog,
                                                         no_backoff_sleeps: None) -> None:
    app = make_shop(db_url, tmp_path, HALYK_VERIFY_WITH_STATUS=True)
    try:
        ledger = app.extensions["halyk"].ledger
        sandbox_of(app).faults.drop_postlink = True
        # Never paid at the bank: a postLink claiming success (genuine hash) is not believed.
        unpaid = ledger.create_payment(invoice_id=None, amount=Decimal(100), currency="KZT",
                                       terminal=app.extensions["halyk"].config.terminal_id)
        claim = app.test_client().post("/halyk/postlink",
                                       json=postlink_for(app, unpaid.invoice_id, 100))
        assert claim.status_code == 403
        assert ledger.get(unpaid.invoice_id).status is S.NEW
        # Paid at the bank, but the bank's status API is down: 503, kept for later.
        paid = pay(app)
        sandbox_of(app).faults.status_error = 503
        body = postlink_for(app, paid, 100)
        down = app.test_client().post("/halyk/postlink", json=body)
        assert down.status_code == 503
        assert ledger.events(invoice_id=paid)[-1].verdict is EventVerdict.DEFERRED
        # The bank answers again: the same postLink is now applied.
        sandbox_of(app).faults.status_error = None
        assert app.test_client().post("/halyk/postlink", json=body).status_code == 200
        assert ledger.get(paid).status is S.PAID
        assert len(signal_log.named("payment_succeeded")) == 1
    finally:
        sandbox_of(app).wait_for_postlinks(10)
        close_shop(app)


def test_a_partial_charge_is_all_there_is_to_refund(two_stage_shop: Flask,
                                                     signal_log: SignalLog) -> None:
    # ePay refunds what it charged, not what was authorised: the ledger must agree.
    app = two_stage_shop
    ledger = app.extensions["halyk"].ledger
    invoice = pay(app)
    with app.app_context():
        charge(get_state(), invoice, 60)
        charged = ledger.get(invoice)
        assert charged.charged_amount == Decimal(60) and charged.refundable_amount == Decimal(60)
        assert charged.can_refund
        with pytest.raises(PaymentStateError, match="only 60"):
            refund(get_state(), invoice, 70)
        refund(get_state(), invoice, 20)
        assert ledger.get(invoice).status is S.PARTIALLY_REFUNDED
        assert ledger.get(invoice).refundable_amount == Decimal(40)
        refund(get_state(), invoice)  # the rest: 40, not the 80 left of the authorisation
    payment = ledger.get(invoice)
    assert payment.status is S.REFUNDED and payment.refunded_amount == Decimal(60)
    assert not payment.can_refund and payment.refundable_amount == 0
    amounts = [kw["amount"] for kw in signal_log.named("payment_refunded")]
    assert amounts == [Decimal(20), Decimal(40)]
    # The bank agrees: nothing is left to refund there either.
    with app.app_context():
        status = get_state().client.status(invoice)
    assert status.status_name == "REFUND"


def test_reconcile_reaches_every_pending_payment_past_the_abandoned_ones(
        shop: Flask, signal_log: SignalLog) -> None:
    # Abandoned checkouts stay new for ever; the payment whose postLink was lost comes after
    # more of them than one page holds, and must still be found.
    ledger = shop.extensions["halyk"].ledger
    terminal = shop.extensions["halyk"].config.terminal_id
    abandoned = [ledger.create_payment(invoice_id=None, amount=Decimal(5), currency="KZT",
                                       terminal=terminal).invoice_id for _ in range(7)]
    sandbox_of(shop).faults.drop_postlink = True
    lost = pay(shop)
    seen: list[str] = []
    with shop.app_context():
        report = reconcile(get_state(), timedelta(0), batch_size=3,
                           progress=lambda p, outcome: seen.append(p.invoice_id))
        assert (report.checked, report.changed, report.not_found) == (8, 1, 7)
        assert seen == [*abandoned, lost]  # oldest first, each once
        capped = reconcile(get_state(), timedelta(0), limit=4, batch_size=3)
        assert capped.checked == 4
    assert ledger.get(lost).status is S.PAID
    assert [p["payment"].invoice_id for p in signal_log.named("payment_succeeded")] == [lost]


def test_a_receiver_raising_during_reconcile_is_reprocessed(shop: Flask,
                                                            signal_log: SignalLog) -> None:
    from flask_halyk import signals
    from flask_halyk.recovery import reprocess

    calls: list[Any] = []
    broken = {"yes": True}

    def receiver(sender: Flask, payment: Any, postlink: Any) -> None:
        calls.append((payment.invoice_id, postlink))
        if broken["yes"]:
            raise RuntimeError("fulfilment is down")

    sandbox_of(shop).faults.drop_postlink = True
    lost = pay(shop)
    ledger = shop.extensions["halyk"].ledger
    signals.payment_succeeded.connect(receiver)
    try:
        with shop.app_context():
            report = reconcile(get_state(), timedelta(0))
            assert (report.changed, report.errors) == (1, 0)
            [event] = ledger.events(invoice_id=lost)
            assert event.kind == "status" and event.verdict is EventVerdict.FAILED
            assert "fulfilment is down" in (event.reason or "")
            assert ledger.get(lost).status is S.PAID  # recorded whatever the receiver did
            broken["yes"] = False
            again = reprocess(get_state())
            assert (again.attempted, again.applied) == (1, 1)
    finally:
        signals.payment_succeeded.disconnect(receiver)
    assert calls == [(lost, None), (lost, None)]  # status news: no postLink to hand over
    assert ledger.events(invoice_id=lost)[0].verdict is EventVerdict.APPLIED


def test_a_refund_the_ledger_cannot_record_is_not_reported_as_failed(
        shop: Flask, monkeypatch: pytest.MonkeyPatch, signal_log: SignalLog) -> None:
    # ePay refunded; then the database fails. A plain LedgerUnavailable would read as "nothing
    # happened" and invite a second refund: the error says the money moved, and carries it.
    invoice = pay(shop)
    ledger = shop.extensions["halyk"].ledger

    def down(*args: Any, **kwargs: Any) -> Any:
        raise LedgerUnavailable("the ledger's database cannot be used (test)")

    monkeypatch.setattr(ledger, "record_refund", down)
    with shop.app_context(), pytest.raises(OperationNotRecorded) as info:
        refund(get_state(), invoice, 40)
    error = info.value
    assert isinstance(error, HalykError) and isinstance(error.__cause__, LedgerUnavailable)
    assert (error.operation, error.invoice_id, error.amount) == ("refund", invoice, Decimal(40))
    assert error.result.operation == "refund" and "Do not repeat it" in str(error)
    transaction = sandbox_of(shop).store.transactions[ledger.get(invoice).transaction_id]
    assert transaction.refunded == Decimal(40)  # the bank did refund
    assert signal_log.named("payment_refunded") == []
    monkeypatch.undo()
    # Recorded by hand once the database is back, as the error says.
    assert ledger.record_refund(invoice, Decimal(40)).payment.refunded_amount == Decimal(40)
