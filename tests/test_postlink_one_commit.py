"""One durable commit per postLink (status re-check off): the raw event stored and applied in
one transaction, a refusal stored with its verdict in one INSERT, the ``applied`` verdict
written with the change when no receiver is connected, and nothing lost when that one
transaction fails. Counted with SQLAlchemy's events on both backends; nothing timed."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import blinker
import pytest
from flask import Flask
from flask.testing import FlaskClient
from ledger_support import BACKENDS, backend_shop, ledger_of, new_payment, postlink_for
from sqlalchemy import event

from flask_halyk import signals
from flask_halyk.dispatch import dispatch_event
from flask_halyk.epay import ResultCode, StatusName, StatusResult, Transaction
from flask_halyk.errors import EpayTimeout
from flask_halyk.ledger import Change, EventVerdict, PaymentStatus
from flask_halyk.postlink import views
from flask_halyk.postlink.verification import order_mismatch
from flask_halyk.recovery import reprocess

S = PaymentStatus


@pytest.fixture(params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    with backend_shop(request.param, tmp_path) as app:
        yield app


@pytest.fixture(autouse=True)
def quiet_signals(monkeypatch: pytest.MonkeyPatch) -> None:
    """Signals of their own: receivers other tests of this process left connected (apps'
    ``on_success`` relays) must not decide whether these postLinks find a receiver."""
    for name in ("payment_succeeded", "payment_failed", "payment_charged",
                 "payment_cancelled", "payment_refunded", "payment_expired"):
        monkeypatch.setattr(signals, name, blinker.Signal(name))


@pytest.fixture
def commits(app: Flask) -> Iterator[Counter[str]]:
    """The ledger's commits and connection checkouts, counted from now on."""
    engine = ledger_of(app).engine
    counts: Counter[str] = Counter()

    def on_commit(*_: Any) -> None:
        counts["commits"] += 1

    def on_checkout(*_: Any) -> None:
        counts["checkouts"] += 1

    event.listen(engine, "commit", on_commit)
    event.listen(engine, "checkout", on_checkout)
    yield counts
    event.remove(engine, "commit", on_commit)
    event.remove(engine, "checkout", on_checkout)


def post(client: FlaskClient, body: dict[str, Any], path: str = "/halyk/postlink") -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def test_genuine_without_receivers_is_one_commit_and_applied(
        app: Flask, client: FlaskClient, commits: Counter[str]) -> None:
    invoice = new_payment(app)
    ledger_of(app).get(invoice)  # the schema checked before counting
    commits.clear()
    assert post(client, postlink_for(app, invoice, 100)).status_code == 200
    assert commits == {"commits": 1, "checkouts": 1}
    assert ledger_of(app).get(invoice).status is S.PAID
    [stored] = ledger_of(app).events(invoice_id=invoice)
    assert stored.verdict is EventVerdict.APPLIED and stored.outcome is Change.SUCCEEDED
    assert stored.lease_until is None


def test_genuine_with_a_receiver_claims_then_ends(
        app: Flask, client: FlaskClient, commits: Counter[str]) -> None:
    invoice = new_payment(app)
    seen: list[EventVerdict] = []

    def receiver(sender: Any, payment: Any, **_: Any) -> None:
        # While the receiver runs, its event is claimed (leased), not yet applied.
        [running] = ledger_of(app).events(invoice_id=payment.invoice_id)
        assert running.lease_until is not None
        seen.append(running.verdict)

    signals.payment_succeeded.connect(receiver, app, weak=False)
    try:
        commits.clear()
        assert post(client, postlink_for(app, invoice, 100)).status_code == 200
    finally:
        signals.payment_succeeded.disconnect(receiver, app)
    assert seen == [EventVerdict.DISPATCHING]
    assert commits["commits"] == 2  # the change with its claim, then the receivers' verdict
    [stored] = ledger_of(app).events(invoice_id=invoice)
    assert stored.verdict is EventVerdict.APPLIED and stored.lease_until is None


@pytest.mark.parametrize("kind", ["duplicate", "forged", "unknown", "malformed"])
def test_refusals_and_copies_are_one_commit(
        app: Flask, client: FlaskClient, commits: Counter[str], kind: str) -> None:
    invoice = new_payment(app)
    body = postlink_for(app, invoice, 100)
    assert post(client, body).status_code == 200
    if kind == "forged":
        body = dict(body, secret_hash="0" * len(body["secret_hash"]))
    elif kind == "unknown":
        other = "100999999"
        body = postlink_for(app, other, 100)
        invoice = other
    elif kind == "malformed":
        body = dict(body, amount="a lot")
    commits.clear()
    answer = post(client, body)
    expected = {"duplicate": (200, EventVerdict.DUPLICATE), "forged": (403, EventVerdict.REJECTED),
                "unknown": (403, EventVerdict.REJECTED),
                "malformed": (400, EventVerdict.MALFORMED)}[kind]
    assert answer.status_code == expected[0]
    assert commits == {"commits": 1, "checkouts": 1}
    last = ledger_of(app).events()[-1]
    assert last.verdict is expected[1] and json.loads(last.body) == body
    assert last.invoice_id == invoice
    assert ledger_of(app).get(last.invoice_id) is None or \
        ledger_of(app).get(invoice).status is S.PAID


