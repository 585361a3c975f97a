"""EpayClient against a fake ePay on loopback: the wire format, token caching, retries, results."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from client_fixtures import (
    API_PREFIX,
    CLIENT_ID,
    INVOICE,
    SECRET,
    STATUS_PATH,
    TERMINAL,
    TOKEN_PATH,
    TX_ID,
    FakeClock,
    TokenIssuer,
    count,
    json_response,
    make_client,
    requests_to,
    sequence,
    status_body,
    threaded_server,
)
from pytest_httpserver import HTTPServer
from werkzeug import Response

import flask_halyk.epay.transport as transport_module
from flask_halyk.config import LONG_SCOPE, resolve
from flask_halyk.epay import EpayClient, ResultCode, StatusName
from flask_halyk.errors import InvalidArgument

PROTOCOL_PAYMENT_FIELDS = {
    "grant_type", "scope", "client_id", "client_secret", "invoiceID", "secret_hash", "amount",
    "currency", "terminal",
}


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff delays the client asked for, without sleeping them."""
    delays: list[float] = []
    monkeypatch.setattr(transport_module, "_sleep", delays.append)
    return delays


@pytest.fixture
def tserver() -> Iterator[HTTPServer]:
    yield from threaded_server()


def test_payment_token_form_matches_protocol(httpserver: HTTPServer) -> None:
    issuer = TokenIssuer()
    httpserver.expect_request(TOKEN_PATH, method="POST").respond_with_handler(issuer)
    client = make_client(httpserver)
    before = datetime.now(UTC)
    token = client.payment_token(
        INVOICE, Decimal("100"), secret_hash="hash-1",
        post_link="https://shop.example/halyk/postlink",
        failure_post_link="https://shop.example/halyk/failure-postlink",
    )
    assert issuer.content_types == ["application/x-www-form-urlencoded"]
    form = issuer.forms[0]
    assert set(form) == PROTOCOL_PAYMENT_FIELDS | {"postLink", "failurePostLink"}
    assert form["grant_type"] == "client_credentials"
    assert form["scope"] == LONG_SCOPE
    assert form["client_id"] == CLIENT_ID
    assert form["client_secret"] == SECRET
    assert form["invoiceID"] == INVOICE
    assert form["secret_hash"] == "hash-1"
    assert form["amount"] == "100"
    assert form["currency"] == "KZT"
    assert "curency" not in form
    assert form["terminal"] == TERMINAL
    assert form["postLink"] == "https://shop.example/halyk/postlink"
    assert form["failurePostLink"] == "https://shop.example/halyk/failure-postlink"

    assert token.invoice_id == INVOICE
    assert token.amount == Decimal(100)
    assert token.currency == "KZT"
    assert token.secret_hash == "hash-1"
    assert token.access_token == "TOKEN-1"
    assert token.expires_in == 7200
    assert before + timedelta(seconds=7190) < token.expires_at
    assert token.expires_at < datetime.now(UTC) + timedelta(seconds=7201)
    # The widget needs the token answer exactly, unknown keys included.
    assert token.raw == {
        "access_token": "TOKEN-1", "expires_in": 7200, "refresh_token": "", "scope": "payment",
        "token_type": "Bearer", "extra_unknown": {"kept": True},
    }
    auth = token.auth
    assert auth == token.raw
    auth["extra_unknown"]["kept"] = False
    assert token.raw["extra_unknown"] == {"kept": True}
    assert "TOKEN-1" not in repr(token)
    assert "hash-1" not in repr(token)


def test_payment_token_without_links_and_with_decimals(httpserver: HTTPServer) -> None:
    issuer = TokenIssuer()
    httpserver.expect_request(TOKEN_PATH, method="POST").respond_with_handler(issuer)
    client = make_client(httpserver, scope="payment", currency="USD")
    token = client.payment_token(INVOICE, "12.5", secret_hash="h")
    form = issuer.forms[0]
    assert set(form) == PROTOCOL_PAYMENT_FIELDS
    assert form["amount"] == "12.50"
    assert form["scope"] == "payment"
    assert form["currency"] == "USD"
    assert token.amount == Decimal("12.50")
    client.payment_token(INVOICE, 7, currency="KZT", secret_hash="h")
    assert issuer.forms[1]["currency"] == "KZT"
    assert issuer.forms[1]["amount"] == "7"


