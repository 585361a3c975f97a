"""The sandbox answers as the bank does where its pages, SDK or production clients say how
(issue 9, items 4 to 8), and its switches where they do not (docs/sandbox.md, "Fidelity")."""

from __future__ import annotations

import re

import pytest
import requests
from sandbox_helpers import (
    full_payment,
    get_token,
    open_page,
    pay,
    payment_object,
    service_token,
)

from flask_halyk.config import TEST_CLIENT_SECRET, TEST_TERMINAL_ID
from flask_halyk.sandbox import Merchant, SandboxServer, create_sandbox_app

STATUS = "/check-status/payment/transaction/{}"


def _api(url, method, path, token, **kwargs):
    return requests.request(method, url + path, timeout=10,
                            headers={"Authorization": f"Bearer {token}"}, **kwargs)


def _status(url, invoice, token):
    return _api(url, "GET", STATUS.format(invoice), token).json()


# --- item 4: answers production clients decode -------------------------------------------

def test_status_has_the_fields_and_types_clients_decode(sandbox):
    full_payment(sandbox.url, invoice_id="300001")
    tx = _status(sandbox.url, "300001", service_token(sandbox.url))["transaction"]
    assert tx["terminal"] == "98120001"  # the processing terminal of the vendor's example
    assert tx["terminalID"] == TEST_TERMINAL_ID
    assert tx["secure"] is False and isinstance(tx["reasonCode"], str)
    for key in ("statusID", "xlsRRN", "ipRegion", "ipDistrict", "ipLatitude", "ipLongitude",
                "intReference", "orgAmount", "payoutAmount"):
        assert key in tx, key
    assert isinstance(tx["statusID"], str) and tx["xlsRRN"] == tx["reference"]
    assert re.fullmatch(r"[0-9A-F]{16}", tx["intReference"])
    assert "refundedAmount" not in tx


def test_status_of_a_3ds_payment_is_secure_true(sandbox):
    full_payment(sandbox.url, "4000000000003121", "300002")  # pays at the 3-D Secure step
    checkout = next(c for c in sandbox.sandbox.store.checkouts.values()
                    if c.token.invoice_id == "300002")
    requests.post(f"{sandbox.url}/payform/3ds", timeout=10,
                  data={"checkout": checkout.id, "code": "123456"})
    tx = _status(sandbox.url, "300002", service_token(sandbox.url))["transaction"]
    assert tx["secure"] is True and tx["statusName"] == "CHARGE"


def test_a_merchant_of_its_own_gets_a_stable_8_digit_processing_terminal():
    merchant = Merchant("shop", "secret", "11111111-2222-3333-4444-555555555555")
    assert re.fullmatch(r"98\d{6}", merchant.tid)
    assert merchant.tid == Merchant("x", "y", merchant.terminal_id).tid


def test_a_service_token_without_terminal_gets_result_code_104(sandbox):
    full_payment(sandbox.url, invoice_id="300003")
    no_terminal = requests.post(f"{sandbox.url}/oauth2/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": "test",
        "client_secret": TEST_CLIENT_SECRET}).json()["access_token"]
    body = _status(sandbox.url, "300003", no_terminal)
    assert body["resultCode"] == "104" and "transaction" not in body


# --- item 5: money in operations ---------------------------------------------------------

def test_a_form_encoded_amount_is_honoured(two_stage):
    token = service_token(two_stage.url)
    full_payment(two_stage.url, amount=1500)
    tid = two_stage.transactions[-1].id
    charged = _api(two_stage.url, "POST", f"/operation/{tid}/charge", token,
                   data={"amount": "1000"})
    assert charged.status_code == 200
    assert str(two_stage.transactions[-1].charged) == "1000"
    refunded = _api(two_stage.url, "POST", f"/operation/{tid}/refund", token,
                    data={"amount": "100", "externalID": "r1"})
    assert refunded.status_code == 200
    t = two_stage.transactions[-1]
    assert (str(t.refunded), t.status, t.refunds[-1]["externalID"]) == ("100", "CHARGE", "r1")


def test_query_and_body_amounts_that_differ_are_refused(two_stage):
    token = service_token(two_stage.url)
    full_payment(two_stage.url, amount=1500)
    tid = two_stage.transactions[-1].id
    path = f"/operation/{tid}/charge"
    for body in ({"json": {"amount": 1200}}, {"data": {"amount": "1200"}}):
        refused = _api(two_stage.url, "POST", path, token, params={"amount": "1000"}, **body)
        assert refused.status_code == 400
        assert refused.json()["code"] == 100 and "differ" in refused.json()["message"]
    assert two_stage.transactions[-1].status == "AUTH"
    garbage = requests.post(two_stage.url + path, data=b"amount: 1000", timeout=10, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "text/plain"})
    assert garbage.status_code == 400 and garbage.json()["code"] == 100
    same = _api(two_stage.url, "POST", path, token, params={"amount": "1000"},
                json={"amount": 1000.00})
    assert same.status_code == 200 and str(two_stage.transactions[-1].charged) == "1000"


# --- item 6: not stricter than the bank ---------------------------------------------------

def test_a_payment_token_operates_on_its_own_invoice_only(sandbox):
    full_payment(sandbox.url, invoice_id="300010")
    full_payment(sandbox.url, invoice_id="300011")
    own, other = sandbox.transactions[-2], sandbox.transactions[-1]
    token = next(t for t in sandbox.sandbox.store.tokens.values()
                 if t.invoice_id == "300010").access_token
    assert _api(sandbox.url, "POST", f"/operation/{other.id}/refund", token).status_code == 400
    assert _api(sandbox.url, "POST", f"/operation/{own.id}/refund", token).status_code == 200
    assert own.status == "REFUND" and other.status == "CHARGE"


