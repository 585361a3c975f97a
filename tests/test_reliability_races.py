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

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
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
    SECRET_KEY,
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
from flask_halyk import signals
from flask_halyk.config import DEFAULTS, resolve
from flask_halyk.errors import (
    ApiError,
    ConfigurationError,
    EpayTimeout,
    EpayUnavailable,
    PaymentStateError,
)
from flask_halyk.ledger import BankReport, EventVerdict, Ledger, PaymentStatus
from flask_halyk.ledger.reports import report_from_postlink
from flask_halyk.ledger.tables import payments
from flask_halyk.operations import refund
from flask_halyk.recovery import reconcile
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
    # The service token first (cached): on a busy machine its request alone could take the
    # half second, and the subject is the status call's attempt.
    client.service_token()
    with pytest.raises(EpayTimeout) as info:
        client.status(INVOICE)
    assert (info.value.deadline, info.value.attempts) == (0.5, 1)
    assert "deadline of 0.5 s (1 attempt)" in str(info.value)
    assert slow_bank.status_calls == [STATUS_PATH]


def test_a_per_call_deadline_overrides_the_clients(slow_bank: SlowBank) -> None:
    client = make_client(slow_bank.server, timeout=(2.0, 30.0), retries=2)
    assert client.deadline == 25.0
    client.service_token()  # cached: the 0.3 s are the status call's alone
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


# --- 5. a server process killed while a receiver runs ------------------------------------------

SHOP_PROCESS = """
import json, os, sys, time
from flask import Flask
from werkzeug.serving import make_server
from flask_halyk import signals
from flask_halyk.extension import HalykEpay

db_url, instance, out, secret, mode = sys.argv[1:6]
app = Flask("shop", instance_path=instance)
# A short lease, so that the test need not wait long for a dead worker's claim to lapse.
app.config.update(SECRET_KEY=secret, HALYK_DATABASE_URL=db_url, HALYK_DISPATCH_LEASE=1.0)
HalykEpay(app)

def note(payment, step):
    with open(out, "a") as f:
        f.write(json.dumps({"invoice": payment.invoice_id, "pid": os.getpid(), "step": step})
                + "\\n")

def fulfil(sender, payment, postlink):
    note(payment, "started")
    if mode == "block":
        time.sleep(60)  # a slow receiver: the process is killed in here
    note(payment, "done")

signals.payment_succeeded.connect(fulfil)
server = make_server("127.0.0.1", 0, app, threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


class ShopProcesses:
    """Shop servers in processes of their own (werkzeug, threaded, on a loopback port), all on
    one ledger; their ``payment_succeeded`` receiver notes each start and end in a file."""

    def __init__(self, db_url: str, tmp_path: Path) -> None:
        self.db_url = db_url
        self.tmp_path = tmp_path
        self.script = tmp_path / "shop_process.py"
        self.script.write_text(SHOP_PROCESS)
        self.notes = tmp_path / "receivers.jsonl"
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, mode: str) -> tuple[subprocess.Popen[str], str]:
        n = len(self.procs)
        proc = subprocess.Popen(
            [sys.executable, str(self.script), self.db_url, str(self.tmp_path / f"i{n}"),
             str(self.notes), SECRET_KEY, mode],
            stdout=subprocess.PIPE, text=True, cwd=str(self.tmp_path))
        self.procs.append(proc)
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        assert port.isdigit(), "the shop process did not start"
        return proc, f"http://127.0.0.1:{port}"

    def steps(self) -> list[tuple[int, str]]:
        if not self.notes.exists():
            return []
        lines = [json.loads(line) for line in self.notes.read_text().splitlines()]
        return [(line["pid"], line["step"]) for line in lines]

    def wait_for(self, count: int, timeout: float = 20) -> None:
        """Until ``count`` receiver steps are noted (or ``timeout`` seconds passed)."""
        until = time.monotonic() + timeout
        while len(self.steps()) < count and time.monotonic() < until:
            time.sleep(0.05)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


def deliver(urls: list[str], body: dict[str, Any]) -> list[int | str]:
    """POST ``body`` to each of ``urls`` at once; the HTTP status of each, or the name of the
    exception that ended it."""
    barrier = threading.Barrier(len(urls))
    answers: list[int | str] = ["no answer"] * len(urls)

    def send(i: int) -> None:
        barrier.wait(10)
        try:
            answers[i] = requests.post(urls[i] + "/halyk/postlink", json=body,
                                       timeout=30).status_code
        except requests.RequestException as exc:
            answers[i] = type(exc).__name__

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(urls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(40)
    return answers


def test_receivers_killed_with_their_process_are_finished_by_the_banks_retry(
        db_url: str, tmp_path: Path, halyk_postlink: Any) -> None:
    shops = ShopProcesses(db_url, tmp_path)
    app = make_shop(db_url, tmp_path)  # the same settings: builds the genuine postLink
    try:
        ledger = app.extensions["halyk"].ledger
        invoice = new_payment(app)
        body = halyk_postlink(invoice, 100, app=app)

        # 1. The postLink is applied; its receiver blocks; the process is killed in it.
        doomed, url = shops.start("block")
        first: list[int | str] = []
        sender = threading.Thread(target=lambda: first.extend(deliver([url], body)))
        sender.start()
        shops.wait_for(1)
        assert shops.steps() == [(doomed.pid, "started")]
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
        sender.join(40)
        assert first == ["ConnectionError"]  # the bank got no answer: it will retry
        assert ledger.get(invoice).status is S.PAID  # paid, and not fulfilled
        [event] = ledger.events(invoice_id=invoice)
        assert event.verdict is EventVerdict.DISPATCHING

        # 2. The bank retries, twice at once, to two new processes: the receivers run once,
        #    to the end, in one of them; both deliveries are acknowledged once they have.
        (one, url_one), (two, url_two) = shops.start("run"), shops.start("run")
        assert deliver([url_one, url_two], body) == [200, 200]
        steps = shops.steps()
        assert len(steps) == 3, f"the receivers did not run to the end once: {steps}"
        assert steps[0] == (doomed.pid, "started")
        runner = steps[1][0]
        assert runner in (one.pid, two.pid)
        assert steps[1:] == [(runner, "started"), (runner, "done")]

        # 3. A further delivery runs nothing again.
        assert deliver([url_one], body) == [200]
        assert len(shops.steps()) == 3
        verdicts = [e.verdict for e in ledger.events(invoice_id=invoice)]
        assert verdicts == [EventVerdict.APPLIED] + [EventVerdict.DUPLICATE] * 3
    finally:
        shops.close()
        close_shop(app)


class BlockingReceiver:
    """A ``payment_succeeded`` receiver that blocks until ``release`` is set (at most 10 s)."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def __call__(self, sender: Any, payment: Any, postlink: Any) -> None:
        self.calls += 1
        self.started.set()
        self.release.wait(10)


