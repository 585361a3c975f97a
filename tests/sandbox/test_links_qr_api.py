"""The sandbox's payment-link and QR endpoints on the wire (a standalone sandbox app and its test
client): the password grant, ``/invoice``'s refusals and answer, ``/payment/qr/generate`` and
``GET /qr`` with their tokens."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from flask_halyk.config import (
    SANDBOX_SHOP_ID,
    TEST_CABINET_PASSWORD,
    TEST_CABINET_USERNAME,
    TEST_CLIENT_SECRET,
    TEST_TERMINAL_ID,
)
from flask_halyk.sandbox import create_sandbox_app

CLIENT = {"client_id": "test", "client_secret": TEST_CLIENT_SECRET}


def client() -> FlaskClient:
    return create_sandbox_app(admin_routes=False).test_client()


def password_token(http: FlaskClient, password: str = TEST_CABINET_PASSWORD) -> Any:
    return http.post("/oauth2/token", data={
        **CLIENT, "grant_type": "password", "username": TEST_CABINET_USERNAME,
        "password": password, "scope": "webapi payment"})


def invoice(http: FlaskClient, token: str, **fields: Any) -> Any:
    body = {"shop_id": SANDBOX_SHOP_ID, "invoice_id": "25458124232312321", "amount": 100,
            "language": "rus", "description": "x", "expire_period": "1d",
            "recipient_contact": "a@b.kz", "recipient_contact_sms": "+777711111111",
            "post_link": "https://shop.kz/p", "failure_post_link": "https://shop.kz/f", **fields}
    return http.post("/api/invoice", json=body, headers={"Authorization": f"Bearer {token}"})


def test_the_password_grant_answers_as_the_invoice_page_shows() -> None:
    http = client()
    answer = password_token(http).get_json()
    assert answer["expires_in"] == "900" and answer["refresh_token"]
    assert answer["scope"] == "webapi payment" and answer["token_type"] == "Bearer"
    refused = password_token(http, "wrong")
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_grant"


def test_invoice_takes_a_password_grant_token_unless_told_otherwise() -> None:
    http = client()
    service = http.post("/oauth2/token", data={
        **CLIENT, "grant_type": "client_credentials", "terminal": TEST_TERMINAL_ID}).get_json()
    assert invoice(http, service["access_token"]).status_code == 401
    http.application.extensions["halyk_sandbox"].options.invoice_client_credentials = True
    assert invoice(http, service["access_token"]).status_code == 200


def test_invoice_answers_the_recorded_fields_and_refuses_as_documented() -> None:
    http = client()
    token = password_token(http).get_json()["access_token"]
    made = invoice(http, token)
    assert made.status_code == 200
    body = made.get_json()
    assert set(body) == {
        "id", "shop_id", "amount", "invoice_id", "invoice_alt", "language", "currency",
        "description", "account_id", "recipient_contact", "recipient_contact_sms",
        "notifier_contact", "notifier_contact_sms", "expire_period", "post_link",
        "failure_post_link", "back_link", "failure_back_link", "created_date", "expire_date",
        "status", "updated_date", "invoice_url", "merchant_id", "terminal_id", "card_save",
        "data"}
    # The vendor's own 17-digit invoice id is taken.
    assert body["invoice_id"] == "25458124232312321" and body["language"] == "ru"
    assert body["invoice_url"] == f"http://localhost/api/redirect/invoice-link/{body['id']}"
    assert http.get(f"/api/redirect/invoice-link/{body['id']}").status_code == 200
    bad_phone = invoice(http, token, recipient_contact_sms="call me")
    assert bad_phone.status_code == 400 and bad_phone.get_json()["code"] == 1079
    assert invoice(http, token, shop_id="another").get_json()["code"] == 100
    assert invoice(http, token, expire_period="soon").status_code == 400
    assert invoice(http, token, post_link="https//mail.ru").status_code == 400
    assert invoice(http, token, amount=0).status_code == 400


def test_qr_generate_and_status_with_their_tokens() -> None:
    http = client()
    token = http.post("/oauth2/token", data={
        **CLIENT, "grant_type": "client_credentials", "terminal": TEST_TERMINAL_ID,
        "invoiceID": "000777123", "amount": "100", "currency": "KZT"}).get_json()
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    made = http.post("/payment/qr/generate", headers=auth, json={
        "postLink": "https://shop.kz/p", "failurePostLink": "https://shop.kz/f",
        "description": "x", "language": "ru"})
    assert made.status_code == 200
    bill = made.get_json()
    assert set(bill) == {"qrcode", "billNumber", "homebankLink", "onlinebankLink"}
    status = http.get(f"/api/qr?billNumber={bill['billNumber']}", headers=auth)
    assert status.get_json()["status"] == "NEW"
    assert http.get("/qr?billNumber=1", headers=auth).status_code == 404
    assert http.get(f"/qr?billNumber={bill['billNumber']}").status_code == 401
    refused = http.post("/payment/qr/generate", headers=auth,
                        json={"postLink": "not a url", "description": "x"})
    assert refused.status_code == 400 and refused.get_json()["code"] == 100