def test_expires_in_as_string_is_accepted(httpserver: HTTPServer) -> None:
    issuer = TokenIssuer(expires_in="1200")
    httpserver.expect_request(TOKEN_PATH, method="POST").respond_with_handler(issuer)
    token = make_client(httpserver).payment_token(INVOICE, 100, secret_hash="h")
    assert token.expires_in == 1200
    assert token.raw["expires_in"] == "1200"  # as received


def test_payment_tokens_are_never_reused(httpserver: HTTPServer) -> None:
    issuer = TokenIssuer()
    httpserver.expect_request(TOKEN_PATH, method="POST").respond_with_handler(issuer)
    client = make_client(httpserver)
    first = client.payment_token("100001", 100, secret_hash="a")
    second = client.payment_token("100002", 100, secret_hash="b")
    again = client.payment_token("100001", 100, secret_hash="a")
    assert [f["invoiceID"] for f in issuer.forms] == ["100001", "100002", "100001"]
    assert len({first.access_token, second.access_token, again.access_token}) == 3
    # Nor does a payment token stand in for the service token.
    assert client.service_token() == "TOKEN-4"


def test_service_token_form_has_no_payment_fields(httpserver: HTTPServer) -> None:
    issuer = TokenIssuer()
    httpserver.expect_request(TOKEN_PATH, method="POST").respond_with_handler(issuer)
    assert make_client(httpserver).service_token() == "TOKEN-1"
    assert issuer.content_types == ["application/x-www-form-urlencoded"]
    assert issuer.forms[0] == {
        "grant_type": "client_credentials",
        "scope": LONG_SCOPE,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "terminal": TERMINAL,
    }


def test_service_token_is_cached_across_status_calls(httpserver: HTTPServer) -> None:
    issuer = TokenIssuer()
    httpserver.expect_request(TOKEN_PATH, method="POST").respond_with_handler(issuer)
    httpserver.expect_request(STATUS_PATH, method="GET").respond_with_json(status_body())
    client = make_client(httpserver)
    client.status(INVOICE)
    client.status(INVOICE)
    assert issuer.count == 1
    auths = [r.headers.get("Authorization") for r in requests_to(httpserver, STATUS_PATH)]
    assert auths == ["Bearer TOKEN-1", "Bearer TOKEN-1"]


