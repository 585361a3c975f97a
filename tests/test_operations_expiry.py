"""Abandoned checkouts end: reconcile marks a payment ``expired`` once its token expired more
than ``expire_after`` ago and ePay does not know the invoice (102), fires ``payment_expired``
once, and stops asking the bank about it; a late success still pays it.

Against the embedded sandbox (a payment created but never paid: the sandbox answers 102), with
the ledger's clock moved forward; the status calls the sandbox received are counted at its
WSGI entrance. Answers the sandbox cannot give (107, 103, ...) come from pytest-httpserver
standing in for ePay.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
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
from pytest_httpserver import HTTPServer

from flask_halyk import payment_expired
from flask_halyk.errors import InvalidArgument
from flask_halyk.ledger import Change, EventVerdict, PaymentStatus
from flask_halyk.ledger.expiry import ASSUMED_TOKEN_LIFETIME, DEFAULT_EXPIRE_AFTER
from flask_halyk.recovery import ReconcileReport, reconcile, reprocess
from flask_halyk.state import get_state

S = PaymentStatus
GOOD_CARD = "4405639704015096"
TOKEN_LIFETIME = timedelta(seconds=7200)  # the sandbox's expires_in, as ePay's
GRACE = DEFAULT_EXPIRE_AFTER


class Clock:
    """The ledger's clock: the real time, moved forward by ``offset``."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def set_after(self, moment: datetime, delta: timedelta) -> None:
        """Make the ledger's time ``moment + delta``, counted from now."""
        self.offset = moment + delta - datetime.now(UTC)


class StatusCalls:
    """Counts the status calls that reach the sandbox (invoice ids, in order)."""

    def __init__(self, sandbox_app: Flask) -> None:
        self.invoices: list[str] = []
        self._lock = threading.Lock()
        inner = sandbox_app.wsgi_app

        def counting(environ: dict[str, Any], start_response: Any) -> Any:
            path = str(environ.get("PATH_INFO", ""))
            if "/check-status/payment/transaction/" in path:
                with self._lock:
                    self.invoices.append(path.rsplit("/", 1)[-1])
            return inner(environ, start_response)

        sandbox_app.wsgi_app = counting  # type: ignore[method-assign]

    @property
    def count(self) -> int:
        return len(self.invoices)


@pytest.fixture
def signal_log() -> Iterator[SignalLog]:
    log = SignalLog()
    expired: list[dict[str, Any]] = []

    def receive(sender: Any, **kwargs: Any) -> None:
        expired.append(kwargs)

    payment_expired.connect(receive, weak=False)
    log.expired = expired  # type: ignore[attr-defined]
    yield log
    payment_expired.disconnect(receive)
    log.disconnect()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _shop(db_url: str, tmp_path: Path, clock: Clock, **config: Any) -> Flask:
    app = make_shop(db_url, tmp_path, **config)
    app.extensions["halyk"].ledger.clock = clock
    return app


@pytest.fixture
def shop(db_url: str, tmp_path: Path, clock: Clock) -> Iterator[Flask]:
    # No retries and a short read timeout: the fault tests stay quick.
    app = _shop(db_url, tmp_path, clock, HALYK_RETRIES=0, HALYK_TIMEOUT=(2.0, 0.5))
    yield app
    sandbox_of(app).wait_for_postlinks(10)
    close_shop(app)


def create(app: Flask, amount: int = 100) -> Any:
    """A checkout as the shop makes it: recorded, with its token from the sandbox."""
    halyk = app.extensions["halyk"].extension
    with app.test_request_context("/"):
        return halyk.create_payment(amount, description="order")


def pay_page(app: Flask, payment: Any, pan: str = GOOD_CARD) -> None:
    """Pay ``payment`` through the sandbox's own payment page, with its own token."""
    sandbox_of(app).pay(payment.to_js(), pan)


def run(app: Flask, **kwargs: Any) -> ReconcileReport:
    with app.app_context():
        report = reconcile(get_state(), timedelta(minutes=10), **kwargs)
    accounted = (report.changed + report.expired + report.unchanged + report.pending
                 + report.not_found + report.errors)
    assert accounted == report.checked, report
    return report


