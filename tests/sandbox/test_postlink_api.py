from __future__ import annotations

import threading
import time
import uuid

import requests
from flask import Flask, request
from sandbox_helpers import full_payment, service_token
from werkzeug.serving import make_server

from flask_halyk.config import SHOP_INTERNAL_ORIGIN
from flask_halyk.sandbox import SandboxServer, create_sandbox_app

VENDOR_SUCCESS_KEYS = {
    "accountId", "amount", "approvalCode", "cardId", "cardMask", "cardType", "code", "currency",
    "dateTime", "description", "email", "id", "invoiceId", "ip", "ipCity", "ipCountry",
    "ipDistrict", "ipLatitude", "ipLongitude", "ipRegion", "issuer", "language", "name",
    "phone", "reason", "reasonCode", "reference", "secure", "secureDetails", "terminal"}
VENDOR_FAILURE_KEYS = {
    "id", "dateTime", "invoiceId", "invoiceIdAlt", "amount", "currency", "terminal",
    "accountId", "description", "language", "cardMask", "cardType", "issuer", "reference",
    "secure", "secureDetails", "tokenRecipient", "code", "reason", "reasonCode", "name",
    "email", "phone", "ip", "ipCountry", "ipCity", "ipRegion", "ipDistrict", "ipLongitude",
    "ipLatitude"}


def test_success_postlink_has_every_field(sandbox, receiver):
    full_payment(sandbox.url, postLink=f"{receiver.url}/ok", failurePostLink=f"{receiver.url}/f")
    [(path, body, ctype)] = receiver.wait(1)
    assert path == "ok" and ctype == "application/json"
    assert VENDOR_SUCCESS_KEYS | VENDOR_FAILURE_KEYS | {"secret_hash"} <= set(body)
    t = sandbox.transactions[-1]
    assert body["id"] == t.id and body["code"] == "ok" and body["reasonCode"] == 0
    assert body["secret_hash"] == "SECRETHASH123" and body["amount"] == 100
    assert body["cardMask"] == "440563...5096" and body["cardType"] == "VISA"
    assert body["dateTime"].endswith("+05:00") and body["language"] == "RUS"
    assert body["invoiceId"] == "100001" and len(body["reference"]) == 12


def test_failure_goes_to_failure_postlink_or_falls_back(sandbox, receiver):
    full_payment(sandbox.url, "4003032704547597", "300001",
                 postLink=f"{receiver.url}/ok", failurePostLink=f"{receiver.url}/fail")
    full_payment(sandbox.url, "4003032704547597", "300002", postLink=f"{receiver.url}/ok")
    bodies = receiver.wait(2)
    by_invoice = {b["invoiceId"]: (p, b) for p, b, _ in bodies}
    assert by_invoice["300001"][0] == "fail" and by_invoice["300002"][0] == "ok"
    body = by_invoice["300001"][1]
    assert body["code"] == "error" and body["reasonCode"] == 465 and body["reason"]


def test_postlink_from_the_token_request_is_used(sandbox, receiver):
    from sandbox_helpers import get_token, open_page, pay, payment_object
    auth = get_token(sandbox.url, postLink=f"{receiver.url}/tok").json()
    page = open_page(sandbox.url, payment_object(auth))
    pay(sandbox.url, page.text, "4405639704015096")
    assert receiver.wait(1)[0][0] == "tok"


def test_embedded_delivers_in_process():
    shop = Flask("shop")
    got = []

    @shop.post("/halyk/postlink")
    def postlink() -> str:
        got.append((request.host_url, request.get_json()))
        return "ok"

    with SandboxServer(create_sandbox_app(local_app=shop)) as server:
        # The postLink names the shop's fixed in-process origin: nothing listens there over
        # HTTP (it is not even resolved), so only an in-process delivery can reach the shop.
        full_payment(server.url, postLink=f"{SHOP_INTERNAL_ORIGIN}/halyk/postlink")
        server.sandbox.wait_for_postlinks(10)
        assert got and got[0][1]["code"] == "ok"
        assert got[0][0] == f"{SHOP_INTERNAL_ORIGIN}/"
        assert server.deliveries[0].in_process and server.deliveries[0].status == 200


def test_embedded_delivers_in_process_to_the_shops_own_origins_only():
    shop = Flask("shop")
    got = []

    @shop.post("/halyk/postlink")
    def postlink() -> str:
        got.append(request.host_url)
        return "ok"

    own = ["https://shop.example.kz"]
    with SandboxServer(create_sandbox_app(local_app=shop, local_origins=lambda: own)) as server:
        full_payment(server.url, postLink="https://Shop.Example.kz/halyk/postlink")
        server.sandbox.wait_for_postlinks(10)
        assert got == ["https://shop.example.kz/"]
        assert server.deliveries[0].in_process
        # The page's own origin (what a browser's Host said) is not the shop's: over HTTP.
        full_payment(server.url, invoice_id="100002", postLink=f"{server.url}/halyk/postlink")
        server.sandbox.wait_for_postlinks(10)
        assert not server.deliveries[1].in_process
        assert got == ["https://shop.example.kz/"]