def test_service_token_is_refreshed_60s_before_expiry(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(transport_module, "_monotonic", clock)
    issuer = TokenIssuer(expires_in=300)
    httpserver.expect_request(TOKEN_PATH, method="POST").respond_with_handler(issuer)
    client = make_client(httpserver)
    assert client.service_token() == "TOKEN-1"
    clock.advance(239)
    assert client.service_token() == "TOKEN-1"
    clock.advance(2)  # 241 s: within 60 s of the 300 s expiry
    assert client.service_token() == "TOKEN-2"
    assert client.service_token() == "TOKEN-2"
    assert issuer.count == 2


def test_service_token_cache_is_per_client(httpserver: HTTPServer) -> None:
    issuer = TokenIssuer()
    httpserver.expect_request(TOKEN_PATH, method="POST").respond_with_handler(issuer)
    assert make_client(httpserver).service_token() == "TOKEN-1"
    assert make_client(httpserver).service_token() == "TOKEN-2"


def test_concurrent_status_calls_share_one_token_request(tserver: HTTPServer) -> None:
    issuer = TokenIssuer(delay=0.3)  # slow enough that all threads arrive while it is fetched
    tserver.expect_request(TOKEN_PATH, method="POST").respond_with_handler(issuer)
    tserver.expect_request(STATUS_PATH, method="GET").respond_with_json(status_body())
    client = make_client(tserver)
    barrier = threading.Barrier(8)
    results: list[Any] = []

    def worker() -> None:
        barrier.wait()
        try:
            results.append(client.status(INVOICE).paid)
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [True] * 8
    assert issuer.count == 1
    assert count(tserver, STATUS_PATH) == 8


@pytest.mark.parametrize(
    ("status_name", "paid", "charged", "authorized", "pending", "failed"),
    [
        ("CHARGE", True, True, False, False, False),
        ("AUTH", True, False, True, False, False),
        ("NEW", False, False, False, True, False),
        ("3D", False, False, False, True, False),
        ("FAILED", False, False, False, False, True),
        ("REJECT", False, False, False, False, True),
        ("REFUND", False, False, False, False, False),
        ("CANCEL", False, False, False, False, False),
    ],
)
def test_status_result_by_status_name(
    httpserver: HTTPServer, status_name: str, paid: bool, charged: bool, authorized: bool,
    pending: bool, failed: bool,
) -> None:
    httpserver.expect_request(TOKEN_PATH).respond_with_handler(TokenIssuer())
    httpserver.expect_request(STATUS_PATH).respond_with_json(status_body(status_name))
    result = make_client(httpserver).status(INVOICE)
    assert result.result_code is ResultCode.SUCCESS
    assert result.found
    assert (result.paid, result.charged, result.authorized) == (paid, charged, authorized)
    assert (result.pending, result.failed) == (pending, failed)
    assert result.cancelled == (status_name == "CANCEL")
    assert result.refunded == (status_name == "REFUND")
    assert result.status_name == StatusName(status_name)


def test_status_transaction_fields(httpserver: HTTPServer) -> None:
    httpserver.expect_request(TOKEN_PATH).respond_with_handler(TokenIssuer())
    body = status_body("CHARGE", result_code="100")
    httpserver.expect_request(STATUS_PATH).respond_with_json(body)
    result = make_client(httpserver).status(INVOICE)
    tx = result.transaction
    assert tx is not None
    assert tx.id == TX_ID
    assert tx.invoice_id == INVOICE
    assert tx.amount == Decimal("12.5")
    assert tx.currency == "KZT"
    assert tx.status_name is StatusName.CHARGE
    assert tx.terminal_id == TERMINAL
    assert tx.card_mask == "440564...5096"
    assert tx.reason is None
    assert tx.reason_code is None
    assert tx.approval_code == "157911"
    assert tx.reference == "411111111117"
    assert tx.created == "2024-07-29T10:50:56+05:00"
    assert tx.raw == body["transaction"]
    assert result.raw == body
    assert result.result_message == "SUCCESS"


def test_status_not_found_in_progress_and_rejected_are_answers(httpserver: HTTPServer) -> None:
    httpserver.expect_request(TOKEN_PATH).respond_with_handler(TokenIssuer())
    httpserver.expect_request(STATUS_PATH).respond_with_handler(
        sequence(
            json_response(status_body(None, 102, "Not found")),
            json_response(status_body(None, 107, "In progress")),
            json_response(status_body("REJECT", 101, "Rejected")),
            json_response(status_body(None, 555, "Something new")),
        )
    )
    client = make_client(httpserver)
    missing = client.status(INVOICE)
    assert missing.result_code is ResultCode.NOT_FOUND
    assert not missing.found and not missing.paid and not missing.pending
    assert missing.transaction is None
    busy = client.status(INVOICE)
    assert busy.result_code is ResultCode.IN_PROGRESS
    assert busy.pending and not busy.paid and not busy.failed
    rejected = client.status(INVOICE)
    assert rejected.failed and not rejected.paid
    assert rejected.status_name is StatusName.REJECT
    unknown = client.status(INVOICE)
    assert int(unknown.result_code) == 555
    assert unknown.result_code.meaning == "unknown result code 555"
    assert not unknown.paid and not unknown.found


def test_unknown_status_name_is_kept(httpserver: HTTPServer) -> None:
    httpserver.expect_request(TOKEN_PATH).respond_with_handler(TokenIssuer())
    httpserver.expect_request(STATUS_PATH).respond_with_json(status_body("PARTIAL_REFUND"))
    result = make_client(httpserver).status(INVOICE)
    assert result.status_name == "PARTIAL_REFUND"
    assert not result.paid and not result.pending and not result.failed


def test_status_retries_5xx_then_succeeds(httpserver: HTTPServer, sleeps: list[float]) -> None:
    httpserver.expect_request(TOKEN_PATH).respond_with_handler(TokenIssuer())
    httpserver.expect_request(STATUS_PATH).respond_with_handler(
        sequence(
            Response("busy", status=503),
            Response("<html>bad gateway</html>", status=502, content_type="text/html"),
            json_response(status_body("CHARGE")),
        )
    )
    client = make_client(httpserver, backoff=0.5)
    assert client.status(INVOICE).paid
    assert count(httpserver, STATUS_PATH) == 3
    # Jittered exponential: about 0.5 s, then about 1 s.
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.75
    assert 0.5 <= sleeps[1] <= 1.5


def test_token_request_retries_5xx(httpserver: HTTPServer, sleeps: list[float]) -> None:
    issuer = TokenIssuer()
    httpserver.expect_request(TOKEN_PATH).respond_with_handler(
        sequence(Response("down", status=500), issuer)
    )
    token = make_client(httpserver).payment_token(INVOICE, 100, secret_hash="h")
    assert token.access_token == "TOKEN-1"
    assert count(httpserver, TOKEN_PATH) == 2
    assert len(sleeps) == 1


def test_401_with_cached_token_refetches_once(httpserver: HTTPServer) -> None:
    issuer = TokenIssuer()
    httpserver.expect_request(TOKEN_PATH).respond_with_handler(issuer)
    httpserver.expect_request(STATUS_PATH).respond_with_handler(
        sequence(
            json_response(status_body()),
            Response("", status=401),  # the bank revoked TOKEN-1 early
            json_response(status_body()),
        )
    )
    client = make_client(httpserver)
    client.status(INVOICE)
    assert client.status(INVOICE).paid
    assert issuer.count == 2
    auths = [r.headers.get("Authorization") for r in requests_to(httpserver, STATUS_PATH)]
    assert auths == ["Bearer TOKEN-1", "Bearer TOKEN-1", "Bearer TOKEN-2"]


def test_refund_after_401_with_cached_token_is_sent_again_once(httpserver: HTTPServer) -> None:
    issuer = TokenIssuer()
    httpserver.expect_request(TOKEN_PATH).respond_with_handler(issuer)
    path = f"{API_PREFIX}/operation/{TX_ID}/refund"
    httpserver.expect_request(path, method="POST").respond_with_handler(
        sequence(Response("", status=401), Response("", status=200))
    )
    client = make_client(httpserver)
    client.service_token()
    result = client.refund(TX_ID, 50)
    assert result.operation == "refund"
    assert count(httpserver, path) == 2
    assert issuer.count == 2


def test_charge_full_and_partial(httpserver: HTTPServer) -> None:
    httpserver.expect_request(TOKEN_PATH).respond_with_handler(TokenIssuer())
    path = f"{API_PREFIX}/operation/{TX_ID}/charge"
    httpserver.expect_request(path, method="POST").respond_with_data("")
    client = make_client(httpserver)
    full = client.charge(TX_ID)
    part = client.charge(TX_ID, Decimal("99.5"))
    seen = requests_to(httpserver, path)
    assert [r.args.to_dict() for r in seen] == [{}, {"amount": "99.50"}]
    assert all(r.headers["Authorization"] == "Bearer TOKEN-1" for r in seen)
    assert (full.operation, full.transaction_id, full.amount, full.http_status) == (
        "charge", TX_ID, None, 200,
    )
    assert full.raw is None
    assert part.amount == Decimal("99.5")


def test_cancel(httpserver: HTTPServer) -> None:
    httpserver.expect_request(TOKEN_PATH).respond_with_handler(TokenIssuer())
    path = f"{API_PREFIX}/operation/{TX_ID}/cancel"
    httpserver.expect_request(path, method="POST").respond_with_json({"status": "ok"})
    result = make_client(httpserver).cancel(TX_ID)
    assert result.operation == "cancel"
    assert result.raw == {"status": "ok"}
    assert requests_to(httpserver, path)[0].args.to_dict() == {}


def test_refund_query_parameters(httpserver: HTTPServer) -> None:
    httpserver.expect_request(TOKEN_PATH).respond_with_handler(TokenIssuer())
    path = f"{API_PREFIX}/operation/{TX_ID}/refund"
    httpserver.expect_request(path, method="POST").respond_with_data("OK", status=200)
    client = make_client(httpserver)
    client.refund(TX_ID)
    client.refund(TX_ID, 10)
    result = client.refund(TX_ID, "25.30", external_id="refund-7")
    assert [r.args.to_dict() for r in requests_to(httpserver, path)] == [
        {}, {"amount": "10"}, {"amount": "25.30", "externalID": "refund-7"},
    ]
    assert result.external_id == "refund-7"
    assert result.amount == Decimal("25.30")
    assert result.raw is None  # "OK" is no JSON object, and still a success


def test_refund_under_minimum_is_refused_before_sending(httpserver: HTTPServer) -> None:
    httpserver.expect_request(TOKEN_PATH).respond_with_handler(TokenIssuer())
    client = make_client(httpserver)
    with pytest.raises(ValueError, match="at least 10"):
        client.refund(TX_ID, Decimal("9.99"))
    assert len(httpserver.log) == 0


def test_the_tenge_minimum_is_not_imposed_on_another_currency(httpserver: HTTPServer) -> None:
    # The vendor's minimum is 10 tenge; a 5-dollar refund is thousands of tenge.
    httpserver.expect_request(TOKEN_PATH).respond_with_handler(TokenIssuer())
    path = f"{API_PREFIX}/operation/{TX_ID}/refund"
    httpserver.expect_request(path, method="POST").respond_with_data("OK", status=200)
    make_client(httpserver, currency="USD").refund(TX_ID, Decimal("5"))
    assert [r.args.to_dict() for r in requests_to(httpserver, path)] == [{"amount": "5"}]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda c: c.status("12ab45"), "invoice_id"),
        (lambda c: c.status("12345"), "invoice_id"),
        (lambda c: c.refund("../../x", 20), "transaction_id"),
        (lambda c: c.charge(TX_ID, -5), "positive"),
        (lambda c: c.charge(TX_ID, Decimal("1.001")), "decimal"),
        (lambda c: c.charge(TX_ID, 0.1 + 0.2), "decimal"),  # float noise is refused
        (lambda c: c.payment_token("12", 100, secret_hash="h"), "invoiceID"),
        (lambda c: c.payment_token(INVOICE, "abc", secret_hash="h"), "not a number"),
        (lambda c: c.payment_token(INVOICE, 100, secret_hash="h", currency="kzt"), "currency"),
        (lambda c: c.payment_token(INVOICE, 1, secret_hash="h", post_link="/rel"), "postLink"),
    ],
)
def test_invalid_arguments_send_nothing(httpserver: HTTPServer, call: Any, match: str) -> None:
    client = make_client(httpserver)
    with pytest.raises(ValueError, match=match) as info:
        call(client)
    assert SECRET not in str(info.value)
    # marshmallow's error holds the input, secret included: it must not ride along.
    assert info.value.__context__ is None or info.value.__suppress_context__
    assert SECRET not in repr(info.value.__context__)
    assert len(httpserver.log) == 0