def test_an_abandoned_checkout_expires_after_the_grace_and_is_not_asked_again(
        shop: Flask, clock: Clock, signal_log: SignalLog) -> None:
    calls = StatusCalls(shop.extensions["halyk"].sandbox)
    ledger = shop.extensions["halyk"].ledger
    before = datetime.now(UTC)
    payment = create(shop)
    record = ledger.get(payment.invoice_id)
    assert record.token_expires_at is not None and payment.token is not None
    assert record.token_expires_at == payment.token.expires_at
    assert before + TOKEN_LIFETIME <= record.token_expires_at <= datetime.now(UTC) \
        + TOKEN_LIFETIME

    # Token expired, grace not over: asked, answered 102, still new.
    clock.set_after(record.token_expires_at, GRACE - timedelta(minutes=1))
    report = run(shop)
    assert (report.checked, report.not_found, report.expired) == (1, 1, 0)
    assert ledger.get(payment.invoice_id).status is S.NEW
    assert calls.invoices == [payment.invoice_id]

    # Grace over: expired, the 102 answer kept as the event that did it, the signal once.
    clock.set_after(record.token_expires_at, GRACE + timedelta(minutes=1))
    seen: list[str] = []
    report = run(shop, progress=lambda p, outcome: seen.append(outcome))
    assert (report.checked, report.expired, report.not_found) == (1, 1, 0)
    assert report.changes == {payment.invoice_id: Change.EXPIRED}
    assert seen and seen[0].startswith("expired")
    expired = ledger.get(payment.invoice_id)
    assert expired.status is S.EXPIRED and expired.paid_at is None
    assert not (expired.is_paid or expired.can_refund or expired.can_charge or expired.can_cancel)
    assert expired.refundable_amount == 0
    [event] = ledger.events(invoice_id=payment.invoice_id)
    assert (event.kind, event.verdict, event.outcome) == ("status", EventVerdict.APPLIED,
                                                          Change.EXPIRED)
    assert str(json.loads(event.body)["resultCode"]) == "102"
    [sent] = signal_log.expired  # type: ignore[attr-defined]
    assert sent["payment"].invoice_id == payment.invoice_id
    assert sent["payment"].status is S.EXPIRED
    assert signal_log.named("payment_failed") == []
    assert calls.count == 2

    # The point: later runs do not ask about it any more, however many.
    clock.offset += timedelta(days=30)
    for _ in range(3):
        assert run(shop).checked == 0
    assert calls.count == 2
    # Unless asked to sweep the expired ones once more: asked, still unknown, nothing fires.
    result = shop.test_cli_runner().invoke(
        args=["halyk", "reconcile", "--include-expired"])
    assert result.exit_code == 0, result.output
    assert "checked 1: 0 changed, 0 expired" in result.output and "1 unknown" in result.output
    assert calls.count == 3 and ledger.get(payment.invoice_id).status is S.EXPIRED
    assert len(signal_log.expired) == 1  # type: ignore[attr-defined]


def test_expiry_counts_from_the_tokens_own_expiry_or_the_assumed_lifetime(
        shop: Flask, clock: Clock) -> None:
    ledger = shop.extensions["halyk"].ledger
    config = shop.extensions["halyk"].config
    # A bank that gave a two-day token, and a payment whose token request never answered.
    long_lived = ledger.create_payment(invoice_id=None, amount=Decimal(5), currency="KZT",
                                       terminal=config.terminal_id)
    long_expiry = long_lived.created_at + timedelta(days=2)
    assert ledger.record_token(long_lived.invoice_id, long_expiry).token_expires_at \
        == long_expiry
    # Only the first token counts (flask-halyk never asks for a second).
    assert ledger.record_token(long_lived.invoice_id, long_expiry + timedelta(days=9)) \
        .token_expires_at == long_expiry
    no_token = ledger.create_payment(invoice_id=None, amount=Decimal(5), currency="KZT",
                                     terminal=config.terminal_id)
    assert no_token.token_expires_at is None

    clock.set_after(no_token.created_at, ASSUMED_TOKEN_LIFETIME + GRACE - timedelta(minutes=1))
    assert run(shop).expired == 0
    clock.set_after(no_token.created_at, ASSUMED_TOKEN_LIFETIME + GRACE + timedelta(minutes=1))
    assert run(shop).changes == {no_token.invoice_id: Change.EXPIRED}
    assert ledger.get(long_lived.invoice_id).status is S.NEW  # its token lived on
    clock.set_after(long_expiry, GRACE + timedelta(minutes=1))
    assert run(shop).changes == {long_lived.invoice_id: Change.EXPIRED}
    # A shorter grace expires sooner; None never expires.
    third = ledger.create_payment(invoice_id=None, amount=Decimal(5), currency="KZT",
                                  terminal=config.terminal_id)
    clock.set_after(third.created_at, ASSUMED_TOKEN_LIFETIME + timedelta(hours=2))
    assert run(shop, expire_after=None).expired == 0
    assert run(shop).expired == 0
    assert run(shop, expire_after=timedelta(hours=1)).expired == 1
    with pytest.raises(InvalidArgument):
        run(shop, expire_after=timedelta(seconds=-1))