@pytest.mark.parametrize(("mode", "answers", "refunded"), [
    ("repeat", (200, 200), "60"), ("refuse", (200, 400), "30"), ("idempotent", (200, 200), "30")])
def test_a_repeated_refund_external_id(sandbox, mode, answers, refunded):
    sandbox.sandbox.options.refund_external_id = mode
    token = service_token(sandbox.url)
    full_payment(sandbox.url, amount=100)
    tid = sandbox.transactions[-1].id
    got = tuple(_api(sandbox.url, "POST", f"/operation/{tid}/refund", token,
                     params={"amount": "30", "externalID": "order-1"}).status_code
                for _ in range(2))
    assert got == answers and str(sandbox.transactions[-1].refunded) == refunded


def test_unknown_endpoints_answer_the_bank_json_error_shape(sandbox):
    token = service_token(sandbox.url)
    for method, path in (("GET", "/no/such/path"), ("GET", "/operation/x/refund"),
                         ("POST", "/check-status/payment/transaction/1"),
                         ("POST", "/operation/x/dance")):
        answer = _api(sandbox.url, method, path, token)
        assert answer.status_code in (404, 405), path
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.json()["code"] == 100 and answer.json()["message"]


def test_the_api_is_served_with_and_without_the_api_prefix(sandbox):
    token = service_token(sandbox.url)
    full_payment(sandbox.url, invoice_id="300020")
    tid = sandbox.transactions[-1].id
    assert _status(sandbox.url + "/api", "300020", token)["transaction"]["id"] == tid
    assert _api(sandbox.url + "/api", "POST", f"/operation/{tid}/refund", token,
                params={"amount": "10"}).status_code == 200
    assert str(sandbox.transactions[-1].refunded) == "10"


# --- item 7: card verification ------------------------------------------------------------

def test_card_verification_ends_as_verified(sandbox, receiver):
    token = service_token(sandbox.url)
    auth = get_token(sandbox.url, "300030", "0", currency="USD",
                     postLink=f"{receiver.url}/ok").json()
    page = open_page(sandbox.url, payment_object(auth, "300030", 0, currency="USD",
                                                 cardSave=True))
    assert 'name="save_card"' in page.text
    pay(sandbox.url, page.text, "4405639704015096", save_card=True)
    t = sandbox.transactions[-1]
    assert (t.status, str(t.charged)) == ("VERIFIED", "0")
    body = _status(sandbox.url, "300030", token)
    assert body["resultCode"] == "100" and body["transaction"]["statusName"] == "VERIFIED"
    [(_, postlink, _)] = receiver.wait(1)
    assert postlink["code"] == "ok" and postlink["amount"] == 0 and postlink["cardId"]
    assert body["transaction"]["cardID"] == postlink["cardId"] == t.card_id
    for operation in ("charge", "cancel", "refund"):
        assert _api(sandbox.url, "POST", f"/operation/{t.id}/{operation}",
                    token).status_code == 400


# --- item 8: secret_hash in postLinks -----------------------------------------------------

@pytest.mark.parametrize("echoed", [True, False])
def test_postlinks_carry_the_secret_hash_or_not_by_switch(sandbox, receiver, echoed):
    sandbox.sandbox.options.postlink_secret_hash = echoed
    full_payment(sandbox.url, postLink=f"{receiver.url}/ok")
    [(_, body, _)] = receiver.wait(1)
    assert ("secret_hash" in body) is echoed
    if echoed:
        assert body["secret_hash"] == "SECRETHASH123"


# --- the switches -------------------------------------------------------------------------

def test_options_are_switched_over_http_on_a_standalone_sandbox(sandbox):
    url = f"{sandbox.url}/_sandbox/options"
    assert requests.get(url, timeout=10).json()["two_stage"] is False
    changed = requests.post(url, json={"two_stage": True, "refund_external_id": "refuse"},
                            timeout=10)
    assert changed.status_code == 200 and sandbox.sandbox.two_stage
    assert requests.post(url, json={"nope": 1}, timeout=10).status_code == 400
    assert requests.post(url, json={"refund_external_id": "maybe"}, timeout=10).status_code \
        == 400
    assert requests.post(url, json={"reset": True}, timeout=10).json()["two_stage"] is False
    full_payment(sandbox.url)
    assert sandbox.transactions[-1].status == "CHARGE"


def test_the_test_terminal_is_one_stage_or_two_stage_by_switch():
    with SandboxServer(create_sandbox_app()) as server:
        full_payment(server.url, invoice_id="300040")
        server.sandbox.options.two_stage = True
        full_payment(server.url, invoice_id="300041")
        assert [t.status for t in server.transactions] == ["CHARGE", "AUTH"]
        server.sandbox.wait_for_postlinks(5)


def test_status_amount_after_refunds_by_switch(sandbox):
    token = service_token(sandbox.url)
    full_payment(sandbox.url, invoice_id="300050", amount=100)
    tid = sandbox.transactions[-1].id
    _api(sandbox.url, "POST", f"/operation/{tid}/refund", token, params={"amount": "40"})
    tx = _status(sandbox.url, "300050", token)["transaction"]
    assert (tx["amount"], tx["orgAmount"], tx["payoutAmount"]) == (100, 100, 40)
    sandbox.sandbox.options.status_amount_after_refunds = True
    tx = _status(sandbox.url, "300050", token)["transaction"]
    assert (tx["amount"], tx["orgAmount"], tx["payoutAmount"]) == (60, 100, 40)
