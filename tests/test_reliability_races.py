"""Reliability under races, slowness and crashes (issue 10, items 3 to 5).

- Refunds racing on one payment: what the ledger records and what ``payment_refunded`` reports
  is what the bank did (threads, the embedded sandbox, SQLite and PostgreSQL).
- A bank slower than the deadline: every call ends within its overall deadline with a typed
  :class:`EpayTimeout` naming it, and the postLink's status re-check within its tighter one,
  answered 503 ``deferred`` (loopback servers; time moved by the transport's clock hooks).
- A real server process killed (SIGKILL) while a receiver runs: a re-delivered postLink finishes
  the receivers once, and a further one does not run them again.

Every test ends by itself in seconds; none asserts on wall time.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from client_fixtures import (
    API_PREFIX,
    INVOICE,
    STATUS_PATH,
    TOKEN_PATH,
    FakeClock,
    TokenIssuer,
    count,
    make_client,
    threaded_server,
)
from flask import Flask
from ledger_support import (
    BACKENDS,
    SignalLog,
    close_shop,
    database_url,
    make_shop,
    new_payment,
    postlink_for,
    sandbox_of,
)
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Request, Response

import flask_halyk.epay.transport as transport_module
from flask_halyk.config import DEFAULTS, resolve
from flask_halyk.errors import (
    ApiError,
    ConfigurationError,
    EpayTimeout,
    EpayUnavailable,
    PaymentStateError,
)
from flask_halyk.ledger import BankReport, EventVerdict, Ledger, PaymentStatus
from flask_halyk.ledger.tables import payments
from flask_halyk.operations import refund
from flask_halyk.state import get_state

S = PaymentStatus


class FakeLedgerClock:
    """The ledger's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


# --- 3. refunds racing on one payment -----------------------------------------------------------

GOOD_CARD = "4405639704015096"
RACE_ROUNDS = 4