@pytest.mark.parametrize("fault", [
    {"status_error": 503}, {"status_error": 500}, {"status_error": 404},
    {"status_delay": 1.5}, {"status_garbage": True},
], ids=["503", "500", "404", "timeout", "garbage"])
def test_never_expired_when_the_bank_could_not_answer(
        shop: Flask, clock: Clock, signal_log: SignalLog, fault: dict[str, Any]) -> None:
    calls = StatusCalls(shop.extensions["halyk"].sandbox)
    ledger = shop.extensions["halyk"].ledger
    payment = create(shop)
    clock.set_after(ledger.get(payment.invoice_id).token_expires_at, timedelta(days=10))
    sandbox_of(shop).faults.update(fault)
    report = run(shop)
    assert (report.checked, report.errors, report.expired) == (1, 1, 0)
    assert ledger.get(payment.invoice_id).status is S.NEW
    assert signal_log.expired == []  # type: ignore[attr-defined]
    assert calls.count == 1
    result = shop.test_cli_runner().invoke(args=["halyk", "reconcile"])
    assert result.exit_code == 1 and "1 errors" in result.output
    assert ledger.get(payment.invoice_id).status is S.NEW
    sandbox_of(shop).faults.reset()  # the bank answers again: now it expires
    assert run(shop).expired == 1
    assert len(signal_log.expired) == 1  # type: ignore[attr-defined]


def test_a_late_genuine_postlink_pays_an_expired_payment_once(
        shop: Flask, clock: Clock, signal_log: SignalLog) -> None:
    calls = StatusCalls(shop.extensions["halyk"].sandbox)
    ledger = shop.extensions["halyk"].ledger
    payment = create(shop)
    clock.set_after(ledger.get(payment.invoice_id).token_expires_at, GRACE + timedelta(hours=1))
    assert run(shop).expired == 1
    # The customer pays with the payment's own token after all (the bank accepted it), and the
    # bank delivers its postLink twice.
    sandbox_of(shop).faults.duplicate_postlink = True
    pay_page(shop, payment)
    deliveries = [d for d in sandbox_of(shop).deliveries
                  if d.body.get("invoiceId") == payment.invoice_id]
    assert len(deliveries) == 2 and {d.status for d in deliveries} == {200}
    paid = ledger.get(payment.invoice_id)
    assert paid.status is S.PAID and paid.transaction_id and paid.paid_at is not None
    assert paid.can_refund
    [succeeded] = signal_log.named("payment_succeeded")
    assert succeeded["payment"].invoice_id == payment.invoice_id
    assert succeeded["postlink"] is not None
    verdicts = sorted(e.verdict for e in ledger.events(invoice_id=payment.invoice_id)
                      if e.kind != "status")
    assert verdicts == sorted([EventVerdict.APPLIED, EventVerdict.DUPLICATE])
    # Paid, so no longer anyone's business for reconcile, with or without expired ones.
    before = calls.count
    assert run(shop, include_expired=True).checked == 0
    assert calls.count == before
    assert len(signal_log.expired) == 1  # type: ignore[attr-defined]