def _api(url, method, path, token, **kw):
    return requests.request(method, f"{url}{path}", headers={"Authorization": f"Bearer {token}"},
                            timeout=10, **kw)


def test_status(sandbox):
    token = service_token(sandbox.url)
    assert requests.get(f"{sandbox.url}/check-status/payment/transaction/100001",
                        timeout=10).status_code == 401
    payment_token = sandbox.sandbox.store.tokens
    missing = _api(sandbox.url, "GET", "/check-status/payment/transaction/100001", token)
    assert missing.status_code == 200 and missing.json()["resultCode"] == "102"
    full_payment(sandbox.url)
    body = _api(sandbox.url, "GET", "/check-status/payment/transaction/100001", token).json()
    assert body["resultCode"] == "100"
    tx = body["transaction"]
    assert tx["statusName"] == "CHARGE" and tx["invoiceID"] == "100001"
    for key in ("accountID", "cardID", "terminalID", "id", "amount", "cardMask", "reference"):
        assert key in tx
    assert tx["id"] == sandbox.transactions[-1].id
    pay_tokens = [t for t in payment_token.values() if t.invoice_id]
    # A payment token asks about its own invoice (integrations do), not about another.
    own = _api(sandbox.url, "GET", "/check-status/payment/transaction/100001",
               pay_tokens[0].access_token)
    assert own.status_code == 200 and own.json()["transaction"]["id"] == tx["id"]
    assert _api(sandbox.url, "GET", "/check-status/payment/transaction/100002",
                pay_tokens[0].access_token).status_code == 401
    full_payment(sandbox.url, "4003032704547597", "100002")
    rejected = _api(sandbox.url, "GET", "/check-status/payment/transaction/100002", token).json()
    assert rejected["resultCode"] == "101" and rejected["transaction"]["statusName"] == "REJECT"


def test_one_stage_rules_and_refunds(sandbox):
    token = service_token(sandbox.url)
    full_payment(sandbox.url, amount=100)
    tid = sandbox.transactions[-1].id

    def op(name, **kw):
        return _api(sandbox.url, "POST", f"/operation/{tid}/{name}", token, **kw)

    for name in ("charge", "cancel"):
        refused = op(name)
        assert refused.status_code == 400 and refused.json()["code"] == 100
    assert op("refund", params={"amount": "9"}).status_code == 400  # minimum 10
    assert op("refund", params={"amount": "30", "externalID": "r1"}).status_code == 200
    assert op("refund", json={"amount": 50, "externalID": "r2"}).status_code == 200
    over = op("refund", params={"amount": "21"})
    assert over.status_code == 400 and "exceeds" in over.json()["message"]
    assert sandbox.transactions[-1].status == "CHARGE"
    assert op("refund").status_code == 200  # the remaining 20
    assert sandbox.transactions[-1].status == "REFUND"
    assert op("refund", params={"amount": "10"}).status_code == 400
    assert _api(sandbox.url, "POST", "/operation/nope/refund", token).status_code == 400
    assert requests.post(f"{sandbox.url}/operation/{tid}/refund", timeout=10).status_code == 401


def test_two_stage(two_stage, receiver):
    url = two_stage.url
    token = service_token(url)
    full_payment(url, amount=100, invoice_id="400001")
    full_payment(url, amount=100, invoice_id="400002")
    first, second = (t.id for t in two_stage.transactions)
    assert {t.status for t in two_stage.transactions} == {"AUTH"}
    assert _api(url, "POST", f"/operation/{first}/refund", token).status_code == 400
    assert _api(url, "POST", f"/operation/{first}/charge", token,
                params={"amount": "101"}).status_code == 400
    assert _api(url, "POST", f"/operation/{first}/charge", token,
                params={"amount": "80"}).status_code == 200
    status = _api(url, "GET", "/check-status/payment/transaction/400001", token).json()
    assert status["transaction"]["statusName"] == "CHARGE"
    assert _api(url, "POST", f"/operation/{first}/charge", token).status_code == 400
    assert _api(url, "POST", f"/operation/{first}/refund", token,
                params={"amount": "81"}).status_code == 400
    assert _api(url, "POST", f"/operation/{second}/cancel", token).status_code == 200
    assert _api(url, "POST", f"/operation/{second}/cancel", token).status_code == 400
    assert _api(url, "POST", f"/operation/{second}/charge", token).status_code == 400


