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
from ledger_support import (
    BACKENDS,
    close_shop,
    database_url,
    make_shop,
    new_payment,
    postlink_for,
)
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

import flask_halyk.epay.transport as transport_module
from flask_halyk.config import DEFAULTS, resolve
from flask_halyk.errors import ConfigurationError, EpayTimeout
from flask_halyk.ledger import EventVerdict, PaymentStatus

S = PaymentStatus


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


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