def test_a_late_success_found_by_the_expired_sweep_is_recorded_once(
        shop: Flask, clock: Clock, signal_log: SignalLog) -> None:
    ledger = shop.extensions["halyk"].ledger
    payment = create(shop)
    clock.set_after(ledger.get(payment.invoice_id).token_expires_at, GRACE + timedelta(hours=1))
    assert run(shop).expired == 1
    sandbox_of(shop).faults.drop_postlink = True  # paid, but the postLink is lost
    pay_page(shop, payment)
    assert ledger.get(payment.invoice_id).status is S.EXPIRED
    assert run(shop).checked == 0  # the plain run does not look
    report = run(shop, include_expired=True)
    assert (report.checked, report.changed) == (1, 1)
    assert report.changes == {payment.invoice_id: Change.SUCCEEDED}
    assert ledger.get(payment.invoice_id).status is S.PAID
    assert len(signal_log.named("payment_succeeded")) == 1
    assert run(shop, include_expired=True).checked == 0


def test_a_late_failure_leaves_an_expired_payment_expired(
        shop: Flask, clock: Clock, signal_log: SignalLog) -> None:
    ledger = shop.extensions["halyk"].ledger
    payment = create(shop)
    clock.set_after(ledger.get(payment.invoice_id).token_expires_at, GRACE + timedelta(hours=1))
    assert run(shop).expired == 1
    answer = shop.test_client().post("/halyk/failure-postlink", json=postlink_for(
        shop, payment.invoice_id, 100, success=False))
    assert answer.status_code == 200
    assert ledger.get(payment.invoice_id).status is S.EXPIRED
    [late] = [e for e in ledger.events(invoice_id=payment.invoice_id) if e.kind != "status"]
    assert late.verdict is EventVerdict.STALE and late.outcome is None
    assert signal_log.named("payment_failed") == []
    # A success after that still counts.
    answer = shop.test_client().post("/halyk/postlink", json=postlink_for(
        shop, payment.invoice_id, 100))
    assert answer.status_code == 200
    assert ledger.get(payment.invoice_id).status is S.PAID
    assert len(signal_log.named("payment_succeeded")) == 1


def test_a_raising_expiry_receiver_is_run_again_by_reprocess(
        shop: Flask, clock: Clock) -> None:
    ledger = shop.extensions["halyk"].ledger
    calls: list[str] = []

    def flaky(sender: Any, payment: Any) -> None:
        calls.append(payment.invoice_id)
        if len(calls) == 1:
            raise RuntimeError("stock service down")

    payment_expired.connect(flaky, weak=False)
    try:
        payment = create(shop)
        clock.set_after(ledger.get(payment.invoice_id).token_expires_at,
                        GRACE + timedelta(hours=1))
        assert run(shop).expired == 1  # the receiver's failure does not undo the expiry
        assert ledger.get(payment.invoice_id).status is S.EXPIRED
        [event] = ledger.events(invoice_id=payment.invoice_id)
        assert event.verdict is EventVerdict.FAILED and "stock service down" in event.reason
        with shop.app_context():
            done = reprocess(get_state())
        assert (done.attempted, done.applied) == (1, 1)
        assert calls == [payment.invoice_id, payment.invoice_id]
        assert ledger.get_event(event.id).verdict is EventVerdict.APPLIED
    finally:
        payment_expired.disconnect(flaky)