@pytest.fixture
def shop(db_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = make_shop(db_url, tmp_path)
    yield app
    sandbox_of(app).wait_for_postlinks(10)
    close_shop(app)


def pay(app: Flask, amount: int) -> str:
    """A payment paid on the sandbox's own payment page (its postLink applied)."""
    with app.test_request_context("/"):
        payment = app.extensions["halyk"].extension.create_payment(amount, description="order")
    sandbox_of(app).pay(payment.to_js(), GOOD_CARD)
    return str(payment.invoice_id)


class RefundRace:
    """``refund(invoice, 600)`` and ``refund(invoice)`` from two threads on one payment of
    1,500, each in its own app context, and what came of them: the amounts each thread sent to
    the bank, the refunds the bank made, the ``payment_refunded`` amounts, the refusals."""

    def __init__(self, app: Flask, log: SignalLog, monkeypatch: pytest.MonkeyPatch) -> None:
        self.app = app
        self.log = log
        self.sent: list[Decimal | None] = []
        self.at_bank = threading.Event()  # the first refund is on its way to the bank
        client = app.extensions["halyk"].client
        send = client.refund

        def spy(transaction_id: str, amount: Any = None, *args: Any, **kwargs: Any) -> Any:
            self.sent.append(amount)
            self.at_bank.set()
            return send(transaction_id, amount, *args, **kwargs)

        monkeypatch.setattr(client, "refund", spy)
        # Both refunds at the bank at once: each waits there a moment before it is done.
        sandbox_of(app).faults.operation_delay = 0.2

    def run(self, first: Decimal | None, second: Decimal | None, *, ordered: bool
            ) -> tuple[str, list[BaseException]]:
        """Pay 1,500, then refund ``first`` and ``second`` at once (``ordered``: the second
        starts once the first is on its way to the bank, before the bank answered it)."""
        invoice = pay(self.app, 1500)
        self.sent.clear()
        self.at_bank.clear()
        self.log.sent.clear()
        refused: list[BaseException] = []
        barrier = threading.Barrier(2)

        def one(amount: Decimal | None, wait_for_first: bool) -> None:
            barrier.wait(10)
            if wait_for_first:
                self.at_bank.wait(10)
            with self.app.app_context():
                try:
                    refund(get_state(), invoice, amount)
                except (PaymentStateError, ApiError) as exc:
                    refused.append(exc)

        threads = [threading.Thread(target=one, args=(first, False)),
                   threading.Thread(target=one, args=(second, ordered))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        return invoice, refused

    def check(self, invoice: str) -> tuple[list[Decimal], list[Decimal]]:
        """The refunds the bank made and the amounts ``payment_refunded`` reported; asserts
        that the ledger recorded what the bank did."""
        record = self.app.extensions["halyk"].ledger.get(invoice)
        bank = sandbox_of(self.app).store.transactions[record.transaction_id]
        made = sorted(Decimal(r["amount"]) for r in bank.refunds)
        reported = sorted(kw["amount"] for kw in self.log.named("payment_refunded"))
        assert record.refunded_amount == bank.refunded == sum(made)
        assert record.status is (S.REFUNDED if bank.refunded == 1500 else S.PARTIALLY_REFUNDED)
        return made, reported


@pytest.fixture
def race(shop: Flask, signal_log: SignalLog, monkeypatch: pytest.MonkeyPatch) -> RefundRace:
    return RefundRace(shop, signal_log, monkeypatch)


def test_a_full_refund_racing_a_partial_one_reports_what_the_bank_did(race: RefundRace) -> None:
    # The partial refund is at the bank, not answered yet, when the full one is decided: the
    # full one must send, record and report the 900 left, not "everything" (which the bank
    # reads as what is left, 900) recorded as the 1,500 read before the call.
    for _ in range(RACE_ROUNDS):
        invoice, refused = race.run(Decimal(600), None, ordered=True)
        made, reported = race.check(invoice)
        assert refused == []
        assert made == reported == [Decimal(600), Decimal(900)]
        # The amount meant is the amount sent: never "no amount".
        assert sorted(race.sent) == [Decimal(600), Decimal(900)]  # type: ignore[type-var]


def test_a_partial_refund_after_a_full_one_in_flight_is_refused_by_the_ledger(
        race: RefundRace) -> None:
    for _ in range(RACE_ROUNDS):
        invoice, refused = race.run(None, Decimal(600), ordered=True)
        made, reported = race.check(invoice)
        assert made == reported == [Decimal(1500)]
        [refusal] = refused
        # Refused under the row lock, without asking the bank: 1,500 is on its way already.
        assert isinstance(refusal, PaymentStateError), refusal
        assert race.sent == [Decimal(1500)]


def test_refunds_released_together_report_what_the_bank_did(race: RefundRace) -> None:
    for _ in range(RACE_ROUNDS):
        invoice, refused = race.run(Decimal(600), None, ordered=False)
        made, reported = race.check(invoice)
        assert made == reported
        assert made in ([Decimal(600), Decimal(900)], [Decimal(1500)])
        assert len(refused) == (1 if made == [Decimal(1500)] else 0)
        assert None not in race.sent


def test_a_refund_the_bank_did_not_make_gives_its_reservation_back(
        shop: Flask, signal_log: SignalLog) -> None:
    invoice = pay(shop, 1500)
    sandbox_of(shop).faults.operation_error = 503
    with shop.app_context():
        with pytest.raises(EpayUnavailable):
            refund(get_state(), invoice, 600)
        sandbox_of(shop).faults.operation_error = None
        refund(get_state(), invoice)  # all of it: the 600 is no longer reserved
    assert [kw["amount"] for kw in signal_log.named("payment_refunded")] == [Decimal(1500)]


def test_a_reservation_left_by_a_dead_process_lapses(db_url: str) -> None:
    ledger = Ledger(db_url)
    clock = FakeLedgerClock()
    ledger.clock = clock
    try:
        invoice = ledger.create_payment(invoice_id=None, amount=Decimal(1500), currency="KZT",
                                        terminal="t").invoice_id
        ledger.apply(invoice, BankReport(S.PAID, transaction_id="tx-1"))
        lease = timedelta(seconds=85)
        assert ledger.reserve_refund(invoice, Decimal(600), lease=lease)[1] == 600
        # The process dies before the bank answers: the 600 stays reserved until the lease
        # ends, then counts no more (the bank would refuse money it already returned anyway).
        clock.advance(timedelta(seconds=84))
        with pytest.raises(PaymentStateError, match=r"600\.00 more is being refunded"):
            ledger.reserve_refund(invoice, Decimal(1000), lease=lease)
        clock.advance(timedelta(seconds=2))
        assert ledger.reserve_refund(invoice, None, lease=lease)[1] == 1500
        recorded = ledger.record_refund(invoice, Decimal(1500), reserved=True).payment
        assert recorded.status is S.REFUNDED and recorded.refunded_amount == 1500
        with pytest.raises(PaymentStateError, match="only a paid payment can be refunded"):
            ledger.reserve_refund(invoice, None, lease=lease)
        # Nothing stays reserved once the bank answered.
        with ledger.engine.connect() as conn:
            assert conn.execute(select(payments.c.refund_pending_minor,
                                       payments.c.refund_pending_until)).one() == (None, None)
    finally:
        ledger.dispose()


# --- 4. a bank slower than the deadline ---------------------------------------------------------


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown, so that stalled handlers end and their server can stop."""
    event = threading.Event()
    yield event
    event.set()


class SlowBank:
    """A threaded loopback ePay: tokens at once; every status call stalls until the test ends
    (at most 10 s), far longer than any deadline below. ``status_calls``: the paths of the
    status calls it received (counted on arrival: the server logs a request once answered)."""

    def __init__(self, server: HTTPServer, release: threading.Event) -> None:
        self.server = server
        self.status_calls: list[str] = []
        self._release = release

    def stall(self, request: Request) -> Response:
        self.status_calls.append(request.path)
        self._release.wait(10)
        return Response("too late", status=200)

    def url_for(self, path: str) -> str:
        return self.server.url_for(path)


@pytest.fixture
def slow_bank(release: threading.Event) -> Iterator[SlowBank]:
    for server in threaded_server():
        bank = SlowBank(server, release)
        server.expect_request(TOKEN_PATH, method="POST").respond_with_handler(TokenIssuer())

        status_of_any_invoice = re.compile(f"{API_PREFIX}/check-status/payment/transaction/.*")
        server.expect_request(status_of_any_invoice).respond_with_handler(bank.stall)
        yield bank


def test_the_default_deadline_fits_a_common_worker_timeout() -> None:
    # gunicorn's default worker timeout is 30 s: every call must end before it by default.
    assert DEFAULTS["HALYK_DEADLINE"] < 30
    assert DEFAULTS["HALYK_POSTLINK_STATUS_DEADLINE"] < DEFAULTS["HALYK_DEADLINE"]
    config = resolve({"SECRET_KEY": "k"})
    assert (config.deadline, config.postlink_status_deadline) == (25.0, 10.0)
    assert resolve({"SECRET_KEY": "k", "HALYK_DEADLINE": "12.5"}).deadline == 12.5
    for bad in (0, -1, float("nan"), float("inf"), "soon", True):
        with pytest.raises(ConfigurationError) as err:
            resolve({"SECRET_KEY": "k", "HALYK_DEADLINE": bad})
        assert err.value.key == "HALYK_DEADLINE"
    with pytest.raises(ConfigurationError) as err:
        resolve({"SECRET_KEY": "k", "HALYK_POSTLINK_STATUS_DEADLINE": 0})
    assert err.value.key == "HALYK_POSTLINK_STATUS_DEADLINE"


def test_a_read_timeout_never_reaches_past_the_deadline(slow_bank: SlowBank) -> None:
    # A 30 s read timeout and two retries would hold the call for 90 s; the 0.5 s deadline cuts
    # the first attempt's read timeout to what is left, and no retry starts after it.
    client = make_client(slow_bank.server, timeout=(2.0, 30.0), retries=2, deadline=0.5)
    with pytest.raises(EpayTimeout) as info:
        client.status(INVOICE)
    assert (info.value.deadline, info.value.attempts) == (0.5, 1)
    assert "deadline of 0.5 s (1 attempt)" in str(info.value)
    assert slow_bank.status_calls == [STATUS_PATH]


def test_a_per_call_deadline_overrides_the_clients(slow_bank: SlowBank) -> None:
    client = make_client(slow_bank.server, timeout=(2.0, 30.0), retries=2)
    assert client.deadline == 25.0
    with pytest.raises(EpayTimeout) as info:
        client.status(INVOICE, deadline=0.3)
    assert info.value.deadline == 0.3 and "deadline of 0.3 s" in str(info.value)
    assert slow_bank.status_calls == [STATUS_PATH]


def test_no_retry_starts_past_the_deadline(
        httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Time passes on a fake clock, by the backoff sleeps alone: attempt 1 at t=0 and 2 at t=4
    # (4 s backoff), then the next backoff (8 s) would end past the 10 s deadline: no third
    # attempt, though nine more retries are allowed.
    clock = FakeClock()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    monkeypatch.setattr(transport_module, "_monotonic", clock)
    monkeypatch.setattr(transport_module, "_sleep", sleep)
    monkeypatch.setattr(transport_module.random, "uniform", lambda low, high: 1.0)
    httpserver.expect_request(TOKEN_PATH, method="POST").respond_with_handler(TokenIssuer())
    httpserver.expect_request(STATUS_PATH).respond_with_data("busy", status=503)
    client = make_client(httpserver, timeout=(2.0, 30.0), retries=10, backoff=4.0,
                         deadline=10.0)
    timeouts: list[Any] = []
    send = client.session.request

    def request(*args: Any, **kwargs: Any) -> requests.Response:
        if API_PREFIX in str(args[1]):
            timeouts.append(kwargs["timeout"])
        return send(*args, **kwargs)

    monkeypatch.setattr(client.session, "request", request)
    with pytest.raises(EpayTimeout) as info:
        client.status(INVOICE)
    assert (info.value.deadline, info.value.attempts) == (10.0, 2)
    assert "deadline of 10 s (2 attempts; the last attempt: EpayUnavailable, HTTP 503)" \
        in str(info.value)
    assert count(httpserver, STATUS_PATH) == 2 and slept == [4.0]
    # Each attempt's read timeout is what is left of the deadline when it starts.
    assert timeouts == [(2.0, 10.0), (2.0, 6.0)]


def test_the_postlink_status_recheck_ends_in_503_deferred(
        slow_bank: SlowBank, db_url: str, tmp_path: Path) -> None:
    # ePay's test hosts (the status re-check on by default), here a loopback bank whose status
    # API stalls: the re-check gives up at HALYK_POSTLINK_STATUS_DEADLINE, answers 503 and keeps
    # the event deferred, well before a worker timeout would kill the request.
    app = make_shop(
        db_url, tmp_path, HALYK_ENV="test", HALYK_TOKEN_URL=slow_bank.url_for(TOKEN_PATH),
        HALYK_API_URL=slow_bank.url_for(API_PREFIX), HALYK_EXTERNAL_URL="https://shop.example",
        HALYK_TIMEOUT=(2.0, 30.0), HALYK_POSTLINK_STATUS_DEADLINE=0.5)
    try:
        assert app.extensions["halyk"].config.verify_with_status
        invoice = new_payment(app)
        answer = app.test_client().post("/halyk/postlink", json=postlink_for(app, invoice, 100))
        assert answer.status_code == 503
        assert "EpayTimeout" in answer.get_json()["error"]
        status_path = f"{API_PREFIX}/check-status/payment/transaction/{invoice}"
        assert slow_bank.status_calls == [status_path]  # no retry past the deadline
        ledger = app.extensions["halyk"].ledger
        [event] = ledger.events(invoice_id=invoice)
        assert event.verdict is EventVerdict.DEFERRED
        assert ledger.get(invoice).status is S.NEW
    finally:
        close_shop(app)