def test_a_live_workers_claim_is_renewed_and_never_taken_over(
        db_url: str, tmp_path: Path) -> None:
    # A receiver slower than the lease, in a live worker: its claim is renewed, so a copy of the
    # postLink neither runs the receivers again nor says "done": it waits, then answers 503
    # (the bank asks again later); once they ended, a copy is a plain duplicate.
    app = make_shop(db_url, tmp_path, HALYK_DISPATCH_LEASE=1.0)
    receiver = BlockingReceiver()
    signals.payment_succeeded.connect(receiver)
    try:
        invoice = new_payment(app)
        body = postlink_for(app, invoice, 100)
        first: list[int] = []
        worker = threading.Thread(
            target=lambda: first.append(app.test_client().post("/halyk/postlink",
                                                               json=body).status_code))
        worker.start()
        assert receiver.started.wait(10)
        copy = app.test_client().post("/halyk/postlink", json=body)
        assert copy.status_code == 503 and "still running" in copy.get_json()["error"]
        assert receiver.calls == 1
        receiver.release.set()
        worker.join(20)
        assert first == [200]
        again = app.test_client().post("/halyk/postlink", json=body)
        assert again.status_code == 200 and receiver.calls == 1
        ledger = app.extensions["halyk"].ledger
        verdicts = [e.verdict for e in ledger.events(invoice_id=invoice)]
        assert verdicts == [EventVerdict.APPLIED, EventVerdict.DEFERRED, EventVerdict.DUPLICATE]
    finally:
        receiver.release.set()
        signals.payment_succeeded.disconnect(receiver)
        close_shop(app)


def test_reconcile_finishes_receivers_a_dead_worker_left(db_url: str, tmp_path: Path) -> None:
    app = make_shop(db_url, tmp_path)
    calls: list[str] = []

    def fulfil(sender: Any, payment: Any, postlink: Any) -> None:
        calls.append(payment.invoice_id)

    signals.payment_succeeded.connect(fulfil)
    try:
        ledger = app.extensions["halyk"].ledger
        invoice = new_payment(app)
        body = postlink_for(app, invoice, 100)
        event_id = ledger.record_event(kind="postlink", body=json.dumps(body).encode())
        # Applied by a worker that then died: its claim is never renewed, nor ended.
        applied = ledger.apply(invoice, report_from_postlink(body), event_id=event_id)
        assert applied.claim is not None
        with app.app_context():
            assert reconcile(get_state(), timedelta(0)).finished == 0  # its lease holds
            clock = FakeLedgerClock()
            ledger.clock = clock
            clock.advance(ledger.dispatch_lease + timedelta(seconds=1))
            report = reconcile(get_state(), timedelta(0))
            assert report.finished == 1 and calls == [invoice]
            assert reconcile(get_state(), timedelta(0)).finished == 0
        assert calls == [invoice]
        assert ledger.get_event(event_id).verdict is EventVerdict.APPLIED
        # The dead worker's claim ended with the lease: it can no longer renew or end it.
        assert not ledger.renew_claim(event_id, applied.claim)
    finally:
        signals.payment_succeeded.disconnect(fulfil)
        close_shop(app)