def test_concurrent_reconciles_expire_a_payment_once(
        shop: Flask, clock: Clock, signal_log: SignalLog) -> None:
    ledger = shop.extensions["halyk"].ledger
    payments = [create(shop) for _ in range(4)]
    clock.set_after(max(ledger.get(p.invoice_id).token_expires_at for p in payments),
                    GRACE + timedelta(hours=1))
    barrier = threading.Barrier(3)
    reports: list[ReconcileReport] = []

    def one_run() -> None:
        barrier.wait(10)
        reports.append(run(shop))

    threads = [threading.Thread(target=one_run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(reports) == 3 and sum(r.errors for r in reports) == 0
    assert sum(r.expired for r in reports) == 4
    assert sorted(kw["payment"].invoice_id for kw in signal_log.expired) == sorted(  # type: ignore[attr-defined]
        p.invoice_id for p in payments)
    assert all(ledger.get(p.invoice_id).status is S.EXPIRED for p in payments)


def test_the_cli_takes_expire_after_and_never(shop: Flask, clock: Clock) -> None:
    ledger = shop.extensions["halyk"].ledger
    payment = create(shop)
    clock.set_after(ledger.get(payment.invoice_id).token_expires_at, timedelta(hours=30))
    runner = shop.test_cli_runner()
    result = runner.invoke(args=["halyk", "reconcile", "--expire-after", "never"])
    assert result.exit_code == 0 and "0 expired" in result.output, result.output
    result = runner.invoke(args=["halyk", "reconcile", "--expire-after", "48h"])
    assert result.exit_code == 0 and "0 expired" in result.output, result.output
    result = runner.invoke(args=["halyk", "reconcile", "--expire-after", "soon"])
    assert result.exit_code == 2 and "duration" in result.output
    assert ledger.get(payment.invoice_id).status is S.NEW
    result = runner.invoke(args=["halyk", "reconcile", "--expire-after", "29h"])
    assert result.exit_code == 0 and "1 expired" in result.output, result.output
    assert f"{payment.invoice_id}" in result.output
    assert ledger.get(payment.invoice_id).status is S.EXPIRED


# -- answers the sandbox cannot give: ePay played by pytest-httpserver -------------------------

TOKEN = {"access_token": "svc-token", "expires_in": "7200", "refresh_token": "",
         "scope": "payment", "token_type": "Bearer"}


def _transaction(invoice_id: str, status_name: str) -> dict[str, Any]:
    return {"id": "7e6b2a1c-4a59-4d4a-9c1e-3b3c0f0f0f0f", "invoiceID": invoice_id,
            "amount": 5, "currency": "KZT", "terminalID": "t", "statusName": status_name}


@pytest.mark.parametrize("answer, expect", [
    (lambda i: {"resultCode": "107", "resultMessage": "in progress"}, "pending"),
    (lambda i: {"resultCode": "103", "resultMessage": "error"}, "errors"),
    (lambda i: {"resultCode": "555", "resultMessage": "something new"}, "not_found"),
    (lambda i: {"resultCode": "101", "resultMessage": "rejected"}, "not_found"),
    (lambda i: {"resultCode": "100", "resultMessage": "success",
                "transaction": _transaction(i, "NEW")}, "pending"),
    (lambda i: {"resultCode": "102", "resultMessage": "not found",
                "transaction": _transaction(i, "3D")}, "not_found"),
], ids=["107", "103", "unknown-code", "101-without-transaction", "NEW", "102-with-transaction"])
def test_only_a_clear_not_found_expires(
        db_url: str, tmp_path: Path, clock: Clock, httpserver: HTTPServer,
        signal_log: SignalLog, answer: Callable[[str], dict[str, Any]], expect: str) -> None:
    app = _shop(db_url, tmp_path, clock, HALYK_SANDBOX_URL=httpserver.url_for("/").rstrip("/"),
                HALYK_RETRIES=0)
    try:
        ledger = app.extensions["halyk"].ledger
        made = ledger.create_payment(invoice_id=None, amount=Decimal(5), currency="KZT",
                                     terminal="t")
        httpserver.expect_request("/oauth2/token", method="POST").respond_with_json(TOKEN)
        httpserver.expect_request(f"/check-status/payment/transaction/{made.invoice_id}") \
            .respond_with_json(answer(made.invoice_id))
        clock.set_after(made.created_at, timedelta(days=30))
        report = run(app)
        assert report.checked == 1 and getattr(report, expect) == 1, report
        assert report.expired == 0 and ledger.get(made.invoice_id).status is S.NEW
        assert signal_log.expired == []  # type: ignore[attr-defined]
        # The same bank saying a clear 102 does expire it.
        httpserver.clear()
        httpserver.expect_request("/oauth2/token", method="POST").respond_with_json(TOKEN)
        httpserver.expect_request(f"/check-status/payment/transaction/{made.invoice_id}") \
            .respond_with_json({"resultCode": "102", "resultMessage": "not found"})
        assert run(app).expired == 1
    finally:
        close_shop(app)