def test_a_failed_transaction_keeps_the_raw_event_and_applies_nothing(
        app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    invoice = new_payment(app)
    body = postlink_for(app, invoice, 100)

    def broken(postlink: Any, payment: Any) -> str | None:
        raise RuntimeError("verification broke")

    monkeypatch.setattr(views, "order_mismatch", broken)
    with pytest.raises(RuntimeError):
        post(client, body)  # the app propagates it under test; the bank would get a 500
    assert ledger_of(app).get(invoice).status is S.NEW
    [kept] = ledger_of(app).events(invoice_id=invoice)
    assert kept.verdict is EventVerdict.RECEIVED and json.loads(kept.body) == body
    assert kept.reason == "not applied: RuntimeError"
    # The bank's retry, once the fault is gone, applies it.
    monkeypatch.setattr(views, "order_mismatch", order_mismatch)
    assert post(client, body).status_code == 200
    assert ledger_of(app).get(invoice).status is S.PAID


def test_a_receiver_connected_after_the_change_still_runs_and_a_failure_is_reprocessed(
        app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # The event is written applied (no receiver when it was applied); a receiver connected
    # before the signal is sent runs all the same, and its failure is written for reprocess.
    invoice = new_payment(app)
    calls: list[str] = []
    state = {"fail": True}

    def flaky(sender: Any, payment: Any, **_: Any) -> None:
        calls.append(payment.invoice_id)
        if state["fail"]:
            raise RuntimeError("mail server down")

    real = views.dispatch_event

    def connect_then_dispatch(*args: Any, **kwargs: Any) -> Any:
        signals.payment_succeeded.connect(flaky, app, weak=False)
        return real(*args, **kwargs)

    monkeypatch.setattr(views, "dispatch_event", connect_then_dispatch)
    try:
        assert post(client, postlink_for(app, invoice, 100)).status_code == 200
        [stored] = ledger_of(app).events(invoice_id=invoice)
        assert stored.verdict is EventVerdict.FAILED and calls == [invoice]
        state["fail"] = False
        with app.app_context():
            report = reprocess(app.extensions["halyk"])
        assert (report.attempted, report.applied) == (1, 1) and calls == [invoice, invoice]
    finally:
        signals.payment_succeeded.disconnect(flaky, app)
    assert ledger_of(app).events(invoice_id=invoice)[0].verdict is EventVerdict.APPLIED


def test_dispatch_of_an_applied_event_writes_nothing_when_the_receivers_cope(
        app: Flask, commits: Counter[str]) -> None:
    invoice = new_payment(app)
    ledger = ledger_of(app)
    payment = ledger.get(invoice)
    commits.clear()
    with app.app_context():
        verdict = dispatch_event(app, ledger, 1, Change.SUCCEEDED, payment, None, applied=True)
    assert verdict is EventVerdict.APPLIED and commits["commits"] == 0


# --- with the status re-check: the bank asked first, then the same one transaction --------------


@pytest.fixture(params=BACKENDS)
def rechecking(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    with backend_shop(request.param, tmp_path, HALYK_VERIFY_WITH_STATUS=True) as app:
        yield app


class Bank:
    """The shop's client's ``status``, answered here: ``answer`` (a status name, or an error)."""

    def __init__(self, app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
        self.asked: list[str] = []
        self.answer: str | Exception = "CHARGE"
        monkeypatch.setattr(app.extensions["halyk"].client, "status", self.status)

    def status(self, invoice_id: str, *, deadline: float | None = None) -> StatusResult:
        self.asked.append(invoice_id)
        if isinstance(self.answer, Exception):
            raise self.answer
        return StatusResult(ResultCode.SUCCESS, "success", Transaction(
            id="bank-tx", invoice_id=invoice_id, amount=Decimal(100), currency="KZT",
            status_name=StatusName(self.answer)))


def test_a_confirmed_success_is_one_commit_and_a_copy_does_not_ask_the_bank_again(
        rechecking: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    app = rechecking
    bank = Bank(app, monkeypatch)
    invoice = new_payment(app)
    client = app.test_client()
    engine = ledger_of(app).engine
    counts: Counter[str] = Counter()

    def on_commit(*_: Any) -> None:
        counts["commits"] += 1

    event.listen(engine, "commit", on_commit)
    try:
        body = postlink_for(app, invoice, 100)
        assert post(client, body).status_code == 200
        assert counts["commits"] == 1 and bank.asked == [invoice]
        assert post(client, body).status_code == 200  # the bank's retry, a copy
        assert counts["commits"] == 2 and bank.asked == [invoice]
    finally:
        event.remove(engine, "commit", on_commit)
    payment = ledger_of(app).get(invoice)
    assert payment.status is S.PAID and payment.transaction_id == "bank-tx"
    first, copy = ledger_of(app).events(invoice_id=invoice)
    assert first.verdict is EventVerdict.APPLIED and first.transaction_id == "bank-tx"
    assert json.loads(first.body) == body and copy.verdict is EventVerdict.DUPLICATE


@pytest.mark.parametrize("answer", ["pending", "unreachable", "refused"])
def test_an_unconfirmed_success_is_stored_once_with_its_verdict_and_applies_nothing(
        rechecking: Flask, monkeypatch: pytest.MonkeyPatch, answer: str) -> None:
    app = rechecking
    bank = Bank(app, monkeypatch)
    bank.answer = {"pending": "NEW", "unreachable": EpayTimeout("status", 1.0, 1),
                   "refused": "REJECT"}[answer]
    invoice = new_payment(app)
    body = postlink_for(app, invoice, 100)
    answered = post(app.test_client(), body)
    assert answered.status_code == (403 if answer == "refused" else 503)
    assert ledger_of(app).get(invoice).status is S.NEW
    [stored] = ledger_of(app).events(invoice_id=invoice)
    expected = EventVerdict.REJECTED if answer == "refused" else EventVerdict.DEFERRED
    assert stored.verdict is expected and json.loads(stored.body) == body
    # The bank's next delivery, once it confirms, is applied.
    bank.answer = "CHARGE"
    assert post(app.test_client(), body).status_code == 200
    assert ledger_of(app).get(invoice).status is S.PAID
