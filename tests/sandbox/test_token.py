from __future__ import annotations

import requests
from sandbox_helpers import get_token

from flask_halyk.config import TEST_CLIENT_SECRET, TEST_TERMINAL_ID
from flask_halyk.sandbox import Merchant, SandboxServer, create_sandbox_app


def test_payment_token_has_the_bank_shape(sandbox):
    response = get_token(sandbox.url)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "refresh_token", "scope", "token_type"}
    # Text, as the bank's own SDK decodes it; a number behind options.expires_in_as_text.
    assert body["expires_in"] == "7200" and body["token_type"] == "Bearer"
    assert body["scope"] == "payment"
    token = sandbox.sandbox.store.token(body["access_token"])
    assert token.invoice_id == "100001" and str(token.amount) == "100"
    assert token.secret_hash == "SECRETHASH123"


def test_multipart_and_curency_typo_are_accepted(sandbox):
    fields = {"grant_type": "client_credentials", "client_id": "test",
              "client_secret": TEST_CLIENT_SECRET, "terminal": TEST_TERMINAL_ID,
              "invoiceID": "123456", "amount": "250", "curency": "USD"}
    response = requests.post(f"{sandbox.url}/oauth2/token",
                             files={k: (None, v) for k, v in fields.items()}, timeout=10)
    assert response.status_code == 200, response.text
    token = sandbox.sandbox.store.token(response.json()["access_token"])
    assert token.currency == "USD"


def test_service_token_without_invoice(sandbox):
    response = get_token(sandbox.url, None, None)
    assert response.status_code == 200
    assert sandbox.sandbox.store.token(response.json()["access_token"]).invoice_id is None


def test_bad_credentials_are_401(sandbox):
    for extra in ({"client_secret": "wrong"}, {"client_id": "nobody"},
                  {"terminal": "00000000-0000-0000-0000-000000000000"}):
        response = get_token(sandbox.url, **extra)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert TEST_CLIENT_SECRET not in response.text


def test_missing_fields_and_bad_values_are_400(sandbox):
    response = requests.post(f"{sandbox.url}/oauth2/token", data={"grant_type":
                             "client_credentials"}, timeout=10)
    assert response.status_code == 400 and "client_id" in response.json()["error_description"]
    for invoice in ("12345", "1234567890123456", "12a456"):
        assert get_token(sandbox.url, invoice).status_code == 400
    for amount in ("-1", "abc", "1.001", "NaN"):
        assert get_token(sandbox.url, amount=amount).status_code == 400


def test_custom_merchants():
    shop = Merchant("shop", "s3cret", "11111111-2222-3333-4444-555555555555")
    with SandboxServer(create_sandbox_app(merchants=[shop])) as server:
        assert get_token(server.url).status_code == 401
        ok = get_token(server.url, client_id="shop", client_secret="s3cret",
                       terminal=shop.terminal_id)
        assert ok.status_code == 200
    assert "s3cret" not in repr(shop)


def test_expires_in_as_a_number_behind_its_switch_and_the_older_token_path(sandbox):
    sandbox.sandbox.options.expires_in_as_text = False
    assert get_token(sandbox.url).json()["expires_in"] == 7200
    older = requests.post(f"{sandbox.url}/epay2/oauth2/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": "test",
        "client_secret": TEST_CLIENT_SECRET, "terminal": TEST_TERMINAL_ID})
    assert older.status_code == 200 and older.json()["access_token"]