def test_one_debug_line_per_call_without_bodies(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request(TOKEN_PATH).respond_with_handler(TokenIssuer())
    httpserver.expect_request(STATUS_PATH).respond_with_json(status_body())
    client = make_client(httpserver)
    with caplog.at_level(logging.DEBUG, logger="flask_halyk.client"):
        client.status(INVOICE)
    lines = [r.getMessage() for r in caplog.records if r.name == "flask_halyk.client"]
    assert len(lines) == 2
    assert lines[0].startswith(f"POST {httpserver.url_for(TOKEN_PATH)} -> 200 in ")
    assert lines[1].startswith(f"GET {httpserver.url_for(STATUS_PATH)} -> 200 in ")
    assert all(SECRET not in line and "TOKEN-1" not in line for line in lines)


def test_from_config(httpserver: HTTPServer) -> None:
    config = resolve(
        {
            "HALYK_ENV": "test",
            "HALYK_EXTERNAL_URL": "https://shop.example.kz",
            "HALYK_CLIENT_ID": CLIENT_ID,
            "HALYK_CLIENT_SECRET": SECRET,
            "HALYK_TERMINAL_ID": TERMINAL,
            "HALYK_TOKEN_URL": httpserver.url_for(TOKEN_PATH),
            "HALYK_API_URL": httpserver.url_for(API_PREFIX) + "/",
            "HALYK_TIMEOUT": 3,
            "HALYK_RETRIES": 0,
            "HALYK_SCOPE": "payment",
            "SECRET_KEY": "k",
        }
    )
    issuer = TokenIssuer()
    httpserver.expect_request(TOKEN_PATH).respond_with_handler(issuer)
    httpserver.expect_request(STATUS_PATH).respond_with_json(status_body())
    with EpayClient.from_config(config) as client:
        assert client.timeout == (3.0, 3.0)
        assert client.retries == 0
        assert client.status(INVOICE).paid
    assert issuer.forms[0]["scope"] == "payment"
    assert SECRET not in repr(client)


def test_close_leaves_a_callers_session_open(httpserver: HTTPServer) -> None:
    import requests

    closed: list[bool] = []

    class Session(requests.Session):
        def close(self) -> None:
            closed.append(True)
            super().close()

    session = Session()
    make_client(httpserver, session=session).close()
    assert closed == []
    own = make_client(httpserver)
    own.transport.session = Session()
    own.close()
    assert closed == [True]


def test_through_wsgi_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same client code reaches an in-process WSGI app through the WSGIAdapter."""
    import requests
    from flask import Flask, jsonify, request

    from flask_halyk.epay import WSGIAdapter

    bank = Flask("fake-epay")
    seen: list[dict[str, Any]] = []

    @bank.post("/oauth2/token")
    def token() -> Any:
        seen.append(request.form.to_dict())
        return jsonify(access_token="IN-PROCESS", expires_in="7200", token_type="Bearer")

    @bank.get("/check-status/payment/transaction/<invoice>")
    def check(invoice: str) -> Any:
        assert request.headers["Authorization"] == "Bearer IN-PROCESS"
        return jsonify(status_body("AUTH"))

    session = requests.Session()
    session.mount("http://halyk-sandbox.internal", WSGIAdapter(bank))
    client = EpayClient(
        client_id=CLIENT_ID, client_secret=SECRET, terminal_id=TERMINAL,
        token_url="http://halyk-sandbox.internal/oauth2/token",
        api_url="http://halyk-sandbox.internal", session=session,
    )
    result = client.status(INVOICE)
    assert result.authorized and result.paid and not result.charged
    assert seen[0]["client_secret"] == SECRET
    assert "invoiceID" not in seen[0]


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": (float("nan"), 5)},
        {"timeout": (2, float("inf"))},
        {"timeout": (0, 5)},
        {"timeout": (2, 5, 7)},
        {"timeout": "5"},
        {"retries": -1},
        {"backoff": float("nan")},
        {"client_secret": ""},
        {"token_url": "/oauth2/token"},
        {"api_url": "ftp://epay.kz"},
    ],
)
def test_constructor_refuses_what_would_leave_a_call_unbounded_or_unsendable(
    httpserver: HTTPServer, options: dict[str, Any]
) -> None:
    with pytest.raises(ValueError) as info:
        make_client(httpserver, **options)
    assert isinstance(info.value, InvalidArgument)
    assert SECRET not in str(info.value)
