"""EpayClient against the sandbox over real HTTP, and a whole payment without a browser."""

from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest
from sandbox_helpers import open_page, pay, payment_object

from flask_halyk.config import TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_TERMINAL_ID
from flask_halyk.epay import EpayClient
from flask_halyk.errors import (
    ApiError,
    AuthenticationError,
    EpayTimeout,
    EpayUnavailable,
    InvalidResponse,
)
from flask_halyk.sandbox import SandboxServer, create_sandbox_app


def make_client(url: str, **kw) -> EpayClient:
    options = {"timeout": (2.0, 5.0), "retries": 0, "backoff": 0.0,
               "client_id": TEST_CLIENT_ID, "client_secret": TEST_CLIENT_SECRET,
               "terminal_id": TEST_TERMINAL_ID}
    options.update(kw)
    return EpayClient(token_url=f"{url}/oauth2/token", api_url=url, **options)


def paid_through_page(url: str, client: EpayClient, invoice_id: str, amount: int,
                      pan: str = "4405639704015096", post_link: str | None = None) -> None:
    token = client.payment_token(invoice_id, amount, secret_hash="H" * 16, post_link=post_link)
    page = open_page(url, payment_object(token.auth, invoice_id, amount))
    assert page.status_code == 200, page.text
    result = pay(url, page.text, pan)
    assert result.status_code == 200


def test_whole_payment_over_http(sandbox, receiver):
    with make_client(sandbox.url) as client:
        paid_through_page(sandbox.url, client, "500001", 1500,
                          post_link=f"{receiver.url}/halyk/postlink")
        [(path, body, ctype)] = receiver.wait(1)
        assert path == "halyk/postlink" and ctype == "application/json"
        assert body["code"] == "ok" and body["secret_hash"] == "H" * 16
        status = client.status("500001")
        assert status.charged and status.paid and status.transaction is not None
        assert status.transaction.id == body["id"]
        assert status.transaction.amount == Decimal(1500)


def test_client_token_status_and_operations(sandbox):
    with make_client(sandbox.url) as client:
        assert client.status("999999").found is False
        paid_through_page(sandbox.url, client, "500002", 100)
        tid = client.status("500002").transaction.id
        with pytest.raises(ApiError) as refused:
            client.charge(tid)
        assert refused.value.code == 100 and refused.value.status == 400
        with pytest.raises(ApiError):
            client.cancel(tid)
        assert client.refund(tid, 40, external_id="r-1").http_status == 200
        with pytest.raises(ApiError):
            client.refund(tid, 61)
        client.refund(tid)
        assert client.status("500002").refunded
        paid_through_page(sandbox.url, client, "500003", 100, pan="4003032704547597")
        assert client.status("500003").failed


def test_client_two_stage():
    with SandboxServer(create_sandbox_app(two_stage=True)) as server, \
            make_client(server.url) as client:
        paid_through_page(server.url, client, "500004", 100)
        paid_through_page(server.url, client, "500005", 100)
        first = client.status("500004")
        assert first.authorized
        client.charge(first.transaction.id, 60)
        assert client.status("500004").charged
        second = client.status("500005").transaction.id
        client.cancel(second)
        assert client.status("500005").cancelled


def test_client_error_answers(sandbox):
    with make_client(sandbox.url, client_secret="wrong") as bad:
        with pytest.raises(AuthenticationError) as auth_error:
            bad.service_token()
        assert "wrong" not in str(auth_error.value)
    with make_client(sandbox.url) as client:
        sandbox.faults.token_error = 503
        with pytest.raises(EpayUnavailable):
            client.service_token()
        sandbox.faults.update({"token_error": None, "token_garbage": True})
        with pytest.raises(InvalidResponse):
            client.service_token()
        sandbox.faults.reset()
        sandbox.faults.status_garbage = True
        with pytest.raises(InvalidResponse):
            client.status("500001")
        sandbox.faults.reset()
        sandbox.faults.status_delay = 1.5
    with make_client(sandbox.url, timeout=(2.0, 0.5)) as slow:
        slow.service_token()
        started = time.monotonic()
        with pytest.raises(EpayTimeout):
            slow.status("500001")
        assert time.monotonic() - started < 5
    sandbox.faults.reset()


def test_client_status_and_operation_faults(sandbox):
    with make_client(sandbox.url) as client:
        paid_through_page(sandbox.url, client, "500006", 100)
        tid = client.status("500006").transaction.id
        sandbox.faults.status_error = 503
        with pytest.raises(EpayUnavailable):
            client.status("500006")
        sandbox.faults.reset()
        sandbox.faults.operation_error = 502
        with pytest.raises(EpayUnavailable):
            client.refund(tid, 10)
        sandbox.faults.reset()
    # The fault let no refund through: the whole amount is still refundable.
    assert sandbox.transactions[-1].refunded == 0


def test_client_refuses_an_operation_answered_with_garbage(sandbox):
    with make_client(sandbox.url) as client:
        paid_through_page(sandbox.url, client, "500007", 100)
        tid = client.status("500007").transaction.id
        sandbox.faults.operation_garbage = True
        with pytest.raises(InvalidResponse, match="unknown: ask status"):
            client.refund(tid, 10)


def test_client_renews_a_service_token_the_bank_expired(sandbox):
    with make_client(sandbox.url) as client:
        first = client.service_token()
        sandbox.sandbox.store.token(first).expires_at = time.time() - 1
        assert client.status("999998").found is False  # 401, a new token, asked again
        assert client.service_token() != first


def test_the_banks_recurrent_schedule_on_the_sandbox(sandbox):
    """``/recurrent/subscribe`` as far as the SDK shows it: a paid transaction of the merchant,
    the answer's fields and date format; a declined or unknown one refused; nothing charged."""
    with make_client(sandbox.url) as client:
        paid_through_page(sandbox.url, client, "500020", 4900)
        paid = client.status("500020").transaction
        schedule = client.recurrent_subscribe(paid.id, "MONTHLY")
        assert (schedule.payment_frequency, schedule.invoice_id, schedule.amount,
                schedule.currency, schedule.client_id) == (
            "MONTHLY", "500020", Decimal(4900), "KZT", TEST_CLIENT_ID)
        assert schedule.reference == paid.reference
        for date in (schedule.created_date, schedule.last_payment_date):
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}\+0500", date or "")
        again = client.recurrent_subscribe(paid.id, "WEEKLY")
        assert (again.payment_frequency, again.created_date) == ("WEEKLY",
                                                                 schedule.created_date)
        paid_through_page(sandbox.url, client, "500021", 100, pan="4003032704547597")
        declined = client.status("500021").transaction
        for unknown in (declined.id, "no-such-transaction"):
            with pytest.raises(ApiError) as refused:
                client.recurrent_subscribe(unknown, "MONTHLY")
            assert (refused.value.code, refused.value.status) == (100, 400)
        sandbox.faults.cards_error = 503
        with pytest.raises(EpayUnavailable):
            client.recurrent_subscribe(paid.id, "MONTHLY")
    assert len(sandbox.transactions) == 2  # the sandbox charges nothing on its own
