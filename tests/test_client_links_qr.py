"""EpayClient's payment-link and QR calls against a fake ePay (pytest-httpserver): the password
grant's form, /invoice's JSON body, never retried (a 503 is one request), no password in any
message; QR generate never retried, its status retried."""

from __future__ import annotations

import json

import pytest
from client_fixtures import (
    API_PREFIX,
    SECRET,
    TOKEN_PATH,
    TokenIssuer,
    json_response,
    make_client,
    requests_to,
)
from client_fixtures import count as count_requests
from pytest_httpserver import HTTPServer

from flask_halyk.epay import transport
from flask_halyk.errors import ApiError, EpayUnavailable, InvalidArgument

PASSWORD = "Cab1net-Pa55-Never-Shown"
INVOICE_PATH = f"{API_PREFIX}/invoice"


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "_sleep", lambda _seconds: None)


def send(server: HTTPServer, **kwargs: object) -> object:
    client = make_client(server)
    options: dict[str, object] = {
        "username": "shop@example.kz", "password": PASSWORD, "shop_id": "shop-uuid",
        "description": "Order 7", "post_link": "https://shop.kz/halyk/postlink",
        "failure_post_link": "https://shop.kz/halyk/failure-postlink",
        "recipient_email": "a@b.kz", **kwargs}
    return client.create_invoice_link("000123456", "1500.50", **options)  # type: ignore[arg-type]


def test_the_password_grant_and_the_body(httpserver: HTTPServer) -> None:
    tokens = TokenIssuer(expires_in="900")
    httpserver.expect_request(TOKEN_PATH, method="POST").respond_with_handler(tokens)
    httpserver.expect_request(INVOICE_PATH, method="POST").respond_with_json({
        "id": "5b5c", "invoice_id": "000123456", "invoice_url": "https://epay.kz/i/5b5c",
        "status": "ACTIVE", "expire_period": "1d",
        "created_date": "2025-02-07T21:22:44.382801591+05:00",
        "expire_date": "2025-02-08T21:22:44.382801591+05:00",
        "updated_date": "0001-01-01T00:00:00Z"})
    link = send(httpserver)
    form = tokens.forms[0]
    assert form["grant_type"] == "password" and form["username"] == "shop@example.kz"
    assert form["password"] == PASSWORD and form["client_secret"] == SECRET
    assert "terminal" not in form
    (request,) = requests_to(httpserver, INVOICE_PATH)
    body = json.loads(request.get_data())
    assert request.headers["Authorization"] == "Bearer TOKEN-1"
    assert body["amount"] == 1500.5 and body["shop_id"] == "shop-uuid"
    assert body["recipient_contact"] == "a@b.kz" and body["expire_period"] == "1d"
    assert body["post_link"] == "https://shop.kz/halyk/postlink"
    assert link.invoice_url == "https://epay.kz/i/5b5c"  # type: ignore[attr-defined]
    assert link.expire_date.isoformat() == "2025-02-08T21:22:44.382801+05:00"  # type: ignore[attr-defined]


def test_invoice_is_never_retried_and_never_quotes_the_password(httpserver: HTTPServer) -> None:
    httpserver.expect_request(TOKEN_PATH, method="POST").respond_with_handler(TokenIssuer())
    httpserver.expect_request(INVOICE_PATH, method="POST").respond_with_data(
        f"password={PASSWORD}", status=503)
    with pytest.raises(EpayUnavailable) as caught:
        send(httpserver)
    assert count_requests(httpserver, INVOICE_PATH) == 1
    assert "never retried" in str(caught.value) and PASSWORD not in str(caught.value)


def test_the_bank_s_refusal_and_a_script_url(httpserver: HTTPServer) -> None:
    httpserver.expect_request(TOKEN_PATH, method="POST").respond_with_handler(TokenIssuer())
    httpserver.expect_oneshot_request(INVOICE_PATH, method="POST").respond_with_response(
        json_response({"code": 1079, "message": "invalid phone"}, 400))
    with pytest.raises(ApiError) as caught:
        send(httpserver)
    assert caught.value.code == 1079
    httpserver.expect_oneshot_request(INVOICE_PATH, method="POST").respond_with_json(
        {"id": "x", "invoice_url": "javascript:alert(1)"})
    with pytest.raises(Exception, match="invoice_url"):
        send(httpserver)


def test_bad_input_sends_nothing(httpserver: HTTPServer) -> None:
    for kwargs in ({"recipient_email": None}, {"recipient_phone": "12"},
                   {"expire_period": "24h"}, {"password": ""}):
        with pytest.raises(InvalidArgument):
            send(httpserver, **kwargs)
    assert count_requests(httpserver, TOKEN_PATH) == 0


def test_qr_generate_is_not_retried_and_status_is(httpserver: HTTPServer) -> None:
    httpserver.expect_request(TOKEN_PATH, method="POST").respond_with_handler(TokenIssuer())
    client = make_client(httpserver)
    token = client.payment_token("000123456", "100", secret_hash="H" * 16)
    httpserver.expect_request(f"{API_PREFIX}/payment/qr/generate").respond_with_data(
        "down", status=503)
    with pytest.raises(EpayUnavailable):
        client.create_qr(token, description="x", post_link="https://s.kz/p",
                         failure_post_link="https://s.kz/f")
    assert count_requests(httpserver, f"{API_PREFIX}/payment/qr/generate") == 1
    httpserver.expect_request(f"{API_PREFIX}/qr").respond_with_data("down", status=503)
    with pytest.raises(EpayUnavailable):
        client.qr_status("123", token)
    assert count_requests(httpserver, f"{API_PREFIX}/qr") == 3  # retries=2