def test_instances_are_isolated():
    with SandboxServer() as a, SandboxServer() as b:
        token_a = service_token(a.url)
        full_payment(a.url)
        assert len(a.transactions) == 1 and not b.transactions
        assert _api(b.url, "GET", "/check-status/payment/transaction/100001",
                    token_a).status_code == 401
        a.faults.token_error = 503
        assert requests.post(f"{a.url}/oauth2/token", timeout=10).status_code == 503
        assert service_token(b.url)


def test_faults(sandbox, receiver):
    url = sandbox.url
    sandbox.faults.drop_postlink = True
    full_payment(url, postLink=f"{receiver.url}/ok")
    sandbox.sandbox.wait_for_postlinks(5)
    time.sleep(0.2)
    assert not receiver.bodies and sandbox.deliveries[0].error
    set_ = requests.post(f"{url}/_sandbox/faults", json={"reset": True,
                         "duplicate_postlink": True}, timeout=10)
    assert set_.status_code == 200 and set_.json()["drop_postlink"] is False
    full_payment(url, invoice_id="100002", postLink=f"{receiver.url}/ok")
    bodies = receiver.wait(2)
    assert len(bodies) == 2 and bodies[0][1] == bodies[1][1]
    assert requests.post(f"{url}/_sandbox/faults", json={"nope": 1}, timeout=10).status_code == 400
    assert requests.post(f"{url}/_sandbox/faults", json={"token_delay": -1},
                         timeout=10).status_code == 400
    requests.post(f"{url}/_sandbox/faults", json={"reset": True, "token_delay": 0.5,
                                                  "status_garbage": True}, timeout=10)
    started = time.monotonic()
    token = service_token(url)
    assert time.monotonic() - started >= 0.5
    garbage = _api(url, "GET", "/check-status/payment/transaction/100001", token)
    assert garbage.status_code == 200 and "json" not in garbage.headers["Content-Type"]
    sandbox.faults.update({"status_garbage": False, "status_error": 502, "token_delay": 0,
                           "operation_error": 500})
    assert _api(url, "GET", "/check-status/payment/transaction/100001", token).status_code == 502
    tid = sandbox.transactions[-1].id
    assert _api(url, "POST", f"/operation/{tid}/refund", token).status_code == 500
    listing = requests.get(f"{url}/_sandbox/transactions", timeout=10).json()
    assert [t["invoiceID"] for t in listing] == ["100001", "100002"]
    assert len(requests.get(f"{url}/_sandbox/postlinks", timeout=10).json()) == 3


def test_postlink_is_sent_in_the_background(sandbox):
    """The payment page answers while the shop is still busy with the postLink, as the bank's."""
    release, arrived = threading.Event(), threading.Event()
    shop = Flask("slow-shop")

    @shop.post("/halyk/postlink")
    def postlink() -> str:
        arrived.set()
        release.wait(30)
        return "ok"

    # In this process: the view waits on the test's own Events (pytest-flask's live_server
    # would run a forked copy of them).
    server = make_server("127.0.0.1", 0, shop, threaded=True)
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/halyk/postlink"
        result = full_payment(sandbox.url, postLink=url)  # would block until release if inline
        assert 'data-success="true"' in result.text
        assert arrived.wait(10)
        assert not sandbox.deliveries  # still in flight
        release.set()
        sandbox.sandbox.wait_for_postlinks(10)
        [delivery] = sandbox.deliveries
        assert delivery.status == 200 and str(uuid.UUID(delivery.body["id"])) == delivery.body["id"]
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_postlink_delay_fault(sandbox, receiver):
    sandbox.faults.postlink_delay = 0.5
    started = time.monotonic()
    full_payment(sandbox.url, postLink=f"{receiver.url}/ok")
    assert receiver.wait(1)
    assert time.monotonic() - started >= 0.5


def test_operation_faults_and_bad_amounts(sandbox):
    token = service_token(sandbox.url)
    full_payment(sandbox.url, amount=100)
    tid = sandbox.transactions[-1].id
    path = f"/operation/{tid}/refund"
    for amount in ("0", "-5", "abc", "10.001"):
        refused = _api(sandbox.url, "POST", path, token, params={"amount": amount})
        assert refused.status_code == 400 and refused.json()["code"] == 100, amount
    sandbox.faults.update({"operation_garbage": True, "operation_delay": 0.3})
    started = time.monotonic()
    garbage = _api(sandbox.url, "POST", path, token)
    assert time.monotonic() - started >= 0.3
    assert garbage.status_code == 200 and "json" not in garbage.headers["Content-Type"]
    assert sandbox.transactions[-1].refunded == 0  # a fault answers instead of operating
    unknown = _api(sandbox.url, "POST", f"/operation/{tid}/destroy", token)
    assert unknown.status_code == 404
